/**
 * S10 — a real editing trace typed into a `concord/yjs` document on a replica with file storage, followed live by a
 * second replica through a relay; then paced keystrokes into the final document, each awaited on the other side.
 * Beside y-websocket@1 (its server, bin/utils.js, and two WebsocketProviders) replaying the same transactions.
 *
 * Data: the automerge-paper trace (259 778 keystrokes; final text 104 852 characters), prepared by Martin Kleppmann
 * for automerge-perf, from josephg/editing-traces, licensed CC BY 4.0; read from ../shared/data/ (skipped with a
 * line saying so when absent).
 *
 *   replay: CHUNK transactions (default 100 keystrokes) are applied, then the writer yields (Concord: until the
 *           document's write is durable, openDoc writeDelay 0: one write per chunk; y-websocket: one update per
 *           keystroke, sent at once). Final text checked exact on both sides. Bytes = what the follower's socket
 *           received (payloads + WebSocket framing). Storage = the writer's data directory after close, beside
 *           Y.encodeStateAsUpdate of the final document.
 *   paced:  KEYS keystrokes at seeded positions, each awaited on the follower: bytes per keystroke, p50/p99 latency.
 *
 * Without deltas in the sync engine each Concord write carries the whole document state, so these figures miss the
 * byte targets by design in this phase: they are the baseline for the delta work (docs/deltas.md).
 * Alone: `node bench/scenarios/s10-document-trace.mjs [--quick]` (needs the build).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from 'concord';
import { fileStorage } from 'concord/fs';
import { createRelay } from 'concord/relay';
import { webSocketTransport } from 'concord/ws';
import { flushDoc, openDoc } from 'concord/yjs';
import { applyTxn, countingTransport, countServerSends, loadTrace, percentile, textAfter, TRACE_FILE, waitFor } from '../lib/docs.mjs';
import { dirSize, envInt, progress } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';
import { prng } from '../lib/wire.mjs';

export const id = 'S10';
export const title = 'editing trace into a document, followed live through a relay; paced keystrokes';

const require = createRequire(import.meta.url);
const row = rowMaker(id);
const KEY = 'paper';

/** Seeded keystroke positions within a text of length `len` (grows by one per keystroke). */
function positions(count, len, seed) {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => Math.floor(rnd() * (len + i + 1)));
}

/**
 * `keys` keystrokes at seeded positions into `wtext`, each awaited until `ftext` (the follower's copy) grows: the
 * latencies (ms), and the bytes `counter` counted meanwhile.
 */
async function pacedKeystrokes(wtext, ftext, keys, counter, follower) {
  counter.received = 0;
  const lat = [];
  for (const pos of positions(keys, wtext.length, 10)) {
    const before = ftext.length;
    const t = performance.now();
    wtext.insert(pos, 'x');
    await waitFor(() => ftext.length > before, `a keystroke on ${follower}`, 30_000);
    lat.push(performance.now() - t);
  }
  return { lat, pacedBytes: counter.received };
}

async function concord(trace, txns, chunk, keys) {
  const dir = await mkdtemp(join(tmpdir(), 'concord-s10-'));
  const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
  const writer = await openReplica({ storage: fileStorage(dir) });
  const follower = await openReplica({ storage: memoryStorage() });
  const counter = { sent: 0, received: 0, frames: 0 };
  writer.connect(webSocketTransport(relay.url));
  follower.connect(countingTransport(webSocketTransport(relay.url), counter));
  const wdoc = await openDoc(writer.space('s10'), KEY, { writeDelay: 0 });
  const fdoc = await openDoc(follower.space('s10'), KEY, { writeDelay: 0 });
  const wtext = wdoc.getText('body');
  const ftext = fdoc.getText('body');
  await waitFor(() => writer.status === 'synced' && follower.status === 'synced', 'both synced');
  const want = txns === trace.txns.length ? trace.endContent : textAfter(trace, txns);
  counter.received = counter.sent = counter.frames = 0;

  const t0 = performance.now();
  for (let i = 0; i < txns; i += chunk) {
    for (let j = i; j < Math.min(txns, i + chunk); j++) applyTxn(wtext, trace.txns[j]);
    await flushDoc(wdoc);
    if ((i / chunk) % 200 === 0) progress(`S10 concord: ${i} / ${txns} keystrokes, ${(counter.received / 1e6).toFixed(1)} MB to the follower`);
  }
  await waitFor(() => ftext.length === want.length && ftext.toString() === want, 'the follower to hold the final text');
  const seconds = (performance.now() - t0) / 1000;
  const exact = wtext.toString() === want && ftext.toString() === want;
  const replayBytes = counter.received;

  // Paced keystrokes into the final document, each awaited on the follower.
  const { lat, pacedBytes } = await pacedKeystrokes(wtext, ftext, keys, counter, 'the follower');
  const state = Y.encodeStateAsUpdate(wdoc).length;
  wdoc.destroy();
  fdoc.destroy();
  await flushDoc(wdoc);
  await writer.close();
  const storage = await dirSize(dir);
  await follower.close();
  await relay.close();
  await rm(dir, { recursive: true, force: true });
  return { seconds, exact, replayBytes, pacedPerKey: pacedBytes / keys, p50: percentile(lat, 50), p99: percentile(lat, 99), storage, state };
}

async function yWebsocket(trace, txns, chunk, keys) {
  const Yc = require('yjs'); // y-websocket is CommonJS and uses this copy
  const { WebsocketProvider } = require('y-websocket');
  const { setupWSConnection } = require('y-websocket/bin/utils');
  const docName = `s10-${Date.now()}`;
  const counter = { sent: 0, received: 0, frames: 0 };
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (conn, req) => {
    if (req.url.includes('role=follower')) countServerSends(conn, counter);
    setupWSConnection(conn, req, { docName });
  });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${server.address().port}`;
  const wdoc = new Yc.Doc();
  const fdoc = new Yc.Doc();
  const wp = new WebsocketProvider(url, docName, wdoc, { WebSocketPolyfill: WebSocket, disableBc: true });
  const fp = new WebsocketProvider(url, docName, fdoc, { WebSocketPolyfill: WebSocket, disableBc: true, params: { role: 'follower' } });
  await Promise.all([new Promise((r) => wp.once('synced', r)), new Promise((r) => fp.once('synced', r))]);
  const wtext = wdoc.getText('body');
  const ftext = fdoc.getText('body');
  const want = txns === trace.txns.length ? trace.endContent : textAfter(trace, txns);
  counter.received = counter.sent = 0;

  const t0 = performance.now();
  for (let i = 0; i < txns; i += chunk) {
    for (let j = i; j < Math.min(txns, i + chunk); j++) applyTxn(wtext, trace.txns[j]);
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => ftext.length === want.length && ftext.toString() === want, 'the y-websocket follower to hold the final text');
  const seconds = (performance.now() - t0) / 1000;
  const exact = wtext.toString() === want && ftext.toString() === want;
  const replayBytes = counter.received;

  const { lat, pacedBytes } = await pacedKeystrokes(wtext, ftext, keys, counter, 'the y-websocket follower');
  const state = Yc.encodeStateAsUpdate(wdoc).length;
  wp.destroy();
  fp.destroy();
  wss.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return { seconds, exact, replayBytes, pacedPerKey: pacedBytes / keys, p50: percentile(lat, 50), p99: percentile(lat, 99), state };
}

export async function run({ quick = false } = {}) {
  process.setMaxListeners(0);
  const trace = loadTrace();
  if (!trace) {
    const why = `S10 skipped: the editing trace ${TRACE_FILE} is absent (see ../shared/data/README.md)`;
    console.log(why);
    return { rows: [row({ case: 'skipped: trace absent', metric: 'bytes', higherIsBetter: false, concord: null, peers: {}, note: why })], skipped: true };
  }
  const txns = quick ? 3000 : Math.min(trace.txns.length, envInt('BENCH_S10_KEYSTROKES', trace.txns.length));
  const chunk = envInt('BENCH_S10_CHUNK', 100);
  const keys = quick ? 30 : envInt('BENCH_S10_PACED', 300);
  const y = await yWebsocket(trace, txns, chunk, keys);
  progress(`S10 y-websocket: ${y.seconds.toFixed(1)} s, ${(y.replayBytes / 1e6).toFixed(2)} MB to the follower`);
  const c = await concord(trace, txns, chunk, keys);
  progress(`S10 concord: ${c.seconds.toFixed(1)} s, ${(c.replayBytes / 1e6).toFixed(2)} MB to the follower, storage ${(c.storage / 1e6).toFixed(2)} MB`);
  if (!c.exact || !y.exact) throw new Error(`final text differs (concord exact: ${c.exact}, y-websocket exact: ${y.exact})`);
  const what = `${txns} keystrokes of automerge-paper (M. Kleppmann, CC BY 4.0), ${chunk} per write`;
  const peers = (v) => ({ 'y-websocket': v });
  const r1 = (x) => Math.round(x * 10) / 10;
  return {
    rows: [
      row({ case: 'replay: bytes to the follower', metric: 'bytes', higherIsBetter: false, concord: c.replayBytes, peers: peers(y.replayBytes), note: `${what}; target ≤ y-websocket (whole states without deltas: baseline)`, target: { atMost: 1, of: 'y-websocket' } }),
      row({ case: 'replay: time until the follower has it', metric: 's', higherIsBetter: false, concord: r1(c.seconds), peers: peers(r1(y.seconds)), note: 'writer on file storage (fsync per write), relay and follower in memory' }),
      row({ case: 'storage after close vs encoded state', metric: 'bytes', higherIsBetter: false, concord: c.storage, peers: { 'yjs state': c.state }, note: 'the writer\'s data directory; target ≤ 3 × the Yjs encoded state', target: { atMost: 3, of: 'yjs state' } }),
      row({ case: 'final text exact (both sides)', metric: 'bool', higherIsBetter: true, concord: c.exact ? 1 : 0, peers: peers(y.exact ? 1 : 0), target: { atLeast: 1 } }),
      row({ case: `paced: bytes per keystroke (${keys})`, metric: 'bytes', higherIsBetter: false, concord: Math.round(c.pacedPerKey), peers: peers(Math.round(y.pacedPerKey)), note: 'target ≤ 1.5 × y-websocket (aim ≤ 1 ×); each keystroke awaited on the follower', target: { atMost: 1.5, of: 'y-websocket' } }),
      row({ case: 'paced: keystroke latency p50', metric: 'ms', higherIsBetter: false, concord: r1(c.p50), peers: peers(r1(y.p50)) }),
      row({ case: 'paced: keystroke latency p99', metric: 'ms', higherIsBetter: false, concord: r1(c.p99), peers: peers(r1(y.p99)) }),
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  console.table(rows.map((r) => ({ case: r.case, concord: r.concord, ...r.peers })));
  process.exit(0); // y-websocket's server keeps timers of closed documents
}
