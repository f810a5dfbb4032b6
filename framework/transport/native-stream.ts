/**
 * Node's stream binding (`process.binding('stream_wrap')`): the request objects and the shared state
 * array its native stream handles report through — what `net.Socket` itself drives a TCP handle with
 * (lib/internal/stream_base_commons.js). Loaded once; null when this Node does not offer it (then
 * servers keep using `net.Socket`).
 */

/** A write request: libuv calls `oncomplete(status)` with `this` the request when an async write ends. */
export interface NativeWriteReq {
  handle: unknown;
  oncomplete: (this: never, status: number) => void;
  async: boolean;
}

/** A shutdown request: `oncomplete(status)` once the FIN is out (after every queued write). */
export interface NativeShutdownReq {
  handle: unknown;
  oncomplete: (this: never, status: number) => void;
}

/** The stream binding, as far as portico uses it. */
export interface NativeStreamBinding {
  readonly WriteWrap: new () => NativeWriteReq;
  readonly ShutdownWrap: new () => NativeShutdownReq;
  /** Shared with C++: the last read's byte count or (negative) libuv error; whether the last write went async. */
  readonly streamBaseState: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kLastWriteWasAsync: number;
}

/** libuv's end-of-stream code (UV_EOF, -4095 on every platform libuv supports). */
export const UV_EOF = -4095;
/** libuv's code for a request cancelled by closing its handle (UV_ECANCELED). */
export const UV_ECANCELED = -125;

let cached: NativeStreamBinding | null | undefined;
let why = '';

function load(): NativeStreamBinding | null {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') {
    why = 'process.binding is not available';
    return null;
  }
  let stream: Partial<NativeStreamBinding>;
  try {
    stream = binding.call(process, 'stream_wrap') as Partial<NativeStreamBinding>;
  } catch (error) {
    why = `process.binding('stream_wrap') failed: ${error instanceof Error ? error.message : String(error)}`;
    return null;
  }
  const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = stream;
  if (typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function' || !(streamBaseState instanceof Int32Array)) {
    why = "process.binding('stream_wrap') lacks WriteWrap, ShutdownWrap or streamBaseState";
    return null;
  }
  if (typeof kReadBytesOrError !== 'number' || typeof kLastWriteWasAsync !== 'number') {
    why = "process.binding('stream_wrap') lacks its state indices";
    return null;
  }
  return { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync };
}

/** The binding, or null (see `nativeStreamUnavailable` for why). */
export function nativeStream(): NativeStreamBinding | null {
  if (cached === undefined) cached = load();
  return cached;
}

/** Why `nativeStream()` is null ('' when it is not). */
export function nativeStreamUnavailable(): string {
  nativeStream();
  return why;
}

/** The methods of an accepted TCP handle (Node's TCPWrap) a `NativeTcpTransport` drives. */
export interface NativeStreamHandle {
  /** Must stay a function (Node asserts it): a closed transport leaves its function in place. */
  onread: (this: NativeStreamHandle) => Uint8Array | undefined;
  readonly writeQueueSize: number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: NativeWriteReq, data: Uint8Array): number;
  writev(req: NativeWriteReq, chunks: Uint8Array[], allBuffers: boolean): number;
  shutdown(req: NativeShutdownReq): number;
  close(onClose: () => void): void;
  reset(onClose: () => void): number;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
}

const streamMethods = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writev', 'shutdown', 'close', 'reset', 'getpeername', 'getsockname'] as const;

/** True when `handle` has every method a `NativeTcpTransport` calls. */
export function isNativeStreamHandle(handle: unknown): handle is NativeStreamHandle {
  if (typeof handle !== 'object' || handle === null) return false;
  const h = handle as Record<string, unknown>;
  return streamMethods.every((m) => typeof h[m] === 'function') && 'writeQueueSize' in h;
}
