import type { OwBus } from '../bus/bus.js';
import { MAX_PAYLOAD, MessageType, PATH_MAX, Ret } from '../protocol/constants.js';
import type { OwRequest } from '../protocol/request.js';
import { ResponseBuilder } from './response.js';

/** Types that need a path. */
const needsPath = new Set<number>([
  MessageType.READ,
  MessageType.WRITE,
  MessageType.DIR,
  MessageType.PRESENT,
  MessageType.DIRALL,
  MessageType.GET,
  MessageType.DIRALLSLASH,
  MessageType.GETSLASH,
]);

/** Types whose handlers refuse a payload of PATH_MAX bytes or more (owserver's read.c, dir.c, dirall.c). */
const payloadLimited = new Set<number>([
  MessageType.READ,
  MessageType.DIR,
  MessageType.DIRALL,
  MessageType.DIRALLSLASH,
  MessageType.GET,
  MessageType.GETSLASH,
]);

/**
 * Answer one request from the bus, exactly as owserver 3.2p4 does (reference §2, §4): every
 * message of the answer carries the request's `sg` with the persistence bit as decided.
 */
export async function executeRequest(request: OwRequest, bus: OwBus, keepOpen: boolean): Promise<Buffer> {
  const out = new ResponseBuilder(request.header.sg, keepOpen);
  const { header, flags } = request;
  const type = header.type;
  if (type === MessageType.NOP) return out.status(0).build();
  if (!needsPath.has(type)) return out.error(Ret.ENOMSG).build(); // ERROR, SIZE (obsolete), unknown
  if (request.parseError !== null) return out.error(request.parseError).build();
  const path = request.path;
  if (path === null) return out.error(Ret.EBADMSG).build();
  if (payloadLimited.has(type) && header.payload >= PATH_MAX) {
    // Checked after the path parses: an unknown path still answers its own error.
    const kind = await bus.stat(path, flags);
    return out.error(kind.ok ? Ret.EMSGSIZE : kind.error).build();
  }

  switch (type) {
    case MessageType.READ:
      return (await read(bus, request, path, header.size, out)).build();
    case MessageType.WRITE: {
      const result = await bus.write(path, request.data, flags);
      return (result.ok ? out.status(0, result.value) : out.error(result.error)).build();
    }
    case MessageType.DIR: {
      const result = await bus.dir(path, flags);
      if (!result.ok) return out.error(result.error).build();
      for (const entry of result.value.entries) out.text(entry.path);
      return out.status(0, 0, result.value.dirFlags).build();
    }
    case MessageType.PRESENT: {
      const result = await bus.present(path, flags);
      return (result.ok ? out.raw(result.value) : out.error(result.error)).build();
    }
    case MessageType.DIRALL:
    case MessageType.DIRALLSLASH:
      return (await dirAll(bus, request, path, type === MessageType.DIRALLSLASH, out)).build();
    case MessageType.GET:
    case MessageType.GETSLASH: {
      const kind = await bus.stat(path, flags);
      if (!kind.ok) return out.error(kind.error).build();
      if (kind.value === 'dir') return (await dirAll(bus, request, path, type === MessageType.GETSLASH, out)).build();
      return (await read(bus, request, path, header.size, out)).build(); // size 0 is refused (-90), as by owserver's ReadHandler
    }
    default:
      return out.error(Ret.ENOMSG).build();
  }
}

async function read(bus: OwBus, request: OwRequest, path: string, size: number, out: ResponseBuilder): Promise<ResponseBuilder> {
  if (size <= 0 || size > MAX_PAYLOAD) return out.error(Ret.EMSGSIZE);
  const result = await bus.read(path, request.flags);
  if (!result.ok) return out.error(result.error);
  const offset = request.header.offset;
  // Nothing to return (a negative offset, or one at or past the end) is ret 0 with the offset not
  // echoed: owserver fills in payload, size and offset only for a read of one byte or more.
  const bytes = offset < 0 ? result.value.subarray(0, 0) : result.value.subarray(offset, offset + size);
  return bytes.length === 0 ? out.status(0) : out.data(bytes, offset);
}

async function dirAll(bus: OwBus, request: OwRequest, path: string, slash: boolean, out: ResponseBuilder): Promise<ResponseBuilder> {
  const result = await bus.dir(path, request.flags);
  if (!result.ok) return out.error(result.error);
  const list = result.value.entries.map((e) => (slash && e.isDir ? `${e.path}/` : e.path)).join(',');
  return out.text(list, result.value.dirFlags);
}
