/** Raw WebSocket peers for tests: exact frames in, exact close codes out. */
import { WebSocket } from 'ws';
import { randomId } from '../../lib/ids.js';
import { encodeMessage, MsgType, type SyncItem } from '../../lib/sync/messages.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';

export interface Closed {
  code: number;
  reason: string;
}

export interface RawPeer {
  ws: WebSocket;
  opened: Promise<void>;
  /** Resolves with the close code, or with { code: -status } when the upgrade was answered with HTTP status. */
  closed: Promise<Closed>;
  frames: Uint8Array[];
}

export function rawPeer(url: string, options: { headers?: Record<string, string>; maxPayload?: number } = {}): RawPeer {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: options.maxPayload ?? 64 * 1024 * 1024, ...(options.headers ? { headers: options.headers } : {}) });
  const frames: Uint8Array[] = [];
  let settled = false;
  const closed = new Promise<Closed>((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      settled = true;
      resolve({ code: -(res.statusCode ?? 0), reason: res.statusMessage ?? '' });
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      if (!settled) resolve({ code, reason: reason.toString() });
      settled = true;
    });
  });
  ws.on('error', () => {});
  ws.on('message', (d) => frames.push(new Uint8Array(d as Buffer)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    void closed.then((c) => reject(new Error(`closed before open: ${c.code}`)));
  });
  opened.catch(() => {});
  return { ws, opened, closed, frames };
}

export function item(space: string): SyncItem {
  return { space, cursorEpoch: '', cursorSeq: 0, top: 0, keys: 0 };
}

/** A valid hello from a fresh replica. */
export function helloFrame(token: string, spaces: SyncItem[] = []): Uint8Array {
  const epoch = randomId();
  return encodeMessage({ type: MsgType.Hello, versions: [...RAW_VERSIONS], replicaId: randomId(), epoch, top: 0, token, expect: '', history: [[epoch, 0]], spaces });
}

export function syncFrame(spaces: SyncItem[]): Uint8Array {
  return encodeMessage({ type: MsgType.Sync, spaces });
}
