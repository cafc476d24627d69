/**
 * S4's memory per put in flight, for one or more builds (directories holding `dist/`): 100 000 puts issued at once on
 * fileStorage (all applied before the first group's fsync starts), bytes of heap allocated while issuing them, bytes
 * kept while they wait for the fsync (after a full collection: what every young collection copies meanwhile), and
 * bytes kept once durable. Heap figures, unlike writes per second, do not depend on the machine's load, so two builds
 * compare on a shared machine. It needs a young generation large enough that nothing is collected while issuing:
 *   node --max-semi-space-size=1024 --min-semi-space-size=1024 --expose-gc bench/floor/s4-alloc.mjs <build dir>...
 * (env N: puts). The figures include the put's own promise and its slot in the caller's array (~60 B).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { dataset, envInt } from '../lib/measure.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc and a large young generation (see the header)');
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['.'];
const N = envInt('N', 100_000);
const { keys, values } = dataset(N);
const used = () => v8.getHeapStatistics().used_heap_size;

async function measure(dir) {
  const lib = await import(pathToFileURL(path.resolve(dir, 'dist/lib/index.js')).href);
  const fs = await import(pathToFileURL(path.resolve(dir, 'dist/adapters/fs/index.js')).href);
  const data = await mkdtemp(path.join(tmpdir(), 'concord-s4alloc-'));
  try {
    const replica = await lib.openReplica({ storage: fs.fileStorage(data) });
    const space = replica.space('bench');
    await space.put('warm', 1);
    globalThis.gc();
    globalThis.gc();
    const u0 = used();
    const puts = new Array(N);
    for (let i = 0; i < N; i++) puts[i] = space.put(keys[i], values[i]);
    const u1 = used();
    globalThis.gc();
    globalThis.gc();
    const u2 = used();
    const results = await Promise.all(puts);
    globalThis.gc();
    globalThis.gc();
    const u3 = used();
    await replica.close();
    return { allocated: (u1 - u0) / N, inFlight: (u2 - u0) / N, durable: (u3 - u0) / N, n: results.length };
  } finally {
    await rm(data, { recursive: true, force: true });
  }
}

for (const dir of dirs) await measure(dir); // warm-up
console.log(`S4 memory per put, ${N} puts in flight on fileStorage (bytes):`);
for (const dir of dirs) {
  const r = await measure(dir);
  console.log(`  ${dir.padEnd(24)} allocated while issuing ${String(Math.round(r.allocated)).padStart(5)}  kept in flight ${String(Math.round(r.inFlight)).padStart(5)}  kept once durable ${String(Math.round(r.durable)).padStart(5)}`);
}
