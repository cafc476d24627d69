/**
 * S3's allocation per put: bytes allocated and bytes retained per `space.put` (memoryStorage), sequential awaited and
 * 1000 in flight, beside the S3 floor's all-together loop (s3-floor.mjs) and Yjs `map.set`. Unlike writes per second,
 * these figures do not depend on the machine's load, so they compare two builds on a shared machine.
 * It needs a young generation large enough that no garbage collection runs during the measured writes (the heap's
 * growth is then what they allocated):
 *   node --max-semi-space-size=1024 --min-semi-space-size=1024 --expose-gc bench/floor/s3-alloc.mjs
 * (after `npm run build`). Env: BENCH_S3_KEYS (100 000). The loop awaiting each put allocates its own promise too.
 */
import v8 from 'node:v8';
import xxhash from 'xxhash-wasm';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from 'concord';
import { dataset, envInt } from '../lib/measure.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc and a large young generation (see the header)');
const N = envInt('BENCH_S3_KEYS', 100_000);
const { keys, values } = dataset(N);
const { h64ToString } = await xxhash();
const ID = 'AbCdEfGhIjKlMnOp';
const used = () => v8.getHeapStatistics().used_heap_size;

/** Heap growth per write while `write` runs, and what stays after a full collection (`keep` holds the structure). */
async function measure(open, write) {
  const held = await open();
  globalThis.gc();
  globalThis.gc();
  const u0 = used();
  await write(held);
  const u1 = used();
  globalThis.gc();
  globalThis.gc();
  const u2 = used();
  await held.close?.();
  return { allocated: (u1 - u0) / N, retained: (u2 - u0) / N };
}

async function replica() {
  const r = await openReplica({ storage: memoryStorage() });
  return { space: r.space('bench'), close: () => r.close() };
}

function walk(v) {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? v.length : 1;
  let n = 0;
  for (const k in v) n += k.length + walk(v[k]);
  return n;
}

const lines = {
  'Concord put, sequential awaited': () =>
    measure(replica, async ({ space }) => {
      for (let i = 0; i < N; i++) await space.put(keys[i], values[i]);
    }),
  'Concord put, 1000 in flight': () =>
    measure(replica, async ({ space }) => {
      for (let i = 0; i < N; i += 1000) {
        const batch = [];
        for (let j = i; j < Math.min(N, i + 1000); j++) batch.push(space.put(keys[j], values[j]));
        await Promise.all(batch);
      }
    }),
  'floor: s3-floor.mjs all together, awaited': () =>
    measure(
      () => ({ records: new Map(), pending: new Map(), logSeq: [], logKey: [] }),
      async (s) => {
        const put = (i) => {
          const v = JSON.stringify(values[i]);
          walk(values[i]);
          const current = s.records.get(keys[i]);
          const vs = [{ r: ID, n: i + 1, t: 1796226728424 + i, c: 0, v }];
          const cc = { [ID]: i + 1 };
          const h = h64ToString(keys[i] + '\u0000' + ID + ':' + (i + 1) + ',|' + ID + ':' + (i + 1));
          s.records.set(keys[i], { vs, cc, seq: i + 1, h, prev: current === undefined ? undefined : current.seq });
          s.logSeq.push(i + 1);
          s.logKey.push(keys[i]);
          s.pending.set(keys[i], i + 1);
          return Promise.resolve(h);
        };
        for (let i = 0; i < N; i++) await put(i);
      },
    ),
  'Yjs map.set': () =>
    measure(
      () => {
        const doc = new Y.Doc();
        return { map: doc.getMap('bench'), close: () => doc.destroy() };
      },
      ({ map }) => {
        for (let i = 0; i < N; i++) map.set(keys[i], values[i]);
      },
    ),
};

for (const fn of Object.values(lines)) await fn(); // warm-up
console.log(`S3 allocation, ${N} writes each, bytes per write:`);
for (const [name, fn] of Object.entries(lines)) {
  const { allocated, retained } = await fn();
  console.log(`  ${name.padEnd(44)} allocated ${String(Math.round(allocated)).padStart(5)}  retained ${String(Math.round(retained)).padStart(5)}`);
}
