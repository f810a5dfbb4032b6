/**
 * A lock class (lockdep's idea): every mutex is created with a class name such as
 * 'owserver.bus' or 'conn.write-queue', and all instances of a class share ordering rules.
 */
export class LockClass {
  static readonly #byName = new Map<string, LockClass>();
  static #nextId = 1;
  readonly id: number;
  readonly name: string;

  private constructor(name: string) {
    this.id = LockClass.#nextId++;
    this.name = name;
  }

  /** The one class of this name (created on first use). */
  static for(name: string): LockClass {
    let lockClass = LockClass.#byName.get(name);
    if (lockClass === undefined) {
      lockClass = new LockClass(name);
      LockClass.#byName.set(name, lockClass);
    }
    return lockClass;
  }

  toString(): string {
    return this.name;
  }
}
