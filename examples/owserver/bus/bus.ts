/**
 * The 1-Wire bus as the owserver protocol layer sees it: five queries over owfs paths, each answered
 * with a value or owserver's own negative return code. The protocol server codes against this and
 * nothing else, so a simulated bus and a real adapter are interchangeable.
 */

export type TemperatureScale = 'C' | 'F' | 'K' | 'R';
export type PressureScale = 'mbar' | 'atm' | 'mmHg' | 'inHg' | 'psi' | 'Pa';
export type DeviceFormat = 'f.i' | 'fi' | 'f.i.c' | 'f.ic' | 'fi.c' | 'fic';

/** Decoded from the request's sg word by the server. */
export interface OwRequestFlags {
  readonly busList: boolean; // 0x02: root listing includes bus.0, settings, ...
  readonly alias: boolean; // 0x08
  readonly uncached: boolean; // 0x20
  readonly trim: boolean; // 0x40
  readonly temperatureScale: TemperatureScale;
  readonly pressureScale: PressureScale;
  readonly deviceFormat: DeviceFormat;
}

/** ok, or a negative owserver return code: -1 path parse failure (unknown path/absent device/unknown property), -20 ENOTDIR, -21 EISDIR, -95 EOPNOTSUPP (read-only), -22 EINVAL (bad value written), ... */
export type OwResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: number };

/** Full path as owserver prints it, e.g. "/10.67C6697351FF", "/bus.0/interface". */
export interface DirEntry {
  readonly path: string;
  readonly isDir: boolean;
}

export interface OwBus {
  /** 'dir' | 'file' for an existing path, or the error (-1 for unparsable/absent). Used for GET. */
  stat(path: string, flags: OwRequestFlags): Promise<OwResult<'dir' | 'file'>>;
  /** Listing with directory flags for the response's offset field (0x8002 on the fake bus for "/"). DIR of a file → -20. */
  dir(path: string, flags: OwRequestFlags): Promise<OwResult<{ readonly entries: readonly DirEntry[]; readonly dirFlags: number }>>;
  /** The whole formatted value (the server applies size/offset). READ of a directory/device → -21. */
  read(path: string, flags: OwRequestFlags): Promise<OwResult<Buffer>>;
  /** Bytes accepted. Read-only → -95. */
  write(path: string, data: Buffer, flags: OwRequestFlags): Promise<OwResult<number>>;
  /** 8-byte ROM id for a device path; 8 zero bytes for "/"; -1 if absent/unparsable. */
  present(path: string, flags: OwRequestFlags): Promise<OwResult<Buffer>>;
}

/** What a request with sg = 0 means. */
export const defaultRequestFlags: OwRequestFlags = Object.freeze({
  busList: false,
  alias: false,
  uncached: false,
  trim: false,
  temperatureScale: 'C',
  pressureScale: 'mbar',
  deviceFormat: 'f.i',
});
