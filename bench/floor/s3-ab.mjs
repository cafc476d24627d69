/**
 * S3 A/B in one process: two builds of the library (directories holding `dist/`, e.g. a copy of the worktree built at the
 * old commit, and this one) alternate round by round (the order flips every round), sequential awaited puts and 1000 in
 * flight, with a Yjs round before each; prints the median per-round ratio new/old and each build's ratio to Yjs. On a
 * shared machine, alternating within a round keeps both builds under the same load (both share one heap, which costs
 * each some GC time beside a lone run: compare ratios, not absolute figures with the scenario's).
 *   node --expose-gc bench/floor/s3-ab.mjs <old build dir> <new build dir>     (env R: rounds, default 10)
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dataset, median, rate } from '../lib/measure.mjs';
import { yjs } from '../scenarios/s3-local-writes.mjs';
if (process.argv.length < 4) throw new Error('usage: node --expose-gc bench/floor/s3-ab.mjs <old build dir> <new build dir>');
const A = await import(pathToFileURL(path.resolve(process.argv[2], 'dist/lib/index.js')).href);
const B = await import(pathToFileURL(path.resolve(process.argv[3], 'dist/lib/index.js')).href);
const n = 100000, R = +(process.env.R ?? 10);
const { keys, values } = dataset(n);
async function seq(lib) {
  const replica = await lib.openReplica({ storage: lib.memoryStorage() });
  const space = replica.space('bench');
  const r = await rate(n, async () => { for (let i = 0; i < n; i++) await space.put(keys[i], values[i]); });
  await replica.close();
  return r.cpu;
}
async function flight(lib) {
  const replica = await lib.openReplica({ storage: lib.memoryStorage() });
  const space = replica.space('bench');
  const r = await rate(n, async () => { for (let i = 0; i < n; i += 1000) { const b = []; for (let j = i; j < i + 1000; j++) b.push(space.put(keys[j], values[j])); await Promise.all(b); } });
  await replica.close();
  return r.cpu;
}
for (const lib of [A, B]) { await seq(lib); await flight(lib); }
await yjs(keys, values, n);
const out = { seq: [], flight: [], seqA: [], seqB: [], flA: [], flB: [] };
for (let r = 0; r < R; r++) {
  const y = (await yjs(keys, values, n)).cpu;
  const order = r % 2 ? [B, A] : [A, B];
  const s = new Map(), f = new Map();
  for (const lib of order) s.set(lib, await seq(lib));
  for (const lib of order.reverse()) f.set(lib, await flight(lib));
  out.seq.push(s.get(B) / s.get(A)); out.flight.push(f.get(B) / f.get(A));
  out.seqA.push(s.get(A) / y); out.seqB.push(s.get(B) / y); out.flA.push(f.get(A) / y); out.flB.push(f.get(B) / y);
}
const m = (k) => median(out[k]).toFixed(3);
console.log(`rounds ${R}; new/old: sequential ${m('seq')} (${out.seq.map((x) => x.toFixed(2)).join(' ')}), in flight ${m('flight')} (${out.flight.map((x) => x.toFixed(2)).join(' ')})`);
console.log(`vs Yjs: sequential old ${m('seqA')} new ${m('seqB')}; in flight old ${m('flA')} new ${m('flB')}`);
