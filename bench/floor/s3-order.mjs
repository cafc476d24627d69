/**
 * S3's order effect: the scenario (bench/scenarios/s3-local-writes.mjs) rotates its contenders by one place per round,
 * which keeps each one's predecessor fixed — `concordSequential` always runs right after `tinybase`. A TinyBase round
 * leaves a heap of a few hundred MB behind; once it is collected, whoever allocates next pays for the pages anew
 * (system CPU, and user time), and that is always the sequential Concord row. This runs the same contenders in the
 * scenario's order and with Yjs and Concord's places swapped (Yjs then follows TinyBase) and prints, per order, each
 * contender's median writes/s of CPU and its median per-round ratio to Yjs: if the ratio moves with the order, the
 * row measures the order, not the library.
 *   node --expose-gc bench/floor/s3-order.mjs      (after `npm run build`; env R: rounds per order, default 5; N: keys)
 */
import { createMergeableStore } from 'tinybase';
import { memoryStorage, openReplica } from 'concord';
import { dataset, envInt, median, rate } from '../lib/measure.mjs';
import { concordSequential, yjs } from '../scenarios/s3-local-writes.mjs';

const n = envInt('N', 100_000);
const R = envInt('R', 5);
const { keys, values } = dataset(n);

async function concordInFlight(k, v, count) {
  const replica = await openReplica({ storage: memoryStorage() });
  const space = replica.space('bench');
  const r = await rate(count, async () => {
    for (let i = 0; i < count; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) batch.push(space.put(k[j], v[j]));
      await Promise.all(batch);
    }
  });
  await replica.close();
  return r;
}

async function tinybase(k, v, count) {
  const store = createMergeableStore();
  return rate(count, () => {
    for (let i = 0; i < count; i++) store.setRow('t', k[i], v[i]);
  });
}

const contenders = { concordSequential, concordInFlight, yjs, tinybase };
const orders = {
  scenario: ['concordSequential', 'concordInFlight', 'yjs', 'tinybase'],
  swapped: ['yjs', 'concordInFlight', 'concordSequential', 'tinybase'],
};
for (const name of Object.keys(contenders)) await contenders[name](keys, values, Math.ceil(n / 10));
for (const [label, names] of Object.entries(orders)) {
  const cpu = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < R; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      cpu[name].push((await contenders[name](keys, values, n)).cpu);
    }
  }
  const line = names
    .filter((k) => k !== 'tinybase')
    .map((k) => `${k} ${Math.round(median(cpu[k]))}/s (${median(cpu[k].map((x, r) => x / cpu.yjs[r])).toFixed(3)}× Yjs)`);
  const after = names[(names.indexOf('tinybase') + 1) % names.length];
  console.log(`${label} order (${after} follows tinybase): ${line.join(', ')}`);
}
