/**
 * S4 A/B in one process: two builds of the library (directories holding `dist/`, e.g. a copy of the worktree built at the
 * old commit, and this one) alternate round by round (the order flips every round): 100 000 puts in flight on
 * fileStorage (each acknowledged after its group's fsync) and on memoryStorage. Prints per round and as medians: each
 * build's file/memory ratio (S4's figure) and new/old for the file case, by wall-clock time and by this process's CPU
 * time (steadier on a loaded machine; it leaves out the wait for the fsync). Both builds share one heap and one disk:
 * compare ratios, not absolute figures with the scenario's.
 *   node --expose-gc bench/floor/s4-ab.mjs <old build dir> <new build dir>     (env R: rounds, default 7; N: puts)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { collect, dataset, median } from '../lib/measure.mjs';

if (process.argv.length < 4) throw new Error('usage: node --expose-gc bench/floor/s4-ab.mjs <old build dir> <new build dir>');
const load = async (dir) => ({
  lib: await import(pathToFileURL(path.resolve(dir, 'dist/lib/index.js')).href),
  fs: await import(pathToFileURL(path.resolve(dir, 'dist/adapters/fs/index.js')).href),
});
const A = await load(process.argv[2]);
const B = await load(process.argv[3]);
const n = +(process.env.N ?? 100_000), R = +(process.env.R ?? 7);
const { keys, values } = dataset(n);

async function inFlight(build, file) {
  const dir = file ? await mkdtemp(path.join(tmpdir(), 'concord-s4ab-')) : undefined;
  try {
    const replica = await build.lib.openReplica({ storage: file ? build.fs.fileStorage(dir) : build.lib.memoryStorage() });
    const space = replica.space('bench');
    collect();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const puts = new Array(n);
    for (let i = 0; i < n; i++) puts[i] = space.put(keys[i], values[i]);
    await Promise.all(puts);
    const perSec = n / ((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    await replica.close();
    return { wall: perSec, cpu: n / ((c.user + c.system) / 1e6) };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

for (const b of [A, B]) for (const file of [true, false]) await inFlight(b, file); // warm-up
const out = { fileNewOld: [], ratioA: [], ratioB: [], fileA: [], fileB: [], cpuNewOld: [], cpuRatioA: [], cpuRatioB: [] };
for (let r = 0; r < R; r++) {
  const order = r % 2 ? [B, A] : [A, B];
  const f = new Map(), m = new Map();
  for (const b of order) f.set(b, await inFlight(b, true));
  for (const b of order.reverse()) m.set(b, await inFlight(b, false));
  out.fileNewOld.push(f.get(B).wall / f.get(A).wall);
  out.ratioA.push(f.get(A).wall / m.get(A).wall);
  out.ratioB.push(f.get(B).wall / m.get(B).wall);
  out.fileA.push(f.get(A).wall);
  out.fileB.push(f.get(B).wall);
  out.cpuNewOld.push(f.get(B).cpu / f.get(A).cpu);
  out.cpuRatioA.push(f.get(A).cpu / m.get(A).cpu);
  out.cpuRatioB.push(f.get(B).cpu / m.get(B).cpu);
  console.error(`  round ${r + 1}: file/memory old ${out.ratioA[r].toFixed(3)} new ${out.ratioB[r].toFixed(3)}; file new/old ${out.fileNewOld[r].toFixed(3)}; by CPU time: file/memory old ${out.cpuRatioA[r].toFixed(3)} new ${out.cpuRatioB[r].toFixed(3)}, file new/old ${out.cpuNewOld[r].toFixed(3)}`);
}
const m = (k, d = 3) => median(out[k]).toFixed(d);
const spread = (k) => `${Math.min(...out[k]).toFixed(3)}–${Math.max(...out[k]).toFixed(3)}`;
console.log(`rounds ${R}, ${n} puts in flight; file/memory: old ${m('ratioA')} (${spread('ratioA')}), new ${m('ratioB')} (${spread('ratioB')})`);
console.log(`fileStorage new/old ${m('fileNewOld')} (${spread('fileNewOld')}); writes/s old ${m('fileA', 0)}, new ${m('fileB', 0)}`);
console.log(`by CPU time (steadier under load; the fsync's wait is not counted): file/memory old ${m('cpuRatioA')} (${spread('cpuRatioA')}), new ${m('cpuRatioB')} (${spread('cpuRatioB')}); file new/old ${m('cpuNewOld')} (${spread('cpuNewOld')})`);
