/**
 * `webSocketTransport(url, options)`: the engine's Transport over WebSocket. Each `open()` is one
 * connection; reconnecting (jittered backoff) is the Link's job, and so is asking for a fresh token on
 * every (re)connect — `token` is passed through untouched. The token goes in the hello, never the URL.
 *
 * Runtimes: in Node the `ws` package (imported lazily, so browser bundles never load it); elsewhere the
 * global `WebSocket`; or the constructor given as `options.WebSocket`. Frames are binary
 * (`binaryType = 'arraybuffer'`) and reach the engine as Uint8Array; text frames reach it as strings.
 *
 * Heartbeats (Node / `ws`): a ping every `heartbeatMs`; if the previous ping got no pong, the socket is
 * terminated and the link reconnects. Browsers expose no ping: there the relay's pings (answered by the
 * browser) detect dead clients, and a dead relay surfaces as a socket error or close.
 * `onClose` is called exactly once per opened connection.
 */
import type { Connection, ConnectionHandlers, Frame, Transport } from '../../lib/transport.js';
import { CloseCode } from '../../lib/transport.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../lib/sync/link.js';
import { clampReason, normalizeCode, openBrowserSocket, openNodeSocket, type RawSocket, type SocketEvents } from './sockets.js';

/** A WebSocket constructor shaped like the browser's (the `ws` package's also fits). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface WebSocketTransportOptions {
  /** The credential for the hello: a string, or a (async) function asked on every (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** A WebSocket constructor to use instead of `ws` (Node) or the global one (browsers). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any browser-shaped constructor (the global one, ws, a test double)
  WebSocket?: WebSocketConstructor | (new (url: string, ...rest: any[]) => unknown);
  /** Ping period in ms (Node; default 15 000; 0 turns heartbeats off). */
  heartbeatMs?: number;
  /** Largest frame either side may send (default 4 MiB); the engine splits its messages under it. */
  maxFrameBytes?: number;
  /** Give up opening after this many ms (default 10 000). */
  openTimeoutMs?: number;
  /** Node (`ws`) only: extra request headers, e.g. `{ Origin: 'https://app.example' }`. */
  headers?: Record<string, string>;
}

export interface WebSocketTransport extends Transport {
  readonly url: string;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

export function webSocketTransport(url: string, options: WebSocketTransportOptions = {}): WebSocketTransport {
  const parsed = new URL(url);
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new TypeError(`webSocketTransport(url): expected a ws: or wss: URL, got ${url}`);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;

  const openSocket = (events: SocketEvents): Promise<RawSocket> => {
    if (options.WebSocket) return Promise.resolve(openBrowserSocket(options.WebSocket as WebSocketConstructor, url, events));
    if (isNode()) return openNodeSocket(url, { maxPayload: maxFrameBytes, headers: options.headers, handshakeTimeout: openTimeoutMs }, events);
    if (typeof WebSocket !== 'function') throw new Error('no WebSocket implementation: pass options.WebSocket');
    return Promise.resolve(openBrowserSocket(WebSocket, url, events));
  };

  return {
    url,
    label: url,
    ...(options.token !== undefined ? { token: options.token } : {}),
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      let opened = false;
      let ended = false;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      let awaitingPong = false;
      let settle!: { resolve: () => void; reject: (e: Error) => void };
      const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      const end = (code: number, reason: string) => {
        if (ended) return;
        ended = true;
        if (heartbeat) clearInterval(heartbeat);
        if (opened) handlers.onClose(code, reason);
        else settle.reject(new Error(`could not open ${url}: ${reason || `closed with ${code}`}`));
      };
      const socket = await openSocket({
        open: () => {
          opened = true;
          settle.resolve();
        },
        message: (frame: Frame) => {
          if (!ended) handlers.onMessage(frame);
        },
        close: end,
        error: (message) => {
          if (!opened) end(1006, message);
        },
        pong: () => (awaitingPong = false),
      });
      const timer = setTimeout(() => {
        if (!opened) {
          end(1006, `no connection within ${openTimeoutMs} ms`);
          socket.terminate();
        }
      }, openTimeoutMs);
      try {
        await ready;
      } finally {
        clearTimeout(timer);
      }
      if (socket.ping && heartbeatMs > 0) {
        heartbeat = setInterval(() => {
          if (awaitingPong) {
            socket.terminate();
            end(CloseCode.GOING_AWAY, 'heartbeat timeout: no pong from the relay');
            return;
          }
          awaitingPong = true;
          socket.ping!();
        }, heartbeatMs);
        (heartbeat as { unref?: () => void }).unref?.();
      }
      return {
        send(frame) {
          if (!ended) socket.send(frame);
        },
        close(code = CloseCode.NORMAL, reason = '') {
          if (ended) return;
          socket.close(normalizeCode(code, socket.kind), clampReason(reason));
          end(code, reason);
        },
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        maxFrameBytes,
      };
    },
  };
}
