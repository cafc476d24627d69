/**
 * S3's floor: what the work a put cannot skip costs alone, beside a put and Yjs's `set`, in one process run.
 * Each line writes keys k0…k(N-1) into an empty structure, one key per write, and reports writes per CPU-second:
 * - Yjs `map.set`, and Concord `await space.put` (memoryStorage), as S3 runs them;
 * - the parts of a put, each alone: the value checked and encoded (`JSON.stringify` after a walk of its fields);
 *   the state hash (the canonical text of one dot and its context, xxHash64 as hex); the record stored (a Map of
 *   N keys and the log's two arrays); the key counted pending (a second Map of N keys); one awaited promise;
 * - all of those together in one loop: the floor of a put that keeps a record, a log entry, a hash and a pending
 *   count per key and answers with a promise. Yjs keeps one Map entry and one struct per set and answers at once.
 * Run: `node bench/floor/s3-floor.mjs` (after `npm run build`). Env: BENCH_S3_KEYS (100 000), BENCH_S3_ROUNDS (5).
 */
import xxhash from 'xxhash-wasm';
import { dataset, envInt, median, rate } from '../lib/measure.mjs';
import { concordSequential, yjs } from '../scenarios/s3-local-writes.mjs';

const N = envInt('BENCH_S3_KEYS', 100_000);
const ROUNDS = envInt('BENCH_S3_ROUNDS', 5);
const { keys, values } = dataset(N);
const { h64ToString } = await xxhash();
const ID = 'AbCdEfGhIjKlMnOp';

function walk(v) {
  // The shape check a put makes of a plain value (types and sizes), no more.
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? v.length : 1;
  let n = 0;
  for (const k in v) n += k.length + walk(v[k]);
  return n;
}

const parts = {
  'value checked and encoded': () => {
    let x = 0;
    for (let i = 0; i < N; i++) x += walk(values[i]) + JSON.stringify(values[i]).length;
    return x;
  },
  'state hash': () => {
    let x = 0;
    for (let i = 0; i < N; i++) x += h64ToString(keys[i] + '\u0000' + ID + ':' + (i + 1) + ',|' + ID + ':' + (i + 1)).length;
    return x;
  },
  'record and log entry stored': () => {
    const records = new Map();
    const logSeq = [];
    const logKey = [];
    for (let i = 0; i < N; i++) {
      const current = records.get(keys[i]);
      const rec = { vs: [{ r: ID, n: i + 1, t: 1796226728424 + i, c: 0, v: '' }], cc: { [ID]: i + 1 }, seq: i + 1, h: '', prev: current };
      records.set(keys[i], rec);
      logSeq.push(i + 1);
      logKey.push(keys[i]);
    }
    return records.size;
  },
  'key counted pending': () => {
    const pending = new Map();
    for (let i = 0; i < N; i++) pending.set(keys[i], i + 1);
    return pending.size;
  },
};

async function awaited() {
  for (let i = 0; i < N; i++) await Promise.resolve(i);
}

async function together() {
  const records = new Map();
  const pending = new Map();
  const logSeq = [];
  const logKey = [];
  const put = (i) => {
    const v = JSON.stringify(values[i]);
    walk(values[i]);
    const current = records.get(keys[i]);
    const vs = [{ r: ID, n: i + 1, t: 1796226728424 + i, c: 0, v }];
    const cc = { [ID]: i + 1 };
    const h = h64ToString(keys[i] + '\u0000' + ID + ':' + (i + 1) + ',|' + ID + ':' + (i + 1));
    records.set(keys[i], { vs, cc, seq: i + 1, h, prev: current === undefined ? undefined : current.seq });
    logSeq.push(i + 1);
    logKey.push(keys[i]);
    pending.set(keys[i], i + 1);
    return Promise.resolve(h);
  };
  for (let i = 0; i < N; i++) await put(i);
}

const lines = {
  'Yjs map.set': () => yjs(keys, values, N),
  'Concord put, sequential awaited': () => concordSequential(keys, values, N),
  ...Object.fromEntries(Object.entries(parts).map(([name, fn]) => [`alone: ${name}`, () => rate(N, fn)])),
  'alone: one awaited promise': () => rate(N, awaited),
  'floor: all of the above in one loop, awaited': () => rate(N, together),
};
const figures = Object.fromEntries(Object.keys(lines).map((k) => [k, []]));
for (const fn of Object.values(lines)) await fn(); // warm-up
for (let round = 0; round < ROUNDS; round++) for (const [name, fn] of Object.entries(lines)) figures[name].push((await fn()).cpu);
const yjsRate = median(figures['Yjs map.set']);
console.log(`S3 floor, ${N} keys, median of ${ROUNDS} rounds, writes per CPU-second (and as a ratio to Yjs):`);
for (const [name, xs] of Object.entries(figures)) {
  const r = median(xs);
  console.log(`  ${name.padEnd(46)} ${String(Math.round(r)).padStart(10)}  ${(r / yjsRate).toFixed(2)}×`);
}
