/**
 * S7's relay side alone: Concord's relay and one writer in the main thread, 100 Concord clients in two worker
 * threads of 50 (bench/lib/s7-clients.mjs, as S7 runs them), WARM sequential writes, then WRITES sequential
 * writes measured: the main thread's busy time per write (event-loop utilization, as S7's "server thread busy
 * per write" row), its CPU time per write (Linux /proc, which descheduled time does not inflate), the CPU of all
 * threads (clients included) per write, the frames and bytes the main thread's sockets send and receive per write,
 * the bytes the main thread allocates per write (heap and array buffers; only when no collection ran during the
 * measured writes: give it a large young generation, `--max-semi-space-size=1024 --min-semi-space-size=1024`; these do
 * not depend on the machine's load), and write-to-all-delivered p50/p99. Meant to be run under `node --cpu-prof` to see where the
 * relay spends its time per write, and to compare builds: run it from each checkout (after `npm run build`).
 * `--yjs`: y-websocket's server and Yjs clients instead, for the same figures beside.
 * `--heap-sample`: where the main thread allocates during the measured writes, by function (sampled).
 * `--cpu-profile FILE`: a CPU profile of the main thread over the measured writes alone (warm-up and set-up left out),
 * written to FILE (`node --cpu-prof` covers the whole process: module loading, 100 handshakes and the warm-up with it).
 * `--clients N` (default 100, S7's; even: two workers): with few clients the main thread's cost a write is what does not
 * grow with the fan-out (the writer's put and ACK, the relay's ingest); the difference to 100 over the clients between
 * is what each delivery adds.
 * Run: `node bench/floor/s7-relay-cpu.mjs [writes] [rounds] [--yjs] [--heap-sample] [--clients N]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { startClients, yjsServer } from '../scenarios/s7-relay-fanout.mjs';
import { tapWebSocketFrames } from '../lib/wire.mjs';

const require = createRequire(import.meta.url);
/** `--dist DIR`: the build to measure (relay, writer and clients; a copy of a checkout's dist), else this checkout's. */
const DIST = process.argv.includes('--dist') ? path.resolve(process.argv[process.argv.indexOf('--dist') + 1]) : undefined;
const load = (sub, name) => import(DIST ? pathToFileURL(path.join(DIST, sub)).href : name);
const { memoryStorage, openReplica } = await load('lib/index.js', 'concord');
const { createRelay } = await load('adapters/relay/index.js', 'concord/relay');
const { webSocketTransport } = await load('adapters/ws/index.js', 'concord/ws');
process.setMaxListeners(0); // each WebsocketProvider adds a process 'exit' listener
const YJS = process.argv.includes('--yjs');
/** `--heap-sample`: where the main thread allocates during the measured writes (sampled), by function. */
const HEAP_SAMPLE = process.argv.includes('--heap-sample');
const CPU_PROFILE = process.argv.includes('--cpu-profile') ? process.argv[process.argv.indexOf('--cpu-profile') + 1] : undefined;
const CPU_INTERVAL = process.argv.includes('--cpu-interval') ? Number(process.argv[process.argv.indexOf('--cpu-interval') + 1]) : undefined;
const CLIENTS = process.argv.includes('--clients') ? Number(process.argv[process.argv.indexOf('--clients') + 1]) : 100;
const WARM = 50;
const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--dist' && all[i - 1] !== '--cpu-profile' && all[i - 1] !== '--cpu-interval' && all[i - 1] !== '--clients');
const WRITES = Number(args[0] ?? 400);
const ROUNDS = Number(args[1] ?? 1);
const now = () => performance.timeOrigin + performance.now();
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });
/** Frames and bytes the main thread's sockets send and receive (relay and writer: the writer's are 2 of ~102). */
const count = { out: 0, outBytes: 0, in: 0, inBytes: 0 };
// at the sockets: the relay writes its binary frames whole, past ws's send (adapters/relay/socket.ts)
tapWebSocketFrames((socket, frame) => {
  count.out++;
  count.outBytes += frame.bytes;
});
const emit = WebSocket.prototype.emit;
WebSocket.prototype.emit = function (name, data, ...rest) {
  if (name === 'message') {
    count.in++;
    count.inBytes += data.length ?? data.byteLength;
  }
  return emit.call(this, name, data, ...rest);
};
/**
 * CPU ms of the main thread alone (Linux: /proc) — robust under load, unlike ELU: `all` from schedstat (ns), `user`
 * and `sys` (the kernel's part: socket writes and reads) from stat, in clock ticks of 10 ms.
 */
const TICK_MS = 10;
function mainThreadCpu() {
  try {
    const task = `/proc/${process.pid}/task/${process.pid}`;
    const stat = readFileSync(`${task}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const all = Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    return { all, user: Number(f[11]) * TICK_MS, sys: Number(f[12]) * TICK_MS };
  } catch {
    return { all: NaN, user: NaN, sys: NaN };
  }
}
function printAllocations(profile) {
  const by = new Map();
  const walk = (n) => {
    const f = n.callFrame;
    const k = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    const self = n.selfSize;
    if (self) by.set(k, (by.get(k) ?? 0) + self);
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  console.log('allocated per write, by function (sampled):');
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${String(Math.round(v / WRITES)).padStart(8)} B  ${k}`);
  // With `--heap-stacks`: the same by the innermost three frames, to tell who calls a built-in (Map, slice...).
  if (!process.argv.includes('--heap-stacks')) return;
  const stacks = new Map();
  const walk3 = (n, path) => {
    const f = n.callFrame;
    const here = [...path, `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`].slice(-4);
    if (n.selfSize) stacks.set(here.join(' < '.split('').reverse().join('')), (stacks.get(here.join(' > ')) ?? 0) + n.selfSize);
    for (const c of n.children) walk3(c, here);
  };
  walk3(profile.head, []);
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 200)) console.log(`  ${String(Math.round(v / WRITES)).padStart(8)} B  ${k}`);
}

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/** The relay and the writer: Concord's, or (`--yjs`) y-websocket's server and a Yjs writer (as S7 runs them). */
async function concordSide(space) {
  const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false, rateLimit: false });
  return {
    url: relay.url,
    async writer() {
      const writer = await openReplica({ storage: memoryStorage() });
      const s = writer.space(space);
      writer.connect(webSocketTransport(relay.url));
      while (writer.status !== 'synced') await new Promise((res) => setTimeout(res, 5));
      return { put: (k, v) => s.put(k, v), close: () => writer.close() };
    },
    close: () => relay.close(),
  };
}

async function yjsSide(docName) {
  const Y = require('yjs');
  const { WebsocketProvider } = require('y-websocket');
  const { url, close } = await yjsServer(docName);
  return {
    url,
    async writer() {
      const doc = new Y.Doc();
      const provider = new WebsocketProvider(url, docName, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
      await new Promise((r) => provider.once('synced', r));
      const map = doc.getMap('m');
      return { put: async (k, v) => map.set(k, v), close: async () => provider.destroy() };
    },
    close,
  };
}

async function round(r) {
  const space = `cpu-${r}`;
  const relay = YJS ? await yjsSide(space) : await concordSide(space);
  const clients = await startClients(YJS ? 'yjs' : 'concord', relay.url, space, CLIENTS, DIST);
  const writer = await relay.writer();
  const one = async (i) => {
    const key = `k${i}`;
    const done = clients.allSeen(key);
    const t0 = now();
    await writer.put(key, value(i));
    return (await done) - t0;
  };
  for (let i = 0; i < WARM; i++) await one(i);
  const lat = [];
  const elu = performance.eventLoopUtilization();
  const before = { ...count };
  const sampler = HEAP_SAMPLE ? new Session() : undefined;
  if (sampler) {
    sampler.connect();
    await sampler.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const profiler = CPU_PROFILE && r === 0 ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    // `--cpu-interval US`: the sampling interval (V8's default, 1 000 µs, leaves a write's 0.1 ms steps unresolved).
    if (CPU_INTERVAL) await profiler.post('Profiler.setSamplingInterval', { interval: CPU_INTERVAL });
    await profiler.post('Profiler.start');
  }
  const cpu0 = mainThreadCpu();
  const gcs0 = gcs;
  const heap0 = v8.getHeapStatistics().used_heap_size;
  const ab0 = process.memoryUsage().arrayBuffers;
  const all0 = process.cpuUsage();
  for (let i = WARM; i < WARM + WRITES; i++) lat.push(await one(i));
  const busy = performance.eventLoopUtilization(elu).active / WRITES;
  const cpu1 = mainThreadCpu();
  const cpu = (cpu1.all - cpu0.all) / WRITES;
  const user = (cpu1.user - cpu0.user) / WRITES;
  const sys = (cpu1.sys - cpu0.sys) / WRITES;
  // Allocation of the main thread (the workers have heaps of their own), valid while no collection ran in between.
  const allocated = gcs === gcs0 ? { heap: (v8.getHeapStatistics().used_heap_size - heap0) / WRITES, buffers: (process.memoryUsage().arrayBuffers - ab0) / WRITES } : undefined;
  const all = process.cpuUsage(all0);
  const allCpu = (all.user + all.system) / 1000 / WRITES;
  if (profiler) writeFileSync(CPU_PROFILE, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  if (sampler) printAllocations((await sampler.post('HeapProfiler.stopSampling')).profile);
  const per = (k) => (count[k] - before[k]) / WRITES;
  const frames = { out: per('out'), outBytes: per('outBytes'), in: per('in'), inBytes: per('inBytes') };
  lat.sort((a, b) => a - b);
  await clients.close();
  await writer.close();
  await relay.close();
  return { busy, cpu, user, sys, allCpu, allocated, p50: percentile(lat, 50), p99: percentile(lat, 99), frames };
}

for (let r = 0; r < ROUNDS; r++) {
  const x = await round(r);
  console.log(`round ${r}: main thread per write: CPU ${x.cpu.toFixed(2)} ms (user ${x.user.toFixed(2)}, sys ${x.sys.toFixed(2)}), busy ${x.busy.toFixed(2)} ms; all threads CPU ${x.allCpu.toFixed(2)} ms (clients ${(x.allCpu - x.cpu).toFixed(2)});  p50 ${x.p50.toFixed(2)}  p99 ${x.p99.toFixed(2)} ms  per write: sent ${x.frames.out.toFixed(1)} frames ${x.frames.outBytes.toFixed(0)} B, received ${x.frames.in.toFixed(1)} frames ${x.frames.inBytes.toFixed(0)} B; ${x.allocated ? `allocated ${Math.round(x.allocated.heap)} B heap + ${Math.round(x.allocated.buffers)} B array buffers` : 'allocation: a collection ran (see the header)'}`);
}
process.exit(0);
