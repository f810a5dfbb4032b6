/**
 * The golden vectors of the owserver reference (shared/reference/owserver-vectors.json), captured from
 * the real owserver 3.2p4 on loopback, copied here verbatim (less the per-message breakdown, which is
 * derived from response_hex) so the tests do not depend on a path outside the repository.
 *
 * Server: owserver --fake=10.67C6697351FF,28.4AEC29CDBAAB,05.F2FBE3467CC2 -p 127.0.0.1:4304 --foreground
 * All integers big-endian int32. "request_hex" is a list of writes in order (~100 ms apart where
 * more than one). Fake device values (temperatures, PIO reads) are random per read; see "varies".
 */

export interface GoldenVector {
  readonly name: string;
  readonly description: string;
  readonly request_hex: readonly string[];
  readonly response_hex: string;
  readonly server_closed_connection: boolean;
  readonly varies: string;
}

export interface OwShellCapture {
  readonly command: string;
  readonly request_hex: string;
  readonly response_hex: string;
}

export const goldenVectors: readonly GoldenVector[] = [
  {
    "name": "read_temperature",
    "description": "READ (type 2) of /28.4AEC29CDBAAB/temperature, sg=0x10a (what owread sends), size=65536, non-persistent. Server answers one message and closes.",
    "request_hex": [
      "000000000000001d000000020000010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "000000000000000c0000000c0000010a0000000c00000000202020202032342e35323233",
    "server_closed_connection": true,
    "varies": "The 12 payload bytes (ASCII float, right-aligned, width 12) are random for fake devices; header (payload=12, ret=12, size=12) is stable."
  },
  {
    "name": "read_temperature_fahrenheit",
    "description": "READ with temperature-scale bits = 1 (Fahrenheit): sg=0x0001010a.",
    "request_hex": [
      "000000000000001d000000020001010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "000000000000000c0000000c0001010a0000000c0000000020202020203138392e373437",
    "server_closed_connection": true,
    "varies": "payload value random"
  },
  {
    "name": "read_offset_size",
    "description": "READ with size=5 offset=3: server returns at most size bytes starting at offset; response offset echoes request offset.",
    "request_hex": [
      "000000000000001d000000020000010a00000005000000032f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "0000000000000005000000050000010a0000000500000003202037342e",
    "server_closed_connection": true,
    "varies": "payload value random"
  },
  {
    "name": "dir_root",
    "description": "DIR (type 4) of \"/\" with sg=0x10a: one message per entry (payload = entry + NUL, size = strlen), then a terminating message with payload=0, size=0 and directory flags in offset (0x8002). Then close.",
    "request_hex": [
      "0000000000000002000000040000010a00000000000000002f00"
    ],
    "response_hex": "0000000000000011000000000000010a00000010000000002f31302e363743363639373335314646000000000000000011000000000000010a00000010000000002f32382e344145433239434442414142000000000000000011000000000000010a00000010000000002f30352e463246424533343637434332000000000000000007000000000000010a00000006000000002f6275732e3000000000000000000a000000000000010a00000009000000002f756e63616368656400000000000000000a000000000000010a00000009000000002f73657474696e6773000000000000000008000000000000010a00000007000000002f73797374656d00000000000000000c000000000000010a0000000b000000002f7374617469737469637300000000000000000b000000000000010a0000000a000000002f73747275637475726500000000000000000e000000000000010a0000000d000000002f73696d756c74616e656f7573000000000000000007000000000000010a00000006000000002f616c61726d000000000000000000000000000000010a0000000000008002",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "dir_root_sg0",
    "description": "DIR of \"/\" with sg=0 (no SHOULD_RETURN_BUS_LIST bit): only the devices are listed.",
    "request_hex": [
      "0000000000000002000000040000000000000000000000002f00"
    ],
    "response_hex": "0000000000000011000000000000000000000010000000002f31302e363743363639373335314646000000000000000011000000000000000000000010000000002f32382e344145433239434442414142000000000000000011000000000000000000000010000000002f30352e46324642453334363743433200000000000000000000000000000000000000000000008002",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "dirall_root",
    "description": "DIRALL (type 7) of \"/\": single message, comma-separated list, NUL-terminated (payload = size + 1), flags in offset.",
    "request_hex": [
      "0000000000000002000000070000010a00000000000000002f00"
    ],
    "response_hex": "0000000000000082000000000000010a00000081000080022f31302e3637433636393733353146462c2f32382e3441454332394344424141422c2f30352e4632464245333436374343322c2f6275732e302c2f756e6361636865642c2f73657474696e67732c2f73797374656d2c2f737461746973746963732c2f7374727563747572652c2f73696d756c74616e656f75732c2f616c61726d00",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "dirallslash_root",
    "description": "DIRALLSLASH (type 9) of \"/\": like DIRALL but directories get a trailing \"/\".",
    "request_hex": [
      "0000000000000002000000090000010a00000000000000002f00"
    ],
    "response_hex": "000000000000008d000000000000010a0000008c000080022f31302e3637433636393733353146462f2c2f32382e3441454332394344424141422f2c2f30352e4632464245333436374343322f2c2f6275732e302f2c2f756e6361636865642f2c2f73657474696e67732f2c2f73797374656d2f2c2f737461746973746963732f2c2f7374727563747572652f2c2f73696d756c74616e656f75732f2c2f616c61726d2f00",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "dirall_format_fi",
    "description": "DIRALL \"/\" with device-format byte (sg bits 24-31) = 1 (fi: no dot).",
    "request_hex": [
      "0000000000000002000000070100010a00000000000000002f00"
    ],
    "response_hex": "000000000000007f000000000100010a0000007e000080022f31303637433636393733353146462c2f32383441454332394344424141422c2f30354632464245333436374343322c2f6275732e302c2f756e6361636865642c2f73657474696e67732c2f73797374656d2c2f737461746973746963732c2f7374727563747572652c2f73696d756c74616e656f75732c2f616c61726d00",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "get_file",
    "description": "GET (type 8) on a property behaves like READ.",
    "request_hex": [
      "000000000000001d000000080000010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "000000000000000c0000000c0000010a0000000c000000002020202020322e3338343536",
    "server_closed_connection": true,
    "varies": "payload value random"
  },
  {
    "name": "get_dir",
    "description": "GET (type 8) on a directory behaves like DIRALL.",
    "request_hex": [
      "0000000000000011000000080000010a00000000000000002f30352e46324642453334363743433200"
    ],
    "response_hex": "000000000000011a000000000000010a00000119000000002f30352e4632464245333436374343322f50494f2c2f30352e4632464245333436374343322f616464726573732c2f30352e4632464245333436374343322f616c6961732c2f30352e4632464245333436374343322f637263382c2f30352e4632464245333436374343322f66616d696c792c2f30352e4632464245333436374343322f69642c2f30352e4632464245333436374343322f6c6f6361746f722c2f30352e4632464245333436374343322f725f616464726573732c2f30352e4632464245333436374343322f725f69642c2f30352e4632464245333436374343322f725f6c6f6361746f722c2f30352e4632464245333436374343322f73656e7365642c2f30352e4632464245333436374343322f7479706500",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "size_obsolete",
    "description": "SIZE (type 5) is no longer implemented: ret = -42 (ENOMSG), no payload.",
    "request_hex": [
      "000000000000001d000000050000010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "0000000000000000ffffffd60000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "nop",
    "description": "NOP (type 1), no payload: ret 0.",
    "request_hex": [
      "0000000000000000000000010000010a0000000000000000"
    ],
    "response_hex": "0000000000000000000000000000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "present_existing",
    "description": "PRESENT (type 6) of an existing device: ret 0, payload = 8-byte ROM id (family, 6 id bytes, crc8), size 0.",
    "request_hex": [
      "0000000000000011000000060000010a00000000000000002f32382e34414543323943444241414200"
    ],
    "response_hex": "0000000000000008000000000000010a0000000000000000284aec29cdbaab95",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "present_missing",
    "description": "PRESENT of a syntactically valid but absent device: ret = -1 (path parse failure), no payload.",
    "request_hex": [
      "0000000000000011000000060000010a00000000000000002f31302e30303030303030303030303000"
    ],
    "response_hex": "0000000000000000ffffffff0000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "write_pio",
    "description": "WRITE (type 3) \"1\" to /05.../PIO: payload = path+NUL+data, size = data length. Response ret 0, size = bytes written, payload 0.",
    "request_hex": [
      "0000000000000016000000030000010a00000001000000002f30352e4632464245333436374343322f50494f0031"
    ],
    "response_hex": "0000000000000000000000000000010a0000000100000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "write_settings",
    "description": "WRITE \"15\" to /settings/timeout/volatile (a deterministic writable property).",
    "request_hex": [
      "000000000000001d000000030000010a00000002000000002f73657474696e67732f74696d656f75742f766f6c6174696c65003135"
    ],
    "response_hex": "0000000000000000000000000000010a0000000200000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "read_settings",
    "description": "READ /settings/timeout/volatile after the write (deterministic value).",
    "request_hex": [
      "000000000000001b000000020000010a00010000000000002f73657474696e67732f74696d656f75742f766f6c6174696c6500"
    ],
    "response_hex": "000000000000000c0000000c0000010a0000000c00000000202020202020202020203135",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "persistent_read_then_second_request",
    "description": "Persistent: READ with sg=0x10e (persistence bit 0x04 set). Response sg has 0x04 (granted) and the server keeps the socket open; a second persistent request (DIRALL) 100 ms later on the same socket is answered; a third request without the bit is answered with bit cleared and then the server closes.",
    "request_hex": [
      "000000000000001d000000020000010e00010000000000002f32382e3441454332394344424141422f74656d706572617475726500",
      "0000000000000011000000070000010e00000000000000002f30352e46324642453334363743433200",
      "000000000000001b000000020000010a00010000000000002f73657474696e67732f74696d656f75742f766f6c6174696c6500"
    ],
    "response_hex": "000000000000000c0000000c0000010e0000000c00000000202020202038392e31323731000000000000011a000000000000010e00000119000000002f30352e4632464245333436374343322f50494f2c2f30352e4632464245333436374343322f616464726573732c2f30352e4632464245333436374343322f616c6961732c2f30352e4632464245333436374343322f637263382c2f30352e4632464245333436374343322f66616d696c792c2f30352e4632464245333436374343322f69642c2f30352e4632464245333436374343322f6c6f6361746f722c2f30352e4632464245333436374343322f725f616464726573732c2f30352e4632464245333436374343322f725f69642c2f30352e4632464245333436374343322f725f6c6f6361746f722c2f30352e4632464245333436374343322f73656e7365642c2f30352e4632464245333436374343322f7479706500000000000000000c0000000c0000010a0000000c00000000202020202020202020203135",
    "server_closed_connection": true,
    "varies": "first payload value random"
  },
  {
    "name": "persistent_nop_left_open",
    "description": "Persistent NOP: response sg 0x10e; server does not close (client closed after 1 s idle).",
    "request_hex": [
      "0000000000000000000000010000010e0000000000000000"
    ],
    "response_hex": "0000000000000000000000000000010e0000000000000000",
    "server_closed_connection": false,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_nonexistent_path",
    "description": "READ of /nonexist: ret = -1 (generic path-parse failure, not an errno), no payload.",
    "request_hex": [
      "000000000000000a000000020000010a00010000000000002f6e6f6e657869737400"
    ],
    "response_hex": "0000000000000000ffffffff0000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_read_directory",
    "description": "READ of a directory (device): ret = -21 (EISDIR).",
    "request_hex": [
      "0000000000000011000000020000010a00010000000000002f32382e34414543323943444241414200"
    ],
    "response_hex": "0000000000000000ffffffeb0000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_dirall_file",
    "description": "DIRALL of a property: ret = -20 (ENOTDIR).",
    "request_hex": [
      "000000000000001d000000070000010a00000000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "0000000000000000ffffffec0000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_write_readonly",
    "description": "WRITE to read-only temperature: ret = -95 (EOPNOTSUPP).",
    "request_hex": [
      "000000000000001e000000030000010a00000001000000002f32382e3441454332394344424141422f74656d70657261747572650031"
    ],
    "response_hex": "0000000000000000ffffffa10000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_read_size0",
    "description": "READ with size=0: ret = -90 (EMSGSIZE).",
    "request_hex": [
      "000000000000001d000000020000010a00000000000000002f32382e3441454332394344424141422f74656d706572617475726500"
    ],
    "response_hex": "0000000000000000ffffffa60000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_no_payload",
    "description": "READ with payload=0 (no path): ret = -74 (EBADMSG).",
    "request_hex": [
      "0000000000000000000000020000010a0001000000000000"
    ],
    "response_hex": "0000000000000000ffffffb60000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "error_unknown_type",
    "description": "Unknown message type 99: ret = -42 (ENOMSG).",
    "request_hex": [
      "0000000000000002000000630000010a00000000000000002f00"
    ],
    "response_hex": "0000000000000000ffffffd60000010a0000000000000000",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "bad_negative_payload",
    "description": "Header with payload=-5: server closes without sending anything.",
    "request_hex": [
      "00000000fffffffb000000020000010a0000006400000000"
    ],
    "response_hex": "",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "bad_oversized_payload",
    "description": "Header with payload=100051 (> 100050 max): server closes immediately without sending anything.",
    "request_hex": [
      "00000000000186d3000000020000010a0000006400000000"
    ],
    "response_hex": "",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "server_message_with_token",
    "description": "Version word 0x00010001 (server-message bit + 1 token): 16 token bytes follow the payload and are not counted in payload. Processed normally.",
    "request_hex": [
      "000100010000001b000000020000010a00010000000000002f73657474696e67732f74696d656f75742f766f6c6174696c6500abababababababababababababababab"
    ],
    "response_hex": "000000000000000c0000000c0000010a0000000c00000000202020202020202020203135",
    "server_closed_connection": true,
    "varies": "nothing (deterministic given the fixed fake device IDs)"
  },
  {
    "name": "ping_keepalive",
    "description": "Keep-alive \"ping\" captured from owserver --pingcrazy (one ping sent before the real answer): version 0, payload -1, all other fields 0, no body. Clients must skip any message with payload < 0. Followed here by the normal READ response.",
    "request_hex": [
      "000000000000001b000000020000010e00010000000000002f73657474696e67732f74696d656f75742f766f6c6174696c6500"
    ],
    "response_hex": "00000000ffffffff00000000000000000000000000000000000000000000000c0000000c0000010a0000000c00000000202020202020202020203135",
    "server_closed_connection": true,
    "varies": "nothing; note this capture was made with --no_persistence too, so the persistence bit is cleared in the answer"
  }
];

export const owshellCaptures: readonly OwShellCapture[] = [
  {
    "command": "owdir -s HOST:PORT /",
    "request_hex": "0000000000000002000000070000010a00000000000000002f00",
    "response_hex": "0000000000000082000000000000010a00000081000080022f31302e3637433636393733353146462c2f32382e3441454332394344424141422c2f30352e4632464245333436374343322c2f6275732e302c2f756e6361636865642c2f73657474696e67732c2f73797374656d2c2f737461746973746963732c2f7374727563747572652c2f73696d756c74616e656f75732c2f616c61726d00"
  },
  {
    "command": "owdir --dir -s HOST:PORT /",
    "request_hex": "0000000000000002000000090000010a00000000000000002f00",
    "response_hex": "000000000000008d000000000000010a0000008c000080022f31302e3637433636393733353146462f2c2f32382e3441454332394344424141422f2c2f30352e4632464245333436374343322f2c2f6275732e302f2c2f756e6361636865642f2c2f73657474696e67732f2c2f73797374656d2f2c2f737461746973746963732f2c2f7374727563747572652f2c2f73696d756c74616e656f75732f2c2f616c61726d2f00"
  },
  {
    "command": "owread -s HOST:PORT /28.4AEC29CDBAAB/temperature",
    "request_hex": "000000000000001d000000020000010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500",
    "response_hex": "000000000000000c0000000c0000010a0000000c00000000202020202039322e38393233"
  },
  {
    "command": "owwrite -s HOST:PORT /05.F2FBE3467CC2/PIO 1",
    "request_hex": "0000000000000016000000030000010a00000001000000002f30352e4632464245333436374343322f50494f0031",
    "response_hex": "0000000000000000000000000000010a0000000100000000"
  },
  {
    "command": "owpresent -s HOST:PORT /28.4AEC29CDBAAB",
    "request_hex": "0000000000000011000000060000010a00000000000000002f32382e34414543323943444241414200",
    "response_hex": "0000000000000008000000000000010a0000000000000000284aec29cdbaab95"
  },
  {
    "command": "owget -s HOST:PORT /28.4AEC29CDBAAB/temperature (1st connection: tries DIRALL)",
    "request_hex": "000000000000001d000000070000010a00000000000000002f32382e3441454332394344424141422f74656d706572617475726500",
    "response_hex": "0000000000000000ffffffec0000010a0000000000000000"
  },
  {
    "command": "owget ... (2nd connection: falls back to READ)",
    "request_hex": "000000000000001d000000020000010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500",
    "response_hex": "000000000000000c0000000c0000010a0000000c00000000202020202033362e32363736"
  },
  {
    "command": "owget -s HOST:PORT /",
    "request_hex": "0000000000000002000000070000010a00000000000000002f00",
    "response_hex": "0000000000000082000000000000010a00000081000080022f31302e3637433636393733353146462c2f32382e3441454332394344424141422c2f30352e4632464245333436374343322c2f6275732e302c2f756e6361636865642c2f73657474696e67732c2f73797374656d2c2f737461746973746963732c2f7374727563747572652c2f73696d756c74616e656f75732c2f616c61726d00"
  },
  {
    "command": "owread -F -s HOST:PORT /28.4AEC29CDBAAB/temperature",
    "request_hex": "000000000000001d000000020001010a00010000000000002f32382e3441454332394344424141422f74656d706572617475726500",
    "response_hex": "000000000000000c0000000c0001010a0000000c00000000202020202037322e30313831"
  }
];
