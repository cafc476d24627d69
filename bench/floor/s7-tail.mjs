/**
 * S7's tail: where the slow writes' time goes. S7's topology (Concord's relay and the writer in the main thread, 100
 * clients in two worker threads of 50; `--yjs`: y-websocket's server and Yjs clients instead), WARM sequential writes,
 * then WRITES measured, with every thread recording what it did and when (absolute ms, comparable across threads):
 *   - main thread: the writer's send of each write, the relay's receipt of it, its first and last send to a client,
 *     the ACKs (and other frames) it received;
 *   - each worker: its first socket message and its last delivery (the 50th client seeing the key) of each write;
 *   - every thread: its collections (perf_hooks 'gc': kind and duration), and the timer callbacks it ran (setTimeout
 *     and setInterval wrapped: where they were set, how long their synchronous part took).
 * Each write's latency is split into segments: put → relay receipt → relay's first send → its last send → the last
 * worker's first receipt → that worker's last delivery; the writes are ranked by latency and the worst (p97 and
 * above) set beside the middle ones (p40–p60): segment medians, and what else ran inside their windows (GCs, timer
 * callbacks, frames received by the relay) in each thread.
 * `--young MB`: the client workers' young generation at most MB (Worker resourceLimits.maxYoungGenerationSizeMb; V8 sizes
 * it itself otherwise): how the tail moves with how often, and so how long, their young-generation collections run.
 * `S7_TAIL_WARM=N` (environment): N writes before the measured ones instead of S7's 50 (the steady state's tail, past JIT
 * compilation's).
 * Run: `node bench/floor/s7-tail.mjs [writes] [--yjs] [--dist DIR] [--list N] [--young MB]` (after `npm run build`).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const now = () => performance.timeOrigin + performance.now();

// ---- recording, in every thread (installed before the library is loaded, so its timers are wrapped) ----
const log = { gc: [], timers: [], recv: [], sent: [] };
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 16: 'minor' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) log.gc.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, kind: GC_KINDS[e.detail?.kind ?? e.kind] ?? String(e.detail?.kind) });
}).observe({ entryTypes: ['gc'] });
const here = fileURLToPath(import.meta.url);
/** Where a timer was set: the first stack frame outside this file and node's internals. */
function origin() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 8;
  const stack = new Error().stack.split('\n').slice(2);
  Error.stackTraceLimit = limit;
  const line = stack.find((l) => !l.includes(here) && !l.includes('node:')) ?? stack[0] ?? '?';
  return line.trim().replace(/^at /, '').replace(/\(?file:\/\/.*\/(dist|node_modules)\//, '$1/').replace(/\)$/, '');
}
for (const name of ['setTimeout', 'setInterval']) {
  const real = globalThis[name];
  globalThis[name] = function (fn, ms, ...args) {
    if (typeof fn !== 'function') return real(fn, ms, ...args);
    const where = `${name === 'setInterval' ? 'interval' : 'timeout'} ${ms ?? 0}ms ${origin()}`;
    return real(function timed(...a) {
      const t = now();
      try {
        return fn.apply(this, a);
      } finally {
        log.timers.push({ at: t, ms: now() - t, where });
      }
    }, ms, ...args);
  };
}
const { WebSocket } = await import('ws');
// Sends at the sockets: the relay writes its binary frames whole, past ws's send (adapters/relay/socket.ts).
const { tapWebSocketFrames } = await import('../lib/wire.mjs');
tapWebSocketFrames((socket, frame) => log.sent.push({ at: now(), server: !frame.masked, bytes: frame.bytes, sock: sockId(socket) }));
const emit = WebSocket.prototype.emit;
WebSocket.prototype.emit = function (name, data, ...rest) {
  if (name === 'message') log.recv.push({ at: now(), server: this._isServer === true, bytes: data.length ?? data.byteLength, sock: sockId(this) });
  return emit.call(this, name, data, ...rest);
};
const ids = new WeakMap();
let nextId = 0;
function sockId(s) {
  let id = ids.get(s);
  if (id === undefined) ids.set(s, (id = nextId++));
  return id;
}

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const loadConcord = (dist, sub, name) => import(dist ? pathToFileURL(path.join(dist, sub)).href : name);

if (!isMainThread) {
  // ---- a client worker: bench/lib/s7-clients.mjs's clients (as S7 runs them), this file's recording installed first.
  // That module posts { key, at } when the last of its clients saw the key: kept here too, as the worker's last delivery.
  const deliveries = [];
  const post = parentPort.postMessage.bind(parentPort);
  parentPort.postMessage = (m) => {
    if (m?.key) deliveries.push({ key: m.key, last: m.at });
    return post(m);
  };
  const { Session } = await import('node:inspector/promises');
  const v8 = await import('node:v8');
  const sampler = workerData.heap ? new Session() : undefined;
  parentPort.on('message', async (m) => {
    if (m === 'measure') {
      if (workerData.snap) v8.writeHeapSnapshot(`${workerData.snap}-0.heapsnapshot`);
      if (sampler) {
        sampler.connect();
        // live: only what is still reachable at the end (retained); promoted: also what a major collection took (what
        // survived the young generation: what its collections copied); all: everything allocated
        const heap = workerData.heap;
        await sampler.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: heap !== 'live', includeObjectsCollectedByMinorGC: heap === 'all' });
      }
      post({ measuring: true });
    }
    if (m === 'report') {
      if (workerData.snap) v8.writeHeapSnapshot(`${workerData.snap}-1.heapsnapshot`);
      const heap = sampler ? (await sampler.post('HeapProfiler.stopSampling')).profile : undefined;
      post({ report: { ...log, deliveries, heap } });
    }
  });
  await import('../lib/s7-clients.mjs');
} else {
  // ---- the main thread: relay, writer, measurement and the breakdown ----
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const WRITES = Number(args[0] ?? 400);
  const WARM = Number(process.env.S7_TAIL_WARM ?? 50);
  const YJS = process.argv.includes('--yjs');
  const DIST = arg('--dist') ? path.resolve(arg('--dist')) : undefined;
  const LIST = Number(arg('--list', 0));
  const YOUNG = arg('--young') ? { maxYoungGenerationSizeMb: Number(arg('--young')) } : undefined;
  /** `--heap live|promoted|all`: worker 0 samples its heap over the measured writes (see the worker's 'measure'). */
  const HEAP = arg('--heap');
  /** `--snap PREFIX`: worker 0 writes heap snapshots PREFIX-0 and PREFIX-1 (before and after the measured writes). */
  const SNAP = arg('--snap');
  const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });
  process.setMaxListeners(0);

  const { startClients, yjsServer } = await import('../scenarios/s7-relay-fanout.mjs');
  let url;
  let writerPut;
  let closeAll;
  const space = 'tail';
  if (YJS) ({ url, close: closeAll } = await yjsServer(space));
  else {
    const { createRelay } = await loadConcord(DIST, 'adapters/relay/index.js', 'concord/relay');
    const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false, rateLimit: false });
    url = relay.url;
    closeAll = () => relay.close();
  }
  const clients = await startClients(YJS ? 'yjs' : 'concord', url, space, 100, DIST, { module: here, data: (i) => (i === 0 ? { heap: HEAP, snap: SNAP } : {}), resourceLimits: YOUNG });
  const { workers } = clients;
  if (YJS) {
    const Y = require('yjs');
    const { WebsocketProvider } = require('y-websocket');
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url, space, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
    await new Promise((r) => provider.once('synced', r));
    const map = doc.getMap('m');
    writerPut = async (k, v) => map.set(k, v);
    const closeServer = closeAll;
    closeAll = async () => (provider.destroy(), await closeServer());
  } else {
    const { memoryStorage, openReplica } = await loadConcord(DIST, 'lib/index.js', 'concord');
    const { webSocketTransport } = await loadConcord(DIST, 'adapters/ws/index.js', 'concord/ws');
    const writer = await openReplica({ storage: memoryStorage() });
    const s = writer.space(space);
    writer.connect(webSocketTransport(url));
    while (writer.status !== 'synced') await new Promise((r) => setTimeout(r, 5));
    writerPut = (k, v) => s.put(k, v);
    const closeRelay = closeAll;
    closeAll = async () => (await writer.close(), await closeRelay());
  }

  const writes = [];
  for (let i = 0; i < WARM + WRITES; i++) {
    const key = `k${i}`;
    const seen = clients.allSeen(key);
    const t0 = now();
    await writerPut(key, value(i));
    const end = await seen;
    if (i >= WARM) writes.push({ key, t0, end, ms: end - t0 });
    if (i === WARM - 1 && (HEAP || SNAP)) {
      await new Promise((resolve) => {
        workers[0].on('message', (m) => m.measuring && resolve());
        workers[0].postMessage('measure');
      });
    }
  }
  const reports = await Promise.all(workers.map((w) => new Promise((resolve) => {
    w.on('message', (m) => m.report && resolve(m.report));
    w.postMessage('report');
  })));
  await clients.close();
  await closeAll();

  // ---- the breakdown ----
  const inWin = (xs, a, b) => xs.filter((x) => x.at >= a && x.at < b);
  const main = log;
  // The writer's socket in the main thread is the client-side one (not _isServer); its frame reaches the relay as a
  // server-side 'message' on one socket: the one whose first receipt follows the writer's send in most writes.
  for (const w of writes) {
    const win = (xs) => inWin(xs, w.t0, w.end);
    const sentByWriter = win(main.sent).find((s) => !s.server);
    w.writerSent = sentByWriter?.at;
    const firstRecv = sentByWriter && win(main.recv).find((r) => r.server && r.at >= sentByWriter.at);
    w.relayRecv = firstRecv?.at;
    const fan = w.relayRecv === undefined ? [] : win(main.sent).filter((s) => s.server && s.at >= w.relayRecv);
    w.fanFirst = fan[0]?.at;
    w.fanLast = fan.at(-1)?.at;
    w.fanCount = fan.length;
    w.acksIn = win(main.recv).filter((r) => r.server && r !== firstRecv).length;
    w.mainGc = win(main.gc);
    w.mainTimers = win(main.timers);
    w.workers = reports.map((rep) => {
      const d = rep.deliveries.find((x) => x.key === w.key);
      const firstRecv = inWin(rep.recv, w.fanFirst ?? w.t0, w.end)[0]?.at;
      return { last: d?.last, firstRecv, gc: win(rep.gc), timers: win(rep.timers), sent: win(rep.sent).length };
    });
    const lastW = w.workers.reduce((a, b) => ((b.last ?? 0) > (a.last ?? 0) ? b : a));
    w.lastWorker = w.workers.indexOf(lastW);
    const seg = (a, b) => (a === undefined || b === undefined ? NaN : b - a);
    w.seg = {
      'put→writer send': seg(w.t0, w.writerSent),
      'writer send→relay recv': seg(w.writerSent, w.relayRecv),
      'relay recv→1st send': seg(w.relayRecv, w.fanFirst),
      'relay 1st→last send': seg(w.fanFirst, w.fanLast),
      'relay last send→last worker 1st recv': seg(w.fanLast, lastW.firstRecv),
      'last worker 1st recv→50th delivery': seg(lastW.firstRecv, lastW.last),
      'other worker 1st recv→50th delivery': seg(w.workers[1 - w.lastWorker].firstRecv, w.workers[1 - w.lastWorker].last),
    };
  }
  const ranked = [...writes].sort((a, b) => a.ms - b.ms);
  const pct = (p) => ranked[Math.min(ranked.length - 1, Math.max(0, Math.ceil((p / 100) * ranked.length) - 1))].ms;
  const median = (xs) => {
    const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const mid = ranked.slice(Math.floor(ranked.length * 0.4), Math.ceil(ranked.length * 0.6));
  const tail = ranked.slice(Math.floor(ranked.length * 0.97));
  console.log(`${YJS ? 'y-websocket' : 'concord'}: ${WRITES} writes after ${WARM}; p50 ${pct(50).toFixed(2)} p90 ${pct(90).toFixed(2)} p97 ${pct(97).toFixed(2)} p99 ${pct(99).toFixed(2)} max ${pct(100).toFixed(2)} ms`);
  const f = (x) => (Number.isNaN(x) ? '   -  ' : x.toFixed(2).padStart(6));
  console.log(`segment medians (ms)                     mid(${mid.length})   tail(${tail.length})`);
  for (const k of Object.keys(writes[0].seg)) console.log(`  ${k.padEnd(38)} ${f(median(mid.map((w) => w.seg[k])))}  ${f(median(tail.map((w) => w.seg[k])))}`);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const per = (set, fn) => (sum(set.map(fn)) / set.length).toFixed(2).padStart(6);
  console.log('inside the windows, mean a write:          mid      tail');
  console.log(`  main: GCs / ms                         ${per(mid, (w) => w.mainGc.length)} ${per(tail, (w) => w.mainGc.length)}   ${per(mid, (w) => sum(w.mainGc.map((g) => g.ms)))} ${per(tail, (w) => sum(w.mainGc.map((g) => g.ms)))}`);
  console.log(`  main: timer callbacks / ms             ${per(mid, (w) => w.mainTimers.length)} ${per(tail, (w) => w.mainTimers.length)}   ${per(mid, (w) => sum(w.mainTimers.map((t) => t.ms)))} ${per(tail, (w) => sum(w.mainTimers.map((t) => t.ms)))}`);
  console.log(`  main: frames received besides the write${per(mid, (w) => w.acksIn)} ${per(tail, (w) => w.acksIn)}`);
  console.log(`  main: frames sent by the relay         ${per(mid, (w) => w.fanCount)} ${per(tail, (w) => w.fanCount)}`);
  for (const i of [0, 1]) {
    console.log(`  worker ${i}: GCs / ms                     ${per(mid, (w) => w.workers[i].gc.length)} ${per(tail, (w) => w.workers[i].gc.length)}   ${per(mid, (w) => sum(w.workers[i].gc.map((g) => g.ms)))} ${per(tail, (w) => sum(w.workers[i].gc.map((g) => g.ms)))}`);
    console.log(`  worker ${i}: timer callbacks / ms         ${per(mid, (w) => w.workers[i].timers.length)} ${per(tail, (w) => w.workers[i].timers.length)}   ${per(mid, (w) => sum(w.workers[i].timers.map((t) => t.ms)))} ${per(tail, (w) => sum(w.workers[i].timers.map((t) => t.ms)))}`);
    console.log(`  worker ${i}: frames sent (ACKs)           ${per(mid, (w) => w.workers[i].sent)} ${per(tail, (w) => w.workers[i].sent)}`);
  }
  // The tail writes by cause: a collection inside the window in a worker or the main thread, else a timer callback of
  // over 1 ms, else none of these (the OS's scheduling, the work itself). `excess`: latency beyond the median.
  const causes = { 'worker GC': [], 'main GC': [], 'timer > 1 ms': [], 'none seen': [] };
  const p50 = pct(50);
  for (const w of tail) {
    const wgc = w.workers.flatMap((x) => x.gc);
    const tm = [w.mainTimers, ...w.workers.map((x) => x.timers)].flat().filter((t) => t.ms > 1);
    const c = wgc.length ? 'worker GC' : w.mainGc.length ? 'main GC' : tm.length ? 'timer > 1 ms' : 'none seen';
    causes[c].push({ excess: w.ms - p50, paused: sum([...wgc, ...w.mainGc].map((g) => g.ms)) });
  }
  console.log(`the tail (${tail.length} writes) by what ran inside it: ${Object.entries(causes).map(([k, v]) => `${k} ${v.length}${v.length ? ` (excess over p50 ${median(v.map((x) => x.excess)).toFixed(1)}, GC ${median(v.map((x) => x.paused)).toFixed(1)} ms)` : ''}`).join('; ')}`);
  // Whole-run counts: what each thread's timers were, and its collections.
  const byWhere = (timers) => {
    const m = new Map();
    for (const t of timers) {
      const e = m.get(t.where) ?? { n: 0, ms: 0, max: 0 };
      e.n++;
      e.ms += t.ms;
      e.max = Math.max(e.max, t.ms);
      m.set(t.where, e);
    }
    return [...m].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  };
  const from = writes[0].t0;
  const to = writes.at(-1).end;
  for (const [name, l] of [['main', main], ['worker 0', reports[0]], ['worker 1', reports[1]]]) {
    const gcs = inWin(l.gc, from, to);
    const kinds = {};
    for (const g of gcs) (kinds[g.kind] ??= []).push(g.ms);
    console.log(`${name}: over the measured writes: GCs ${Object.entries(kinds).map(([k, v]) => `${k} ${v.length} (median ${median(v).toFixed(2)}, max ${Math.max(...v).toFixed(2)} ms)`).join(', ') || 'none'}`);
    for (const [where, e] of byWhere(inWin(l.timers, from, to))) console.log(`    timer ${String(e.n).padStart(6)}x ${e.ms.toFixed(1).padStart(7)} ms (max ${e.max.toFixed(2)})  ${where}`);
  }
  if (HEAP) {
    const by = new Map();
    const walk = (n, stack) => {
      const fr = n.callFrame;
      const name = `${fr.functionName || '(anon)'} ${fr.url.split('/').slice(-2).join('/')}:${fr.lineNumber + 1}`;
      const st = [...stack, name].slice(-3);
      if (n.selfSize) by.set(st.join(' < '), (by.get(st.join(' < ')) ?? 0) + n.selfSize);
      for (const c of n.children) walk(c, st);
    };
    walk(reports[0].heap.head, []);
    const total = [...by.values()].reduce((a, b) => a + b, 0);
    console.log(`worker 0 heap (${HEAP}), per write per client: ${(total / WRITES / 50).toFixed(0)} B; by innermost frames:`);
    for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${String(Math.round(v / WRITES / 50)).padStart(7)} B  ${k}`);
  }
  if (LIST > 0) {
    console.log(`the ${LIST} slowest writes:`);
    for (const w of ranked.slice(-LIST).reverse()) {
      const gcs = [['main', w.mainGc], ...w.workers.map((x, i) => [`w${i}`, x.gc])].flatMap(([n, g]) => g.map((x) => `${n} ${x.kind} ${x.ms.toFixed(2)}@+${(x.at - w.t0).toFixed(1)}`));
      const tms = [['main', w.mainTimers], ...w.workers.map((x, i) => [`w${i}`, x.timers])].flatMap(([n, t]) => t.filter((x) => x.ms > 0.2).map((x) => `${n} ${x.ms.toFixed(2)}@+${(x.at - w.t0).toFixed(1)} ${x.where}`));
      console.log(`  ${w.key} ${w.ms.toFixed(2)} ms: ${Object.entries(w.seg).map(([k, v]) => `${k.split('→')[1] ?? k} ${f(v).trim()}`).join(' | ')}; last worker ${w.lastWorker}; acks in ${w.acksIn}`);
      if (gcs.length) console.log(`      GC: ${gcs.join('; ')}`);
      if (tms.length) console.log(`      timers > 0.2 ms: ${tms.join('; ')}`);
    }
  }
  process.exit(0);
}
