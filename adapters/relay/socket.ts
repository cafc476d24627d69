/**
 * One accepted WebSocket, adapted to the engine's `Connection` and served by `replica.accept`.
 *
 * Invariants:
 * - Frames go to the engine in order, as Uint8Array (binary) or string (text, which the engine refuses).
 * - The peer must complete its hello (authenticated) within `helloTimeoutMs`, else close 4408.
 * - Each inbound frame spends the connection's rate budget; over budget closes 4429 (the frame is dropped).
 * - Outbound: when `bufferedAmount` stays above `highWaterBytes` for `slowConsumerMs`, close 4430: a slow
 *   consumer never makes the relay buffer without bound; it catches up from its cursor when it comes back.
 *   (The engine's ack window already bounds what one session has in flight; this is the backstop.)
 * - Liveness: the relay pings every `heartbeatMs`; a socket that did not answer the previous ping is
 *   terminated (a dead peer holds no resources for long).
 * - A peer that authenticated as a relay of the cluster (relay token signed with the cluster secret, never
 *   a client token: relay.ts) carries every client's traffic of another relay: no per-connection rate limit
 *   applies to it, and it gets no replication counts.
 * - Expiry: once authenticated with a token that expires, a timer closes the connection (4401) at that
 *   instant, whether or not the peer sends anything: an expired token stops receiving too.
 * - Inbound backpressure: the engine's `onMessage` may return a promise that settles once the frame is
 *   handled. While frames whose promises have not settled hold more than `maxInboundBytes`, the socket is
 *   paused (nothing more is read; TCP flow control pushes back on the peer) and resumed below half of it.
 *   An engine that returns nothing is taken to have handled each frame at once.
 * - Spaces: a client connection may name at most `maxSpaces` distinct spaces (hello and SYNC items, read
 *   here before the engine sees them); one more closes it 4403 with the reason. Relay peers: no cap.
 * Every close goes through the session, so the engine forgets the connection at once.
 */
import type { WebSocket } from 'ws';
import type { Replica } from '../../lib/replica.js';
import type { PresenceBudget } from '../../lib/sync/presence-holds.js';
import type { Grants } from '../../lib/sync/session.js';
import { ConcordError } from '../../lib/errors.js';
import { decodeMessage, MsgType } from '../../lib/sync/messages.js';
import { CloseCode, type Connection, type Frame } from '../../lib/transport.js';
import { clampReason, SocketConnection } from '../ws/sockets.js';
import { ConnectionLimiter, type RateLimit } from './limits.js';
import type { Logger } from './log.js';
import { closeReason, type RelayMetrics } from './metrics.js';

export interface SocketPolicy {
  helloTimeoutMs: number;
  heartbeatMs: number;
  highWaterBytes: number;
  slowConsumerMs: number;
  maxPayload: number;
  rateLimit: RateLimit | false;
  /** Bytes of inbound frames the engine may hold unhandled before the socket stops reading (0 = no limit). */
  maxInboundBytes: number;
  /** Distinct spaces a client (not a relay peer) may name in its hello and sync messages. */
  maxSpaces: number;
}

export interface SocketContext {
  replica: Replica;
  /** `relay: true` in the grants marks a relay of the cluster (see the header). */
  authenticate: (token: string, peerId: string) => (Grants & { relay?: boolean }) | Promise<Grants & { relay?: boolean }>;
  metrics: RelayMetrics;
  log: Logger;
  policy: SocketPolicy;
  now: () => number;
  /** The peer's changes in `space` up to its seq `upTo` are stored at our log seq `localSeq` (cluster counts). */
  onStored?: (socket: ServedSocket, space: string, upTo: number, localSeq: number, keys?: readonly string[]) => void;
  /** The peer's hello was authenticated (it no longer counts as an unauthenticated socket). */
  onAuthenticated?: () => void;
  /** What the client's presence may make the relay hold (its connection, principal and IP). */
  presenceBudget?: PresenceBudget;
}

/** A served socket, as the relay's sweeper and shutdown see it. */
export interface ServedSocket {
  /** Periodic (about every second): the slow-consumer check. */
  sweep(now: number): void;
  /** Every `heartbeatMs`: terminate if the last ping went unanswered, else ping. */
  heartbeat(): void;
  /** Closes through the session (shutdown: 1001). */
  close(code: number, reason: string): void;
  /** Drops the socket without a close handshake (shutdown, after a grace period). */
  terminate(): void;
  /** Sends cluster news (JSON) to the peer, after the hellos. */
  sendCluster(json: string): void;
  readonly closed: Promise<void>;
  /** Bytes of inbound frames the engine has not finished handling; whether reading is paused for it. */
  readonly inbound: { readonly bytes: number; readonly paused: boolean };
}

/** setTimeout's longest delay (about 24.8 days); a later expiry re-arms the timer when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;


function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) data = Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * `frame` as a Buffer, which ws sends as it is (a Uint8Array it wraps in a Buffer of its own per send). The one made
 * last is kept: a relay's fan-out hands one frame to every link in turn (live-shared.ts), so it is wrapped once.
 * Frames are never written after they were handed over (ws may queue them), so the view stays the frame's bytes.
 */
let lastFrame: Uint8Array | undefined;
let lastBuffer: Buffer | undefined;
function asBuffer(frame: Uint8Array): Buffer {
  if (frame !== lastFrame) {
    lastFrame = frame;
    lastBuffer = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  }
  return lastBuffer!;
}

/** The longest binary frame written as one WebSocket frame made here (its bytes copied once); longer ones go through ws. */
const WHOLE_MAX = 0xffff;
let lastWhole: Uint8Array | undefined;
let lastWholeBytes: Buffer | undefined;
/**
 * `frame` (at most WHOLE_MAX bytes) as one WebSocket frame, header and bytes in one buffer, as a server sends it (RFC 6455
 * 5.2: FIN, binary, unmasked; the length in 7 bits, else 16) — the bytes ws's sender makes of it. The one made last is
 * kept: a relay's fan-out hands one frame to every link in turn (live-shared.ts), so it is framed once for all.
 */
function wholeFrame(frame: Uint8Array): Buffer {
  if (frame !== lastWhole) {
    const n = frame.byteLength;
    const head = n < 126 ? 2 : 4;
    const out = Buffer.allocUnsafe(head + n);
    out[0] = 0x82;
    if (n < 126) out[1] = n;
    else {
      out[1] = 126;
      out.writeUInt16BE(n, 2);
    }
    out.set(frame, head);
    lastWhole = frame;
    lastWholeBytes = out;
  }
  return lastWholeBytes!;
}

/** What of a ws socket the direct write reads (ws 8's own fields; any other shape sends through ws). */
interface WsInside {
  _socket?: { write(bytes: Buffer): boolean } | null;
  _sender?: { _state?: unknown; _firstFragment?: unknown } | null;
  _extensions?: Record<string, unknown>;
}

/**
 * The socket under `ws` where ws would write a frame at once, as it is: its sender idle (nothing queued behind a
 * compression or a Blob read: `_state` DEFAULT), no fragmented message open, no compression negotiated (the relay offers
 * none). Else undefined: the frame goes through ws.send. ws's sender frames each send anew — a header buffer, a corked
 * pair of writes and a writev, the stream's queue entries with them (~0.6 KB allocated a send) — for the same frame on
 * every link of a fan-out; one write of the frame made once (wholeFrame) puts the same bytes on the wire.
 */
function idleSocket(ws: WebSocket): WsInside['_socket'] {
  const w = ws as unknown as WsInside;
  const sender = w._sender;
  if (!sender || sender._state !== 0 || sender._firstFragment !== true || !w._extensions || w._extensions['permessage-deflate'] !== undefined) return undefined;
  return w._socket;
}

export function serveSocket(ws: WebSocket, remote: string, ctx: SocketContext): ServedSocket {
  const { metrics, policy, log } = ctx;
  let limiter = policy.rateLimit ? new ConnectionLimiter(policy.rateLimit, ctx.now()) : undefined;
  let relayPeer = false;
  let open = true;
  let awaitingPong = false;
  let slowSince: number | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let inboundBytes = 0;
  let paused = false;
  let authenticated = false;
  const spaces = new Set<string>();
  const tooManySpaces = () => `too many spaces on one connection (limit ${policy.maxSpaces}): sync fewer at once`;

  // A class instance, not a literal with a getter (SocketConnection: the engine reads `send` per frame).
  const connection: Connection = new SocketConnection(
    ws,
    (frame: Frame) => {
      if (!open || ws.readyState !== ws.OPEN) return;
      const bytes = typeof frame === 'string' ? frame.length : frame.byteLength;
      metrics.outbound(frame, bytes);
      if (typeof frame === 'string') ws.send(frame); // ws sends a string as text, bytes as binary
      else {
        const socket = bytes <= WHOLE_MAX ? idleSocket(ws) : undefined;
        if (socket) socket.write(wholeFrame(frame));
        else ws.send(asBuffer(frame));
      }
      if (slowSince === undefined && ws.bufferedAmount > policy.highWaterBytes) slowSince = ctx.now();
    },
    (code = CloseCode.NORMAL, reason = '') => {
      if (!open) return;
      open = false;
      const label = closeReason(code);
      if (label) metrics.errors.inc({ reason: label });
      if (code >= 4000) log('info', 'closing connection', { remote, code, reason });
      try {
        ws.close(code, clampReason(reason));
      } catch {
        ws.terminate();
      }
    },
    policy.maxPayload,
  );

  let served: ServedSocket | undefined;
  const onStored = ctx.onStored;
  const handlers = ctx.replica.accept(connection, {
    authenticate: async (token, peerId) => {
      const grants = await ctx.authenticate(token, peerId);
      if (grants.relay) {
        relayPeer = true;
        limiter = undefined;
      }
      if (!relayPeer && spaces.size > policy.maxSpaces) throw new ConcordError('FORBIDDEN', tooManySpaces());
      if (grants.expiresAt !== undefined) armExpiry(grants.expiresAt);
      authenticated = true;
      ctx.onAuthenticated?.();
      return grants;
    },
    maxFrameBytes: policy.maxPayload,
    ...(ctx.presenceBudget ? { presenceBudget: ctx.presenceBudget } : {}),
    ...(onStored ? { onStored: (space: string, upTo: number, localSeq: number, keys?: readonly string[]) => served && !relayPeer && onStored(served, space, upTo, localSeq, keys) } : {}),
  });
  metrics.connections.inc();
  metrics.connectionsTotal.inc();

  function armExpiry(at: number): void {
    clearTimeout(expiryTimer);
    const delay = at - ctx.now();
    expiryTimer = setTimeout(
      () => {
        if (!open) return;
        if (ctx.now() < at) return armExpiry(at);
        handlers.session.close(CloseCode.UNAUTHORIZED, 'token expired: reconnect with a fresh token');
      },
      Math.max(0, Math.min(MAX_TIMER_MS, delay + 1)),
    );
    expiryTimer.unref();
  }

  /** Adds the spaces a hello or SYNC names; true when an authenticated client went over the cap. */
  function countSpaces(frame: Uint8Array): boolean {
    if (spaces.size > policy.maxSpaces) return authenticated;
    try {
      const m = decodeMessage(frame, { maxValueBytes: 0 });
      if (m.type !== MsgType.Hello && m.type !== MsgType.Sync) return false;
      for (const item of m.spaces) {
        spaces.add(item.space);
        if (spaces.size > policy.maxSpaces) break;
      }
    } catch {
      return false; // malformed: the engine refuses it with its own reason
    }
    // Before authentication the hello's check happens in `authenticate` (a relay peer has no cap).
    return authenticated && spaces.size > policy.maxSpaces;
  }

  const settle = (bytes: number) => {
    inboundBytes -= bytes;
    if (paused && inboundBytes <= policy.maxInboundBytes / 2) {
      paused = false;
      if (open) ws.resume();
    }
  };

  const helloTimer = setTimeout(() => {
    if (open && handlers.session.peerId === undefined) {
      handlers.session.close(CloseCode.AUTH_TIMEOUT, `no hello within ${policy.helloTimeoutMs} ms`);
    }
  }, policy.helloTimeoutMs);
  helloTimer.unref();

  ws.on('message', (data, isBinary) => {
    if (!open) return;
    const frame: Frame = isBinary ? toBytes(data) : Buffer.isBuffer(data) ? data.toString('utf8') : toBytes(data).toString();
    const bytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    metrics.inbound(frame, bytes);
    if (limiter && !limiter.admit(bytes, ctx.now())) {
      handlers.session.close(CloseCode.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    if (!relayPeer && typeof frame !== 'string' && (frame[0] === MsgType.Hello || frame[0] === MsgType.Sync) && countSpaces(frame)) {
      handlers.session.close(CloseCode.FORBIDDEN, tooManySpaces());
      return;
    }
    const handled = handlers.onMessage(frame) as unknown as PromiseLike<void> | undefined;
    if (policy.maxInboundBytes > 0 && handled && typeof handled.then === 'function') {
      inboundBytes += bytes;
      if (!paused && inboundBytes > policy.maxInboundBytes) {
        paused = true;
        ws.pause();
      }
      handled.then(
        () => settle(bytes),
        () => settle(bytes),
      );
    }
  });
  ws.on('pong', () => (awaitingPong = false));
  ws.on('error', (e) => {
    // ws reports protocol violations (bad framing, oversized frames) here, then closes the socket.
    log('info', 'socket error', { remote, error: e.message });
  });
  ws.on('close', (code, reason) => {
    clearTimeout(helloTimer);
    clearTimeout(expiryTimer);
    if (open) {
      open = false;
      const label = closeReason(code);
      if (label) metrics.errors.inc({ reason: label });
    }
    metrics.closes.inc({ code: String(code) });
    metrics.connections.dec();
    handlers.onClose(code, reason.toString());
    resolveClosed();
  });

  served = {
    closed,
    inbound: {
      get bytes() {
        return inboundBytes;
      },
      get paused() {
        return paused;
      },
    },
    sendCluster(json) {
      handlers.session.sendCluster(json);
    },
    heartbeat() {
      if (!open) return;
      if (awaitingPong) {
        log('info', 'heartbeat timeout', { remote });
        open = false;
        ws.terminate();
        return;
      }
      awaitingPong = true;
      ws.ping();
    },
    sweep(now) {
      if (!open) return;
      if (ws.bufferedAmount <= policy.highWaterBytes) slowSince = undefined;
      else if (slowSince === undefined) slowSince = now;
      else if (now - slowSince >= policy.slowConsumerMs) {
        // Nothing more is queued for it; the close frame follows what is buffered, and ws terminates the
        // socket if the close handshake does not complete within its own timeout (30 s).
        handlers.session.close(CloseCode.SLOW_CONSUMER, 'slow consumer: too much data buffered for too long; reconnect to catch up');
      }
    },
    close(code, reason) {
      if (open) handlers.session.close(code, reason);
    },
    terminate() {
      ws.terminate();
    },
  };
  return served;
}
