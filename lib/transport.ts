/**
 * The transport port: how the sync engine reaches a peer. Transport-independent on purpose — the same
 * engine runs over in-memory pairs, WebSockets (`concord/ws`), BroadcastChannel, and the simulated network.
 *
 * A `Transport` opens `Connection`s; the engine opens one again after a drop, with jittered backoff, unless
 * the transport says it cannot reconnect. Frames are opaque to the transport (strings or bytes), delivered
 * in order, whole, at most once per `send`; a transport may drop a connection at any time.
 */

export type Frame = string | Uint8Array;

export interface ConnectionHandlers {
  /**
   * A frame arrived. The engine may return a promise that settles once the frame is handled (the return type
   * stays `void` so any handler fits): a transport that can stop reading (the relay's sockets) then does so
   * while too much input waits (backpressure).
   */
  onMessage(frame: Frame): void;
  /** The connection is gone (either side closed it, or it failed). Called once. */
  onClose(code: number, reason: string): void;
}

export interface Connection {
  send(frame: Frame): void;
  /** Closes with a WebSocket-style code (1000 normal, 1001 going away, 4xxx Concord's own) and a reason. */
  close(code?: number, reason?: string): void;
  /** Bytes accepted by `send` but not yet handed to the network; the engine slows down when it grows. */
  readonly bufferedAmount?: number;
  /** Largest frame the transport carries (bytes); the engine splits its messages under it. */
  readonly maxFrameBytes?: number;
}

export interface Transport {
  /** Opens a connection; resolves once it can carry frames. Rejects when the peer cannot be reached. */
  open(handlers: ConnectionHandlers): Promise<Connection>;
  /** The credential the engine sends in its first message: a string, or a function asked on every (re)connect. */
  readonly token?: string | (() => string | Promise<string>);
  /** False for transports that cannot be opened again after a drop (an in-memory pair). Default true. */
  readonly reconnect?: boolean;
  /** A short description for status and logs, e.g. the URL. */
  readonly label?: string;
  /**
   * The peer (a relay of a cluster) told us the addresses of the cluster's alive relays: a transport that
   * can fail over may use them for its next `open()`. Optional.
   */
  relays?(urls: readonly string[]): void;
}

/** Close codes used by Concord (4000–4999 are the application's range of WebSocket codes). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  AUTH_TIMEOUT: 4408,
  TOO_LARGE: 4413,
  VERSION_MISMATCH: 4426,
  /** The replicaId is bound to another principal (user) on this relay: take a new id and come back. */
  ID_CONFLICT: 4409,
  RATE_LIMITED: 4429,
  SLOW_CONSUMER: 4430,
  INTERNAL: 4500,
} as const;
