/**
 * S7's clients: what each delivery leaves on the heap, by kind of object. One relay and CLIENTS clients in this thread
 * over in-memory connections (bench/lib/memory-link.mjs memoryFanout, as s7-clients-ab.mjs), WARM sequential writes of new keys,
 * a heap snapshot (after full collections), WRITES more, another snapshot: the objects the second has and the first
 * has not, grouped by node type and constructor (or string/closure name), per delivery (count and bytes), the relay's
 * and the writer's share included (the writer's and relay's are one record a write; the clients' are CLIENTS).
 * What a delivery keeps is what every young collection of the clients' threads copies (twice: survivor, then promoted).
 * Run: `node --expose-gc bench/floor/s7-client-kept.mjs [--dist DIR] [--clients N] [--writes N] [--top N]` (after `npm run build`).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { memoryFanout } from '../lib/memory-link.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
if (!globalThis.gc) throw new Error('run with node --expose-gc');
const here = path.dirname(fileURLToPath(import.meta.url));
const C = await import(pathToFileURL(path.join(path.resolve(arg('--dist', path.join(here, '../../dist'))), 'lib/index.js')).href);
const CLIENTS = Number(arg('--clients', 20));
const WRITES = Number(arg('--writes', 300));
const TOP = Number(arg('--top', 30));
const WARM = 100;
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

/**
 * The snapshot's nodes: with `ids` (the first snapshot) only their ids, in one typed array (nothing of it is counted as
 * new in the second); else, per node not in `ids`, its kind and self size.
 */
async function readSnapshot(ids) {
  globalThis.gc();
  globalThis.gc();
  const chunks = [];
  for await (const c of v8.getHeapSnapshot()) chunks.push(c);
  const s = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iId, iSize] = ['type', 'name', 'id', 'self_size'].map((k) => f.indexOf(k));
  if (!ids) {
    const out = new Float64Array(s.nodes.length / f.length);
    for (let i = 0, j = 0; i < s.nodes.length; i += f.length) out[j++] = s.nodes[i + iId];
    return out.sort();
  }
  const nodes = new Map();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    if (has(ids, s.nodes[i + iId])) continue;
    const type = types[s.nodes[i + iType]];
    let name = s.strings[s.nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    nodes.set(s.nodes[i + iId], [`${type} ${name}`.slice(0, 90), s.nodes[i + iSize]]);
  }
  return nodes;
}

function has(sorted, id) {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === id) return true;
    if (sorted[mid] < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

const relay = await C.openReplica({ storage: C.memoryStorage() });
const space = 'kept';
const { clients, writer, one } = await memoryFanout(C, relay, { space, clients: CLIENTS, value });
for (let i = 0; i < WARM; i++) await one(i);
await new Promise((res) => setTimeout(res, 300)); // deferred ACKs and their timers go
const before = await readSnapshot();
for (let i = WARM; i < WARM + WRITES; i++) await one(i);
await new Promise((res) => setTimeout(res, 300));
const after = await readSnapshot(before);
const by = new Map();
for (const [id, [k, size]] of after) {
  const e = by.get(k) ?? [0, 0];
  e[0]++;
  e[1] += size;
  by.set(k, e);
}
const deliveries = WRITES * CLIENTS;
let total = 0;
for (const [, [, b]] of by) total += b;
console.log(`${CLIENTS} clients, ${WRITES} writes: new objects kept ${Math.round(total / deliveries)} B per delivery (relay and writer included); by kind:`);
for (const [k, [n, b]] of [...by].sort((a, b) => b[1][1] - a[1][1]).slice(0, TOP)) {
  console.log(`  ${(b / deliveries).toFixed(1).padStart(7)} B  ${(n / deliveries).toFixed(2).padStart(6)} objects  ${k}`);
}
await Promise.all([...clients, writer].map((x) => x.close()));
await relay.close();
