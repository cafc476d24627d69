/**
 * `webSocketTransport(url, options)`: the engine's Transport over WebSocket. Each `open()` is one
 * connection; reconnecting (jittered backoff) is the Link's job, and so is asking for a fresh token on
 * every (re)connect — `token` is passed through untouched. The token goes in the hello, never the URL.
 *
 * Runtimes: in Node the `ws` package (imported lazily, so browser bundles never load it); elsewhere the
 * global `WebSocket`; or the constructor given as `options.WebSocket`. Frames are binary
 * (`binaryType = 'arraybuffer'`) and reach the engine as Uint8Array; text frames reach it as strings.
 *
 * Heartbeats (Node / `ws`): a ping every `heartbeatMs`; pongs feed a phi-accrual detector
 * (lib/membership/phi.ts), and when φ reaches `suspicionThreshold` (the relay has been silent far longer
 * than its pongs' usual rhythm) the socket is terminated and the link reconnects. Browsers expose no
 * ping: there the relay's pings (answered by the browser) detect dead clients, and a dead relay surfaces
 * as a socket error or close.
 *
 * Failover: `webSocketTransport([url1, url2, ...])` (or one URL of a cluster relay, which then tells the
 * client the others): every `open()` uses the current URL; when an open fails, or an open connection is
 * dropped by anything but our own close, the next `open()` (after the Link's jittered backoff) uses the
 * next URL. Relays of a cluster send the list of alive relays (cluster news); it replaces the fallbacks,
 * shuffled, with the relay in use first and the URLs given at creation kept last. Nothing queued is lost:
 * the engine streams from cursors, and a relay it holds no cursors for is repaired by anti-entropy.
 * `onClose` is called exactly once per opened connection.
 *
 * Prompt reconnects (browsers): the transport's `onWake` reports the window's `online` event and the page
 * becoming visible again, and the link waiting out its backoff reconnects at once (`wakeOnBrowserEvents`).
 */
import type { Connection, ConnectionHandlers, Frame, Transport } from '../../lib/transport.js';
import { CloseCode } from '../../lib/transport.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../lib/sync/link.js';
import { PhiDetector } from '../../lib/membership/phi.js';
import { clampReason, normalizeCode, openBrowserSocket, openNodeSocket, SocketConnection, type RawSocket, type SocketEvents } from './sockets.js';
import { browserWakeSignals } from './wake.js';

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
  /** φ at which a silent relay counts as dead (default 8: the pongs are late with odds of 1 in 10^8). */
  suspicionThreshold?: number;
  /** Learn the cluster's relays from the relay (cluster news) and fail over to them (default true). */
  learnRelays?: boolean;
  /** Largest frame either side may send (default 4 MiB); the engine splits its messages under it. */
  maxFrameBytes?: number;
  /** Give up opening after this many ms (default 10 000). */
  openTimeoutMs?: number;
  /** Node (`ws`) only: extra request headers, e.g. `{ Origin: 'https://app.example' }`. */
  headers?: Record<string, string>;
  /**
   * Reconnect at once, instead of waiting out the backoff, when the browser reports `online` or the page
   * becomes visible again (default true; nothing to listen to in Node).
   */
  wakeOnBrowserEvents?: boolean;
}

export interface WebSocketTransport extends Transport {
  /** The URL the next (or current) connection uses. */
  readonly url: string;
  /** Every URL this transport may use, the current one first. */
  readonly urls: readonly string[];
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function checkUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'ws:' || parsed.protocol === 'wss:';
  } catch {
    return false;
  }
}

export function webSocketTransport(urlOrUrls: string | readonly string[], options: WebSocketTransportOptions = {}): WebSocketTransport {
  const given = [...new Set(typeof urlOrUrls === 'string' ? [urlOrUrls] : urlOrUrls)];
  if (given.length === 0) throw new TypeError('webSocketTransport(urls): at least one URL');
  for (const u of given) if (!checkUrl(u)) throw new TypeError(`webSocketTransport(url): expected a ws: or wss: URL, got ${u}`);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;
  const threshold = options.suspicionThreshold ?? 8;
  /** Candidate URLs; `urls[0]` is the one in use. */
  let urls: string[] = [...given];
  const rotate = (from: string) => {
    if (urls[0] === from && urls.length > 1) urls = [...urls.slice(1), from];
  };

  const openSocket = (url: string, events: SocketEvents): Promise<RawSocket> => {
    if (options.WebSocket) return Promise.resolve(openBrowserSocket(options.WebSocket as WebSocketConstructor, url, events));
    if (isNode()) return openNodeSocket(url, { maxPayload: maxFrameBytes, headers: options.headers, handshakeTimeout: openTimeoutMs }, events);
    if (typeof WebSocket !== 'function') throw new Error('no WebSocket implementation: pass options.WebSocket');
    return Promise.resolve(openBrowserSocket(WebSocket, url, events));
  };

  return {
    get url() {
      return urls[0]!;
    },
    get urls() {
      return [...urls];
    },
    // Stable across failovers: the Link keeps the last peer under it (a guess it verifies in the hello).
    label: given[0]!,
    ...(options.token !== undefined ? { token: options.token } : {}),
    onWake(listener: () => void) {
      return options.wakeOnBrowserEvents === false ? () => {} : browserWakeSignals(listener);
    },
    relays(learned: readonly string[]) {
      if (options.learnRelays === false) return;
      const current = urls[0]!;
      const others = [...new Set(learned.filter((u) => u !== current && checkUrl(u)))];
      for (let i = others.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [others[i], others[j]] = [others[j]!, others[i]!];
      }
      urls = [...new Set([current, ...others, ...given])];
    },
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      const url = urls[0]!;
      let opened = false;
      let ended = false;
      let ourClose = false;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      const phi = new PhiDetector({ firstHeartbeatEstimate: heartbeatMs || 1, minStdDev: Math.max(1, heartbeatMs / 4), acceptableHeartbeatPause: heartbeatMs / 2 });
      let settle!: { resolve: () => void; reject: (e: Error) => void };
      const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      const end = (code: number, reason: string) => {
        if (ended) return;
        ended = true;
        if (heartbeat) clearInterval(heartbeat);
        if (!ourClose) rotate(url);
        if (opened) handlers.onClose(code, reason);
        else settle.reject(new Error(`could not open ${url}: ${reason || `closed with ${code}`}`));
      };
      const socket = await openSocket(url, {
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
        pong: () => phi.heartbeat(Date.now()),
      }).catch((e: unknown) => {
        rotate(url);
        throw e;
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
        phi.heartbeat(Date.now());
        heartbeat = setInterval(() => {
          if (!phi.isAvailable(Date.now(), threshold)) {
            socket.terminate();
            end(CloseCode.GOING_AWAY, 'heartbeat timeout: the relay stopped answering pings');
            return;
          }
          socket.ping!();
        }, heartbeatMs);
        (heartbeat as { unref?: () => void }).unref?.();
      }
      return new SocketConnection(
        socket,
        (frame: Frame) => {
          if (!ended) socket.send(frame);
        },
        (code = CloseCode.NORMAL, reason = '') => {
          if (ended) return;
          ourClose = true;
          socket.close(normalizeCode(code, socket.kind), clampReason(reason));
          end(code, reason);
        },
        maxFrameBytes,
      );
    },
  };
}
