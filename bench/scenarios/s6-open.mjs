/**
 * S6 — open a replica of 100 000 keys from file storage: time until a `get` answers (target: ≤ ½ of
 * Yjs's load time, `Y.applyUpdate` of its saved state holding the same keys in a Y.Map, same run).
 *
 * Concord is measured three ways: as left by writing the keys with default settings (a snapshot plus the
 * log written since; the usual state), from a fresh snapshot only (after compaction), and from the log
 * alone (compaction disabled: every frame head is replayed; the worst case). Each measurement
 * is a fresh `openReplica({ storage: fileStorage(dir) })` + `space.get` of one key, then close; the files
 * are in the page cache (warm), as Yjs's update is in memory. Median of several rounds, interleaved.
 * Data: key `k<i>`, value `{ title: 'item <i>', done: i % 2 === 0, n: i }`.
 * Time until the first sync message is sent: a fresh open (default settings) that connects at once, through
 * a transport that opens immediately and answers nothing; measured until the engine hands it its first frame
 * (the hello). The IndexedDB half of S6 runs in S5's page.
 * Run alone: `node bench/scenarios/s6-open.mjs [--quick]` (after `npm run build`).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import { openReplica } from 'concord';
import { fileStorage } from 'concord/fs';
import { rowMaker } from '../lib/row.mjs';

export const id = 'S6';
export const title = 'open a replica of 100 000 keys: time until a get answers, until the first sync message';
const row = rowMaker(id);

const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

async function buildConcord(dir, n, options) {
  const replica = await openReplica({ storage: fileStorage(dir, options) });
  const space = replica.space('bench');
  const batch = [];
  for (let i = 0; i < n; i++) batch.push(space.put(`k${i}`, value(i)));
  await Promise.all(batch);
  await replica.close();
}

async function compact(dir) {
  const storage = fileStorage(dir);
  await storage.open();
  await storage.compactNow();
  await storage.close();
}

async function openConcord(dir, key) {
  const t0 = performance.now();
  const replica = await openReplica({ storage: fileStorage(dir) });
  const got = await replica.space('bench').get(key);
  const ms = performance.now() - t0;
  if (!got) throw new Error(`S6: ${key} missing`);
  await replica.close();
  return ms;
}

/** ms from the start of openReplica until the engine sends its first frame to a peer that never answers. */
async function firstSyncMessage(dir) {
  let sent;
  const first = new Promise((resolve) => (sent = resolve));
  const probe = {
    label: 'probe',
    reconnect: false,
    async open(handlers) {
      let closed = false;
      return {
        send: () => sent(performance.now()),
        close(code = 1000, reason = '') {
          if (closed) return;
          closed = true;
          queueMicrotask(() => handlers.onClose(code, reason));
        },
      };
    },
  };
  const t0 = performance.now();
  const replica = await openReplica({ storage: fileStorage(dir) });
  replica.space('bench');
  const link = replica.connect(probe, { antiEntropyInterval: 0 });
  const at = await first;
  link.close();
  await replica.close();
  return at - t0;
}

function buildYjs(n) {
  const doc = new Y.Doc();
  const map = doc.getMap('bench');
  doc.transact(() => {
    for (let i = 0; i < n; i++) map.set(`k${i}`, value(i));
  });
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

function openYjs(update, key) {
  const t0 = performance.now();
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  const got = doc.getMap('bench').get(key);
  const ms = performance.now() - t0;
  if (!got) throw new Error(`S6: yjs ${key} missing`);
  doc.destroy();
  return ms;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

export async function run({ quick = false } = {}) {
  const n = quick ? 10_000 : 100_000;
  const rounds = quick ? 3 : 5;
  const base = await mkdtemp(join(tmpdir(), 'concord-s6-'));
  try {
    const logDir = join(base, 'log');
    const snapDir = join(base, 'snap');
    const defDir = join(base, 'default');
    await buildConcord(defDir, n, {});
    await buildConcord(logDir, n, { compactMinBytes: Number.MAX_SAFE_INTEGER });
    await cp(logDir, snapDir, { recursive: true, filter: (src) => !src.endsWith('LOCK') });
    await compact(snapDir);
    const update = buildYjs(n);
    const key = `k${Math.floor(n / 2)}`;
    const snap = [];
    const log = [];
    const def = [];
    const sync = [];
    const yjs = [];
    await openConcord(snapDir, key); // warm-up
    await firstSyncMessage(defDir);
    openYjs(update, key);
    for (let r = 0; r < rounds; r++) {
      yjs.push(openYjs(update, key));
      def.push(await openConcord(defDir, key));
      sync.push(await firstSyncMessage(defDir));
      snap.push(await openConcord(snapDir, key));
      log.push(await openConcord(logDir, key));
    }
    const y = median(yjs);
    const s = median(snap);
    const l = median(log);
    const d = median(def);
    const m = median(sync);
    const peers = { yjs: Number(y.toFixed(1)) };
    const half = { atMost: 0.5, of: 'yjs' };
    return {
      rows: [
        row({ case: `open ${n} keys as written (default settings), until get answers`, metric: 'ms', higherIsBetter: false, concord: Number(d.toFixed(1)), peers, note: `Yjs: Y.applyUpdate of its saved state + get (target ≤ 0.5×); snapshot + log tail; median of ${rounds}`, target: half }),
        row({ case: `open ${n} keys as written, until the first sync message is sent`, metric: 'ms', higherIsBetter: false, concord: Number(m.toFixed(1)), peers, note: `connect right after open, to a peer that never answers; the first frame is the hello (target ≤ 0.5× Yjs's load); median of ${rounds}`, target: half }),
        row({ case: `open ${n} keys from a snapshot, until get answers`, metric: 'ms', higherIsBetter: false, concord: Number(s.toFixed(1)), peers, note: `after compaction; median of ${rounds}` }),
        row({ case: `open ${n} keys from the log only (no snapshot yet)`, metric: 'ms', higherIsBetter: false, concord: Number(l.toFixed(1)), peers, note: 'compaction disabled: replays every frame head (the worst case)' }),
      ],
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  console.table(rows.map(({ peers, ...r }) => ({ ...r, yjs: peers.yjs })));
}
