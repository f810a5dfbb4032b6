/**
 * portico — a completion-driven (IOCP-style) socket server framework.
 * What users need and no more; everything else is internal (members marked internal are stripped from
 * the published declarations).
 */
export { ErrorCodes, PorticoError, type ErrorCode, type ErrorLayer, type PorticoErrorOptions } from './core/errors.js';
export { type Clock, systemClock, ManualClock } from './core/clock.js';
export {
  CompletionDispatcher,
  idleDispatchState,
  queuedCompletions,
  sharedDispatcher,
  defaultDispatcherOptions,
  type CompletionTarget,
  type Completion,
  type DispatcherOptions,
  type DispatcherStats,
} from './core/dispatcher.js';
export { TimerWheel, type TimerWheelOptions, type WheelTimer } from './core/timer-wheel.js';
export { BufferPool, type BufferPoolOptions, type BufferPoolStats } from './buffers/buffer-pool.js';
export { PooledBuffer } from './buffers/pooled-buffer.js';
export type { Transport, TransportSink, SocketEndpoint } from './transport/transport.js';
export { TcpTransport, type TcpReadMode } from './transport/tcp-transport.js';
export { NativeTcpTransport } from './transport/native-tcp-transport.js';
export { TlsTransport, type TlsServerTransportOptions, type TlsConnectTarget, type TlsSecureCallback } from './transport/tls-transport.js';
export { MemoryTransport, type MemoryTransportOptions } from './transport/memory-transport.js';
export { Connection, type ConnectionContext, type ConnectionStats, type HandlerSource, type WriteStatus } from './connection/connection.js';
export { defaultConnectionOptions, type ConnectionOptions, type ConnectionOptionsInput, type IdleTimeouts } from './connection/connection-options.js';
export { connectionStateTable, type ConnectionAction, type ConnectionEvent, type Lifecycle } from './connection/connection-state.js';
export type { ConnectionCallbacks, CloseReason, IdleKind } from './connection/callbacks.js';
export { Shut, type ShutFlag, type ShutdownStateView } from './connection/shutdown-state.js';
export { Server, type ServerOptions, type ServerCallbacks, type ServerStats, type StopResult } from './server/server.js';
export type { AcceptMode } from './server/accept-handles.js';
export {
  HandoffReceiver,
  handoffMessage,
  handleOf,
  isHandoffAck,
  isHandoffMessage,
  leftoverBuffers,
  type HandoffAck,
  type HandoffChannel,
  type HandoffMessage,
  type HandoffReceiverOptions,
  type HandoffStats,
} from './server/handoff.js';
export { connect, type ConnectOptions } from './server/connector.js';
export { AsyncMutex, type AsyncMutexOptions, type WithLockOptions } from './sync/async-mutex.js';
export { LockClass } from './sync/lock-class.js';
export { LockOrderDetector, processLockOrderDetector, type LockOrderDetectorOptions } from './sync/lock-order.js';
export { formatLockReport, lockReportJson, cycleNames, type LockOrderReport, type LockCycleEdge, type LockEdgeSite } from './sync/lock-report.js';
export { ByteQueue, type ByteQueueOptions, type ReadonlyByteQueue } from './framing/byte-queue.js';
export { ByteSlice } from './framing/byte-slice.js';
export { Framer, type FramerOptions } from './framing/framer.js';
export { LengthPrefixedFramer, type LengthPrefixedFramerOptions } from './framing/length-prefixed-framer.js';
export { DelimiterFramer, type DelimiterFramerOptions } from './framing/delimiter-framer.js';
export { httpErrorStatus, type HttpErrorStatus } from './http/http-errors.js';
export { DEFAULT_REQUEST_SINGLETONS, DEFAULT_RESPONSE_SINGLETONS, type FieldLine, type HttpFields } from './http/head-fields.js';
export {
  RequestHeadParser,
  type RequestHead,
  type RequestHeadParserOptions,
  type RequestHeadResult,
  type HttpVersion,
} from './http/request-head-parser.js';
export { ResponseHeadParser, type ResponseHead, type ResponseHeadParserOptions, type ResponseHeadResult } from './http/response-head-parser.js';
export { formatResponseHead, formatRequestHead, formatErrorResponse, statusText, type HeaderPair } from './http/head-writer.js';
export { WEBSOCKET_GUID, isWebSocketKey, websocketAccept } from './websocket/accept-key.js';
export { parseExtensions, formatExtensions, type ExtensionOffer, type ExtensionParam } from './websocket/extensions.js';
export {
  validateUpgrade,
  formatAcceptResponse,
  formatRejectResponse,
  SUPPORTED_VERSIONS,
  type WebSocketVersion,
  type HandshakeOptions,
  type AcceptedHandshake,
  type HandshakeRejectStatus,
  type HandshakeRejection,
  type HandshakeResult,
  type AcceptResponseOptions,
} from './websocket/handshake.js';
export {
  buildClientUpgrade,
  checkUpgradeResponse,
  type ClientUpgradeOptions,
  type ClientUpgrade,
  type UpgradeResponseCheck,
} from './websocket/client-handshake.js';
export { Opcode, isControlOpcode, isDefinedOpcode, MAX_CONTROL_PAYLOAD } from './websocket/opcodes.js';
export { unmaskInPlace, maskInto } from './websocket/masking.js';
export { FrameParser, FrameEvent, type FrameParserOptions, type WebSocketRole } from './websocket/frame-parser.js';
export { Utf8Validator, isValidUtf8 } from './websocket/utf8-validator.js';
export {
  CloseCodes,
  MAX_CLOSE_REASON_BYTES,
  isValidCloseCode,
  decodeClosePayload,
  encodeClosePayload,
  type CloseFrameInfo,
} from './websocket/close-frame.js';
export type { WebSocketCallbacks } from './websocket/callbacks.js';
export {
  WebSocketReceiver,
  DEFAULT_MAX_MESSAGE_BYTES,
  type WebSocketReceiverOptions,
  type WebSocketReceiverState,
} from './websocket/receiver.js';
export {
  FrameWriter,
  PreparedFrame,
  encodeFrameHeader,
  frameHeaderSize,
  randomMaskKey,
  type FrameHeaderOptions,
  type FrameWriterOptions,
  type MaskKeySource,
  type MessageFrameOptions,
} from './websocket/frame-writer.js';
export { WebSocket, type WebSocketState, type SendResult, type WebSocketStats } from './websocket/websocket.js';
export type { WebSocketHandler, WebSocketRoute, WebSocketServerOptions } from './websocket/websocket-handler.js';
export type { SlowConsumerPolicy, WebSocketSocketOptions } from './websocket/socket-options.js';
export { webSocketServer } from './websocket/websocket-server.js';
export { broadcast, prepareMessage, type BroadcastResult } from './websocket/broadcast.js';
export {
  PERMESSAGE_DEFLATE,
  negotiatePerMessageDeflate,
  parseDeflateOffer,
  type DeflateOffer,
  resolvePerMessageDeflateOptions,
  type DeflateAgreement,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
  type ResolvedPerMessageDeflateOptions,
} from './websocket/permessage-deflate.js';
export { ZlibGate, sharedZlibGate, type ZlibGateStats } from './websocket/zlib-gate.js';
export {
  ZlibMessageStream,
  DEFLATE_TAIL,
  openZlibContexts,
  type MessageJobDone,
  type PostCompletion,
  type ZlibMessageStreamOptions,
} from './websocket/zlib-message-stream.js';
export { connectWebSocket, type WebSocketClientOptions } from './websocket/websocket-client.js';
export { NEED_MORE, DONE, WAIT, type HandshakeStep, type HandshakeContext, type HandshakeHandler } from './layers/handshake.js';
export type { HandshakeOutcome } from './layers/layer-stack.js';
export { SourceRanges } from './layers/source-ranges.js';
export { tcpRules, type TcpRulesOptions, type TcpRulesStats, type TcpRulesHandler } from './layers/tcp-rules.js';
export { healthCheck, type HealthCheckOptions } from './layers/health-check.js';
export type { ProxyInfo, ProxyTlv, ProxySslInfo, ProxyAddressKind } from './layers/proxy-protocol/proxy-info.js';
export { acceptProxy, type AcceptProxyOptions } from './layers/accept-proxy.js';
export { sendProxy, type SendProxyOptions } from './layers/send-proxy.js';
export { parseProxyHeader, DEFAULT_MAX_V2_LENGTH, type ProxyParseOptions, type ProxyParseResult } from './layers/proxy-protocol/parse-proxy-header.js';
export { encodeProxyHeaderV1, encodeProxyHeaderV2, type ProxyHeaderInput, type ProxyHeaderV2Input } from './layers/proxy-protocol/encode-proxy-header.js';
export { tlsHandshake, tlsClientHandshake, type TlsHandshakeOptions, type TlsClientHandshakeOptions } from './layers/tls-handshake.js';
