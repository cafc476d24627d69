/**
 * S3 — local writes, memory storage, one key per write (target: Concord ≥ Yjs writes/s in the same run).
 *
 * Each contender starts empty and writes keys k0…k(N-1), one key per write:
 * - Concord: `await space.put(key, value)` one after another, and with `BATCH` puts in flight at once
 *   (Promise.all per batch); memoryStorage.
 * - Yjs: `ymap.set(key, value)` on one Y.Map, each set its own transaction.
 * - Automerge 3: `A.change(doc, d => { d[key] = value })` per write. Its cost per change grows with the
 *   document, so it writes fewer keys (20 000, as in BENCHMARKS.md's figures) and runs one round only.
 * - TinyBase: `createMergeableStore().setRow('t', key, value)`.
 * After a warm-up of each, Concord's two cases and Yjs run `ROUNDS` interleaved rounds in a balanced order
 * (`balancedOrders`: over each 6 rounds every contender runs right after every other one twice), then TinyBase
 * its rounds, then Automerge; the median is reported. All of it is in-memory work without I/O, so the figure is
 * writes per second of process CPU time (steady on a shared machine); wall-clock medians are kept in the JSON.
 * Why TinyBase is not in the rotation, and why the order is balanced: whoever ran right after a TinyBase round ran
 * ~25 % slower (2026-12-06, quiet machine: Concord sequential 131–155 k writes/s after it, 197 k otherwise; the
 * in-flight case 126 k after it, 208–218 k otherwise), and a plain rotation keeps each contender's predecessor
 * (Concord sequential followed TinyBase in 3 of 5 rounds, Yjs in none): the slot, not the library, set the result.
 * Env overrides: BENCH_S3_KEYS, BENCH_S3_AUTOMERGE_KEYS, BENCH_S3_ROUNDS.
 */
import * as A from '@automerge/automerge';
import { createMergeableStore } from 'tinybase';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from 'concord';
import { dataset, envInt, median, progress, rate } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';

export const id = 'S3';
export const title = 'local writes, memory storage, one key per write';
const row = rowMaker(id);

const BATCH = 1000;

export async function concordSequential(keys, values, n) {
  const replica = await openReplica({ storage: memoryStorage() });
  const space = replica.space('bench');
  const r = await rate(n, async () => {
    for (let i = 0; i < n; i++) await space.put(keys[i], values[i]);
  });
  await replica.close();
  return r;
}

async function concordInFlight(keys, values, n) {
  const replica = await openReplica({ storage: memoryStorage() });
  const space = replica.space('bench');
  const r = await rate(n, async () => {
    for (let i = 0; i < n; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + BATCH); j++) batch.push(space.put(keys[j], values[j]));
      await Promise.all(batch);
    }
  });
  await replica.close();
  return r;
}

export async function yjs(keys, values, n) {
  const doc = new Y.Doc();
  const map = doc.getMap('bench');
  const r = await rate(n, () => {
    for (let i = 0; i < n; i++) map.set(keys[i], values[i]);
  });
  doc.destroy();
  return r;
}

async function tinybase(keys, values, n) {
  const store = createMergeableStore();
  return rate(n, () => {
    for (let i = 0; i < n; i++) store.setRow('t', keys[i], values[i]);
  });
}

async function automerge(keys, values, n) {
  let doc = A.init();
  const r = await rate(n, () => {
    for (let i = 0; i < n; i++) {
      doc = A.change(doc, (d) => {
        d[keys[i]] = values[i];
      });
    }
  });
  A.free(doc);
  return r;
}

/**
 * `rounds` orders of `names` in which each contender runs right after each other one equally often — a Williams
 * design: the first order is 0, 1, n−1, 2, n−2, …, each next one adds 1 to every index (mod n), and for an odd n each
 * order is followed by its reverse (so the period is n orders for an even n, 2n for an odd one). A plain rotation
 * keeps every contender's predecessor, so whatever a round leaves behind (its garbage, the heap's sizing) lands on
 * the same one every time.
 */
export function balancedOrders(names, rounds) {
  const n = names.length;
  const first = Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i % 2 === 1 ? (i + 1) / 2 : n - i / 2));
  const orders = [];
  for (let r = 0; orders.length < rounds; r++) {
    const order = first.map((i) => names[(i + r) % n]);
    orders.push(order);
    if (n % 2 === 1 && orders.length < rounds) orders.push([...order].reverse());
  }
  return orders;
}

export async function run({ quick }) {
  const n = quick ? 2_000 : envInt('BENCH_S3_KEYS', 100_000);
  const nAutomerge = quick ? 200 : envInt('BENCH_S3_AUTOMERGE_KEYS', 20_000);
  const rounds = quick ? 1 : envInt('BENCH_S3_ROUNDS', 6);
  const { keys, values } = dataset(Math.max(n, nAutomerge));

  const contenders = { concordSequential, concordInFlight, yjs, tinybase };
  const names = Object.keys(contenders);
  const figures = Object.fromEntries(names.map((k) => [k, []]));

  progress(`S3 warm-up (${Math.ceil(n / 10)} keys each)`);
  for (const name of names) await contenders[name](keys, values, Math.ceil(n / 10));
  await automerge(keys, values, Math.min(200, nAutomerge));

  const timed = async (name, label) => {
    const r = await contenders[name](keys, values, n);
    figures[name].push(r);
    progress(`S3 ${label} ${name}: ${Math.round(r.cpu)} writes/s CPU, ${Math.round(r.wall)} writes/s wall`);
  };
  const orders = balancedOrders(['concordSequential', 'concordInFlight', 'yjs'], rounds);
  for (const [round, order] of orders.entries()) for (const name of order) await timed(name, `round ${round + 1}/${rounds}`);
  for (let round = 0; round < rounds; round++) await timed('tinybase', `round ${round + 1}/${rounds}`);
  progress(`S3 automerge: ${nAutomerge} keys, one change each (slow: its cost per change grows with the document)`);
  const am = await automerge(keys, values, nAutomerge);
  progress(`S3 automerge: ${am.cpu.toFixed(1)} writes/s CPU, ${am.wall.toFixed(1)} wall`);

  const med = (name, k) => median(figures[name].map((f) => f[k]));
  const peers = { yjs: med('yjs', 'cpu'), automerge: am.cpu, tinybase: med('tinybase', 'cpu') };
  const note = `${n} keys (Automerge ${nAutomerge} keys, 1 round), median of ${rounds} interleaved rounds after a warm-up, per CPU-second; peers are synchronous, so their figures are the same on both rows`;
  const wallClock = Object.fromEntries(names.map((k) => [k, med(k, 'wall')]));
  wallClock.automerge = am.wall;
  return {
    rows: [
      row({ case: 'put, sequential awaited', metric: 'writes/s of CPU', higherIsBetter: true, concord: med('concordSequential', 'cpu'), peers, note, target: { atLeast: 1, of: 'yjs' } }),
      row({ case: `put, ${BATCH} in flight`, metric: 'writes/s of CPU', higherIsBetter: true, concord: med('concordInFlight', 'cpu'), peers, note: `Promise.all over batches of ${BATCH} puts; ${note}`, target: { atLeast: 1, of: 'yjs' } }),
    ],
    wallClock,
  };
}
