/**
 * S7's receiving side, A/B: what a LIVE frame costs the 100 clients, for two builds in one process. One relay (the
 * build `--relay DIST`, default this checkout's dist) serves CLIENTS clients and a writer over in-memory connections
 * (frames handed over in a microtask, as s7-engine.mjs does); the clients and the writer come from build A
 * (`--a DIST`) or B (`--b DIST`), in alternating rounds, each round on fresh replicas: WARM writes, then WRITES
 * sequential writes measured. Per delivery (a write reaching one client): CPU of the process (relay and writer
 * included, the same in both builds), heap bytes allocated (valid only when no collection ran during the measured
 * writes: give it a large young generation, `--max-semi-space-size=512 --min-semi-space-size=512`), and the
 * frames the clients sent per write (ACKs), and the collections (GC) per 1000 deliveries (with the default young
 * generation: what the allocation costs). Medians over the rounds at the end.
 * `--kept` (with node's `--expose-gc`): also the heap bytes still reachable per delivery after the measured writes (full
 * collections before and after them): what each delivery leaves for the young generation's collections to copy (twice:
 * surviving one, then promoted) — the relay's share, the same build in both unless `--relay same`, included.
 * Run: `node --max-semi-space-size=512 --min-semi-space-size=512 bench/floor/s7-clients-ab.mjs --a DIST --b DIST
 * [--rounds N] [--writes N] [--clients N] [--relay DIST|same]` (copy each build's dist directory beside this checkout's node_modules).
 */
import { createHook } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { memoryFanout } from '../lib/memory-link.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '../../dist');
const load = (d) => import(pathToFileURL(path.join(path.resolve(d), 'lib/index.js')).href);
/** `--relay same`: each round's relay from the round's own build (the whole system A/B), else the one build given. */
const R = arg('--relay') === 'same' ? undefined : await load(arg('--relay', dist));
const builds = { A: await load(arg('--a', dist)), B: await load(arg('--b', dist)) };
const CLIENTS = Number(arg('--clients', 100));
const WRITES = Number(arg('--writes', 200));
const ROUNDS = Number(arg('--rounds', 4));
const WARM = 50;
/** `--heap-sample`: where build B's rounds allocate during the measured writes, by function (sampled), per delivery. */
const HEAP_SAMPLE = process.argv.includes('--heap-sample');
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });
/** `--promises`: count the promises made per delivery (async_hooks; slows everything down, so CPU means little then). */
const PROMISES = process.argv.includes('--promises');
const KEPT = process.argv.includes('--kept');
if (KEPT && !globalThis.gc) throw new Error('--kept needs node --expose-gc');
let promises = 0;
if (PROMISES) createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable();
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });


function printAllocations(profile, deliveries) {
  const by = new Map();
  const walk = (n, caller) => {
    const f = n.callFrame;
    const ours = /\/(dist[^/]*)\/(?:lib|adapters)\//.exec(f.url);
    const k = `${f.functionName || '(anon)'} ${ours ? `${ours[1]}:` : ''}${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    const at = ours ? k : `${k} < ${caller}`;
    if (n.selfSize) by.set(at, (by.get(at) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, ours ? k : caller);
  };
  walk(profile.head, '');
  console.log('allocated per delivery, by function (sampled; a built-in by its caller of ours):');
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(`  ${String(Math.round(v / deliveries)).padStart(6)} B  ${k}`);
}

async function round(C, r) {
  const relay = await (R ?? C).openReplica({ storage: (R ?? C).memoryStorage() });
  const space = `ab-${r}`;
  const count = { sent: 0 };
  const { clients, writer, one, synced } = await memoryFanout(C, relay, { space, clients: CLIENTS, value, sent: () => count.sent++ });
  for (let i = 0; i < WARM; i++) await one(i);
  await new Promise((res) => setTimeout(res, 150)); // the warm writes' deferred ACKs go
  globalThis.gc?.();
  const sampler = HEAP_SAMPLE && C === builds.B ? new Session() : undefined;
  if (sampler) {
    sampler.connect();
    await sampler.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const gcs0 = gcs;
  const sent0 = count.sent;
  const promises0 = promises;
  if (KEPT) (globalThis.gc(), globalThis.gc());
  const kept0 = v8.getHeapStatistics().used_heap_size;
  const heap0 = v8.getHeapStatistics().used_heap_size;
  const cpu0 = process.cpuUsage();
  for (let i = WARM; i < WARM + WRITES; i++) await one(i);
  const cpu = process.cpuUsage(cpu0);
  const heap = v8.getHeapStatistics().used_heap_size - heap0;
  // The observer hears of collections in a later turn of the event loop (the writes above take microtasks only).
  for (let i = 0; i < 2; i++) await new Promise((res) => setTimeout(res, 0));
  const deliveries = WRITES * CLIENTS;
  if (KEPT) (globalThis.gc(), globalThis.gc());
  const kept = KEPT ? (v8.getHeapStatistics().used_heap_size - kept0) / deliveries : NaN;
  if (sampler) printAllocations((await sampler.post('HeapProfiler.stopSampling')).profile, deliveries);
  const out = {
    cpuUs: (cpu.user + cpu.system) / deliveries,
    allocB: gcs === gcs0 ? heap / deliveries : NaN,
    acks: (count.sent - sent0) / deliveries,
    promises: (promises - promises0) / deliveries,
    gcPer1000: ((gcs - gcs0) / deliveries) * 1000,
    kept,
  };
  await synced();
  await Promise.all([...clients, writer].map((x) => x.close()));
  await relay.close();
  return out;
}

const results = { A: [], B: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const name of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
    const x = await round(builds[name], `${r}${name}`);
    results[name].push(x);
    console.log(`round ${r} ${name}: per delivery CPU ${x.cpuUs.toFixed(1)} µs, allocated ${Number.isNaN(x.allocB) ? '(a collection ran)' : `${Math.round(x.allocB)} B`}, collections per 1000 ${x.gcPer1000.toFixed(2)}, client frames ${x.acks.toFixed(3)}${PROMISES ? `, promises ${x.promises.toFixed(2)}` : ''}${KEPT ? `, kept ${Math.round(x.kept)} B` : ''}`);
  }
}
const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
for (const name of ['A', 'B']) {
  const xs = results[name];
  console.log(`${name}: per delivery CPU median ${median(xs.map((x) => x.cpuUs)).toFixed(1)} µs (${spread(xs.map((x) => x.cpuUs))}), allocated median ${Math.round(median(xs.map((x) => x.allocB)))} B, collections per 1000 deliveries ${median(xs.map((x) => x.gcPer1000)).toFixed(2)}, client frames ${median(xs.map((x) => x.acks)).toFixed(3)}${PROMISES ? `, promises ${median(xs.map((x) => x.promises)).toFixed(2)}` : ''}${KEPT ? `, kept median ${Math.round(median(xs.map((x) => x.kept)))} B` : ''}`);
}
process.exit(0);
