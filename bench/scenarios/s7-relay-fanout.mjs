/**
 * S7 — relay fan-out: 100 WebSocket clients in one space, one writer, loopback only. Side by side in the
 * same run: Concord's relay (memory storage, as y-websocket keeps its docs in memory) and y-websocket@1's
 * server (`bin/utils.js` setupWSConnection) with Yjs clients (WebsocketProvider).
 *
 * The server and the writer run in the main thread; the 100 clients in two worker threads of 50, so a
 * delivery is not queued behind 99 other clients' work in one event loop (as it would not be on 100 devices).
 *
 *   latency:    the writer writes one new key, waits until all 100 clients saw it, repeats; p50/p99 — after WARM
 *               such writes on the same clients, whose latencies are reported on their own row: the client
 *               workers are started for each run, so without them p99 measured how long JIT compilation takes to
 *               reach a code path run once per write per client (the warm-up run before does not warm them)
 *   throughput: the writer writes N new keys at once; writes/s = N / time until every client saw every key
 *   server:     how long the main thread (server and writer) is busy per write during the latency writes
 *               (event-loop utilization; on 2 cores shared with the client workers, so it includes time
 *               the thread was descheduled while busy): what fanning a write out to the clients costs the server
 *
 * Data: key k<i>, value { title: 'item <i>', done: i % 2 === 0, n: i }.
 * Alone: `node bench/scenarios/s7-relay-fanout.mjs [--quick]` (needs the build: npm ci or npm run build).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WebSocket, WebSocketServer } from 'ws';
import { memoryStorage, openReplica } from 'concord';
import { createRelay } from 'concord/relay';
import { webSocketTransport } from 'concord/ws';
import { rowMaker } from '../lib/row.mjs';

export const id = 'S7';
export const title = 'relay fan-out: 100 WebSocket clients in one space, one writer';
const row = rowMaker(id);

const require = createRequire(import.meta.url);
const CLIENT_WORKERS = 2;
/** Sequential writes on fresh clients before the latency is measured (their own rows). */
const WARM = 50;
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });
const now = () => performance.timeOrigin + performance.now();
let runs = 0;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Starts the client workers; resolves once all their clients are synced. `dist`: the build the clients load (default
 * this checkout's); `module`: the workers' script (bench/floor/s7-tail.mjs wraps the clients in its recording), `data(i)`:
 * more of worker i's workerData; `resourceLimits`: the workers' (bench/floor/s7-tail.mjs `--young`: their young generation).
 */
export async function startClients(system, url, docName, clients, dist, { module = new URL('../lib/s7-clients.mjs', import.meta.url), data = () => ({}), resourceLimits } = {}) {
  const per = clients / CLIENT_WORKERS;
  const arrivals = new Map(); // key → [count of workers done, latest at]
  const waiters = new Map();
  const workers = [];
  await Promise.all(
    Array.from({ length: CLIENT_WORKERS }, (_, i) => new Promise((resolve, reject) => {
      const w = new Worker(module, { workerData: { system, url, docName, count: per, dist, ...data(i) }, ...(resourceLimits ? { resourceLimits } : {}) });
      workers.push(w);
      w.on('error', reject);
      w.on('message', (m) => {
        if (m.ready) return resolve();
        if (!m.key) return;
        const a = arrivals.get(m.key) ?? [0, 0];
        a[0]++;
        a[1] = Math.max(a[1], m.at);
        arrivals.set(m.key, a);
        if (a[0] === CLIENT_WORKERS) waiters.get(m.key)?.(a[1]);
      });
    })),
  );
  return {
    workers,
    /** Resolves with the instant the last client saw `key`. */
    allSeen(key) {
      const a = arrivals.get(key);
      if (a && a[0] === CLIENT_WORKERS) return Promise.resolve(a[1]);
      return new Promise((resolve) => waiters.set(key, resolve));
    },
    async close() {
      await Promise.all(workers.map((w) => new Promise((resolve) => {
        w.on('message', (m) => m.closed && resolve());
        w.postMessage('close');
      })));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

async function measure(clients, write, { latencyWrites, burst, warm }) {
  const one = async (i) => {
    const key = `k${i}`;
    const seen = clients.allSeen(key);
    const t0 = now();
    await write(key, value(i));
    return (await seen) - t0;
  };
  const cold = [];
  for (let i = 0; i < warm; i++) cold.push(await one(i));
  cold.sort((a, b) => a - b);
  const lat = [];
  const elu = performance.eventLoopUtilization();
  for (let i = warm; i < warm + latencyWrites; i++) lat.push(await one(i));
  const busy = performance.eventLoopUtilization(elu).active / latencyWrites;
  lat.sort((a, b) => a - b);
  const from = warm + latencyWrites;
  const keys = Array.from({ length: burst }, (_, j) => `k${from + j}`);
  const seen = keys.map((k) => clients.allSeen(k));
  const t0 = now();
  await Promise.all(keys.map((k, j) => write(k, value(from + j))));
  const last = Math.max(...(await Promise.all(seen)));
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), coldP50: percentile(cold, 50), coldMax: cold[cold.length - 1], busy, writesPerSecond: burst / ((last - t0) / 1000) };
}

async function concord(opts) {
  const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false, rateLimit: false });
  const space = `bench-${++runs}`;
  const clients = await startClients('concord', relay.url, space, opts.clients);
  const writer = await openReplica({ storage: memoryStorage() });
  const s = writer.space(space);
  writer.connect(webSocketTransport(relay.url));
  while (writer.status !== 'synced') await new Promise((r) => setTimeout(r, 5));
  const result = await measure(clients, (k, v) => s.put(k, v), opts);
  await clients.close();
  await writer.close();
  await relay.close();
  return result;
}

async function yjs(opts) {
  const Y = require('yjs');
  const { WebsocketProvider } = require('y-websocket');
  const docName = `bench-${++runs}`; // bin/utils.js keeps its docs in a module-wide map
  const { url, close } = await yjsServer(docName);
  const clients = await startClients('yjs', url, docName, opts.clients);
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, docName, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
  await new Promise((r) => provider.once('synced', r));
  const map = doc.getMap('m');
  const result = await measure(clients, async (k, v) => map.set(k, v), opts);
  await clients.close();
  provider.destroy();
  await close();
  return result;
}

/** y-websocket's server (bin/utils.js setupWSConnection) on loopback, serving `docName`. */
export async function yjsServer(docName) {
  const { setupWSConnection } = require('y-websocket/bin/utils');
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (conn, req) => setupWSConnection(conn, req, { docName }));
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    async close() {
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function run({ quick = false } = {}) {
  process.setMaxListeners(0); // each WebsocketProvider adds a process 'exit' listener
  // quick (a smoke test run in CI beside other tests): 20 clients, fewer writes; the figures then mean little
  const opts = quick ? { clients: 20, latencyWrites: 50, burst: 200, warm: 10 } : { clients: 100, latencyWrites: 400, burst: 2000, warm: WARM };
  await concord({ ...opts, latencyWrites: 20, burst: 50, warm: 0 }); // warm-up (of the main thread: relay and writer)
  await yjs({ ...opts, latencyWrites: 20, burst: 50, warm: 0 });
  const c = await concord(opts);
  const y = await yjs(opts);
  const note = `${opts.clients} clients (2 worker threads) + 1 writer, loopback; latency over ${opts.latencyWrites} sequential writes after ${opts.warm} on fresh clients, throughput over ${opts.burst} writes in flight; servers in memory`;
  const peers = (v) => ({ yjs: v });
  const round = (x) => Math.round(x * 100) / 100;
  return {
    rows: [
      row({ case: 'write-to-all-delivered p99', metric: 'ms', higherIsBetter: false, concord: round(c.p99), peers: peers(round(y.p99)), note: `${note}; target ≤ y-websocket's`, target: { atMost: 1, of: 'yjs' } }),
      row({ case: 'write-to-all-delivered p50', metric: 'ms', higherIsBetter: false, concord: round(c.p50), peers: peers(round(y.p50)), note }),
      row({ case: `first ${opts.warm} writes on fresh clients: p50`, metric: 'ms', higherIsBetter: false, concord: round(c.coldP50), peers: peers(round(y.coldP50)), note: `${note}; each client's code still being compiled (JIT)` }),
      row({ case: `first ${opts.warm} writes on fresh clients: max`, metric: 'ms', higherIsBetter: false, concord: round(c.coldMax), peers: peers(round(y.coldMax)), note }),
      row({ case: 'server thread busy per write', metric: 'ms', higherIsBetter: false, concord: round(c.busy), peers: peers(round(y.busy)), note: `${note}; the main thread (server and writer) during the latency writes, event-loop utilization` }),
      row({ case: `writes delivered to all ${opts.clients} clients`, metric: 'writes/s', higherIsBetter: true, concord: Math.round(c.writesPerSecond), peers: peers(Math.round(y.writesPerSecond)), note: `${note}; target ≥ y-websocket's`, target: { atLeast: 1, of: 'yjs' } }),
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  for (const r of rows) console.log(`${r.case.padEnd(38)} ${r.metric.padEnd(9)} concord ${String(r.concord).padStart(9)}   y-websocket ${String(r.peers.yjs).padStart(9)}`);
  process.exit(0);
}
