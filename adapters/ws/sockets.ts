/**
 * The two WebSocket implementations behind one small shape (`RawSocket`): the `ws` package in Node
 * (pings, maxPayload, headers) and a browser-style WebSocket (global or injected). Event callbacks are
 * wired before the socket can fire anything; `close` arrives once per socket.
 */
import type { Connection, Frame } from '../../lib/transport.js';

export interface SocketEvents {
  open(): void;
  message(frame: Frame): void;
  close(code: number, reason: string): void;
  error(message: string): void;
  pong(): void;
}

export interface RawSocket {
  readonly kind: 'ws' | 'browser';
  send(frame: Frame): void;
  close(code: number, reason: string): void;
  terminate(): void;
  readonly bufferedAmount: number;
  ping?: () => void;
}

/**
 * A connection whose `bufferedAmount` reads its socket's at each use. A class, not an object literal with a getter:
 * V8 keeps a literal whose getter is a closure of its own in dictionary mode (no shape shared between connections),
 * and the engine reads `send` of every connection for every frame — a relay's every delivery (space-ports.ts).
 */
export class SocketConnection implements Connection {
  constructor(
    private readonly socket: { readonly bufferedAmount: number },
    readonly send: (frame: Frame) => void,
    readonly close: (code?: number, reason?: string) => void,
    readonly maxFrameBytes?: number,
  ) {}

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }
}

/** A RawSocket over `ws` (either implementation): a class for the reason SocketConnection is one. */
class Raw extends SocketConnection implements RawSocket {
  constructor(
    readonly kind: RawSocket['kind'],
    ws: { readonly bufferedAmount: number },
    send: (frame: Frame) => void,
    close: (code: number, reason: string) => void,
    readonly terminate: () => void,
    readonly ping?: () => void,
  ) {
    super(ws, send, close as (code?: number, reason?: string) => void);
  }
}

/**
 * What ws may buffer of one incoming message before it is whole: its fragments (continuation frames), and the socket's
 * chunks of one frame. Each costs some 135–185 bytes held however few bytes it brings: ws's defaults (16 384 fragments,
 * 262 144 chunks) let a frame sent a byte a write hold ~48 MiB a connection for 262 KiB sent, and 1-byte fragments
 * 2.2 MiB (test/security/fragments.test.ts). Honest senders send a message as one frame (browsers, adapters/ws), and
 * a frame of `maxPayload` read in chunks of 256 bytes or more on average — half the smallest segment an honest TCP path
 * carries (524 B of data: test/review/honest-chunks.test.ts), so a slow reader's split keeps twice its room: the bounds
 * leave that, and hold at most ~3 MiB (fragments: 140 KiB). Both ends take them: the relay's server, and every socket
 * opened here (a client's, a relay's cluster link: the server at the other end may be hostile too,
 * test/security/client-fragments.test.ts).
 */
export const MAX_FRAGMENTS = 1024;
export const maxBufferedChunks = (maxPayload: number): number => Math.max(1024, Math.ceil(maxPayload / 256));

/** ws's options bounding a message's pieces (above), for a socket or server of `maxPayload`. */
export function pieceBounds(maxPayload: number): { maxFragments: number; maxBufferedChunks: number } {
  return { maxFragments: MAX_FRAGMENTS, maxBufferedChunks: maxBufferedChunks(maxPayload) };
}

const encoder = new TextEncoder();

/** WebSocket close reasons are at most 123 bytes of UTF-8. */
export function clampReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason;
  let r = reason.slice(0, 120);
  while (encoder.encode(r + '…').length > 123) r = r.slice(0, -1);
  return r + '…';
}

/** Browsers only let a script close with 1000 or 3000–4999. */
export function normalizeCode(code: number, kind: RawSocket['kind']): number {
  if (kind === 'ws') return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999) ? code : 1000;
  return code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;
}

export function openBrowserSocket(Ctor: new (url: string) => WebSocket, url: string, on: SocketEvents): RawSocket {
  const ws = new Ctor(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => on.open();
  ws.onmessage = (e: MessageEvent) => {
    const d: unknown = e.data;
    if (typeof d === 'string') on.message(d);
    else if (d instanceof ArrayBuffer) on.message(new Uint8Array(d));
    else if (ArrayBuffer.isView(d)) on.message(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  };
  ws.onerror = () => on.error('WebSocket error');
  ws.onclose = (e: CloseEvent) => on.close(e.code, e.reason);
  return new Raw(
    'browser',
    ws,
    (frame) => ws.send(frame as string | Uint8Array<ArrayBuffer>),
    (code, reason) => ws.close(code, reason),
    () => ws.close(),
  );
}

export async function openNodeSocket(
  url: string,
  opts: { maxPayload: number; headers: Record<string, string> | undefined; handshakeTimeout: number },
  on: SocketEvents,
): Promise<RawSocket> {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(url, {
    maxPayload: opts.maxPayload,
    ...pieceBounds(opts.maxPayload),
    perMessageDeflate: false,
    handshakeTimeout: opts.handshakeTimeout,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  ws.binaryType = 'nodebuffer';
  ws.on('open', () => on.open());
  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
    on.message(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'));
  });
  ws.on('pong', () => on.pong());
  // A frame over maxPayload: ws closes with 1009 but its close event tells 1006 (no close frame came back); told as 1009.
  let over = false;
  ws.on('error', (e) => {
    if ((e as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') over = true;
    on.error(e.message);
  });
  ws.on('unexpected-response', (_req, res) => {
    on.error(`HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    ws.terminate();
  });
  ws.on('close', (code, reason) => on.close(over ? 1009 : code, over ? `maxFrameBytes ${opts.maxPayload}` : reason.toString()));
  return new Raw(
    'ws',
    ws,
    (frame) => ws.send(frame, { binary: typeof frame !== 'string' }),
    (code, reason) => ws.close(code, reason),
    () => ws.terminate(),
    () => ws.ping(),
  );
}
