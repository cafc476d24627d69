/**
 * S7 — relay fan-out: 100 WebSocket clients in one space, one writer (a 101st client), loopback only.
 * Side by side in the same process run: Concord's relay (memory storage, like y-websocket's in-memory docs)
 * and y-websocket@1's server (`bin/utils.js` setupWSConnection) with Yjs clients (WebsocketProvider).
 *
 *   latency: the writer writes one new key, waits until all 100 clients saw it, repeats; p50/p99 of that
 *   throughput: the writer writes N new keys at once; writes/s = N / time until every client saw all N
 *
 * Data: key k<i>, value { title: 'item <i>', done: i % 2 === 0, n: i }. Run alone: node bench/scenarios/s7-relay-fanout.mjs [--quick]
 * Needs the built package (npm run build; npm ci does it).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { memoryStorage, openReplica } from 'concord';
import { createRelay } from 'concord/relay';
import { webSocketTransport } from 'concord/ws';

export const id = 'S7';
export const title = 'relay fan-out: 100 WebSocket clients in one space, one writer';

const require = createRequire(import.meta.url);
// One Yjs instance for the server (bin/utils.js is CommonJS) and the clients: load both through require.
const Y = require('yjs');
const { WebsocketProvider } = require('y-websocket');
let yRun = 0;
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Resolves when `count(key)` reaches `n`; callers bump through `seen`. */
function deliveries() {
  const counts = new Map();
  const waiters = new Map();
  return {
    seen(key) {
      const c = (counts.get(key) ?? 0) + 1;
      counts.set(key, c);
      const w = waiters.get(key);
      if (w && c >= w.n) {
        waiters.delete(key);
        w.resolve();
      }
    },
    wait(key, n) {
      if ((counts.get(key) ?? 0) >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.set(key, { n, resolve }));
    },
  };
}

async function measure(sys, { clients, latencyWrites, burst }) {
  const lat = [];
  for (let i = 0; i < latencyWrites; i++) {
    const key = `k${i}`;
    const done = sys.delivered.wait(key, clients);
    const t0 = performance.now();
    await sys.write(key, value(i));
    await done;
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const last = `k${latencyWrites + burst - 1}`;
  const all = sys.delivered.wait(last, clients);
  const t0 = performance.now();
  const writes = [];
  for (let i = latencyWrites; i < latencyWrites + burst; i++) writes.push(sys.write(`k${i}`, value(i)));
  await Promise.all(writes);
  await all;
  // Every key, not only the last, reached every client (a per-key count).
  for (let i = latencyWrites; i < latencyWrites + burst; i++) await sys.delivered.wait(`k${i}`, clients);
  const seconds = (performance.now() - t0) / 1000;
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), writesPerSecond: burst / seconds };
}

async function concord(opts) {
  const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false, rateLimit: false });
  const delivered = deliveries();
  const replicas = [];
  const until = (cond) => new Promise((resolve) => {
    const tick = () => (cond() ? resolve() : setTimeout(tick, 5));
    tick();
  });
  for (let c = 0; c < opts.clients; c++) {
    const r = await openReplica({ storage: memoryStorage() });
    r.space('bench').subscribe('*', (e) => delivered.seen(e.key));
    r.connect(webSocketTransport(relay.url));
    replicas.push(r);
  }
  const writer = await openReplica({ storage: memoryStorage() });
  const space = writer.space('bench');
  writer.connect(webSocketTransport(relay.url));
  await until(() => [...replicas, writer].every((r) => r.status === 'synced'));
  const result = await measure({ delivered, write: (k, v) => space.put(k, v) }, opts);
  await Promise.all([...replicas, writer].map((r) => r.close()));
  await relay.close();
  return result;
}

async function yjs(opts) {
  const { setupWSConnection } = require('y-websocket/bin/utils');
  // bin/utils.js keeps its docs in a module-wide map: a fresh doc name per run.
  const docName = `bench-${++yRun}`;
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (conn, req) => setupWSConnection(conn, req, { docName }));
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${server.address().port}`;
  const delivered = deliveries();
  const providers = [];
  const synced = [];
  for (let c = 0; c < opts.clients; c++) {
    const doc = new Y.Doc();
    doc.getMap('m').observe((e) => e.keysChanged.forEach((k) => delivered.seen(k)));
    const p = new WebsocketProvider(url, docName, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
    providers.push(p);
    synced.push(new Promise((r) => p.once('synced', r)));
  }
  const wdoc = new Y.Doc();
  const wp = new WebsocketProvider(url, docName, wdoc, { WebSocketPolyfill: WebSocket, disableBc: true });
  synced.push(new Promise((r) => wp.once('synced', r)));
  providers.push(wp);
  await Promise.all(synced);
  const map = wdoc.getMap('m');
  const result = await measure({ delivered, write: async (k, v) => map.set(k, v) }, opts);
  for (const p of providers) p.destroy();
  wss.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return result;
}

export async function run({ quick = false } = {}) {
  process.setMaxListeners(0); // each WebsocketProvider adds a process 'exit' listener
  const opts = { clients: 100, latencyWrites: quick ? 100 : 500, burst: quick ? 500 : 2000 };
  // Warm-up (JIT, sockets), then the measured runs, alternating.
  await concord({ ...opts, latencyWrites: 20, burst: 50 });
  await yjs({ ...opts, latencyWrites: 20, burst: 50 });
  const c = await concord(opts);
  const y = await yjs(opts);
  const note = `${opts.clients} clients + 1 writer, loopback, one process; latency over ${opts.latencyWrites} sequential writes, throughput over ${opts.burst} writes in flight`;
  const peers = (v) => ({ yjs: v, automerge: null, tinybase: null });
  return {
    rows: [
      { case: 'write-to-all-delivered p99', metric: 'ms', higherIsBetter: false, concord: round(c.p99), peers: peers(round(y.p99)), note },
      { case: 'write-to-all-delivered p50', metric: 'ms', higherIsBetter: false, concord: round(c.p50), peers: peers(round(y.p50)), note },
      { case: 'writes delivered to all 100 clients', metric: 'writes/s', higherIsBetter: true, concord: Math.round(c.writesPerSecond), peers: peers(Math.round(y.writesPerSecond)), note },
    ],
  };
}

const round = (x) => Math.round(x * 100) / 100;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  for (const r of rows) console.log(`${r.case.padEnd(40)} ${r.metric.padEnd(9)} concord ${String(r.concord).padStart(9)}   y-websocket ${String(r.peers.yjs).padStart(9)}`);
  process.exit(0);
}
