/**
 * File storage against a model, through random writes, removals, compactions and reopens: whatever snapshots were
 * written in between (compact records copied from the snapshot before or encoded afresh, tables of ids carried over
 * or started again, records the compact form cannot hold kept as the log stores them), every key reads back as last
 * written, and the index and the change log say the same. fast-check prints the seed of a failing run; the seed
 * replays it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage, type FileStorageOptions } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { tempDir } from './helpers.js';

beforeAll(loadHasher);
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const T = 1_796_000_000_000;
const writer = fc.constantFrom('w1', 'w2', 'wrïter', '__proto__', 'a-very-long-replica-identifier-0123456789');
const version = fc.record({
  r: writer,
  n: fc.integer({ min: 1, max: 2 ** 40 }),
  t: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: T - 10 ** 8, max: T + 10 ** 8 }) }, { weight: 1, arbitrary: fc.constant(T + 0.5) }, { weight: 1, arbitrary: fc.constant(9e15) }),
  c: fc.nat(5),
  body: fc.oneof(
    fc.string({ maxLength: 40 }).map((s) => ({ v: JSON.stringify(s) })),
    fc.uint8Array({ maxLength: 40 }).map((b) => ({ v: b })),
    fc.constantFrom({ v: '~lone \uD800' }, { d: 1 as const }),
  ),
});
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constantFrom('a', 'b', 'c', 'd', 'é', '🔑', 'lone \uDC00'), vs: fc.array(version, { minLength: 1, maxLength: 3 }), src: fc.option(writer, { nil: undefined }) }).map((o) => ({ t: 'put' as const, ...o })) },
  { weight: 1, arbitrary: fc.constantFrom('a', 'b', 'c', 'd', 'é').map((k) => ({ t: 'remove' as const, k })) },
  { weight: 2, arbitrary: fc.constant({ t: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

function recordOf(seq: number, o: { vs: Array<{ r: string; n: number; t: number; c: number; body: { v: string | Uint8Array } | { d: 1 } }>; src?: string }): KeyRecord {
  const seen = new Map<string, { r: string; n: number; t: number; c: number; body: { v: string | Uint8Array } | { d: 1 } }>();
  for (const v of o.vs) seen.set(`${v.r}:${v.n}`, v); // one version per dot
  const vs = [...seen.values()].map(({ r, n, t, c, body }) => ('d' in body ? { r, n, t, c, d: 1 as const } : { r, n, t, c, v: body.v }));
  const cc: Record<string, number> = {};
  for (const v of vs) if (!Object.prototype.hasOwnProperty.call(cc, v.r) || cc[v.r]! < v.n) Object.defineProperty(cc, v.r, { value: v.n, enumerable: true, writable: true, configurable: true });
  const rec: KeyRecord = { vs, cc, seq, h: seq.toString(16).padStart(16, '0') };
  return o.src === undefined ? rec : { ...rec, src: o.src };
}

describe('file storage against a model, through compactions and reopens', () => {
  it('reads back every key as last written', async () => {
    const options: FileStorageOptions = { compactMinBytes: 1 << 30, cacheRecords: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const { dir, cleanup } = await tempDir('model');
        cleanups.push(cleanup);
        const model = new Map<string, KeyRecord>();
        let s: StorageAdapter = fileStorage(dir, options);
        await s.open();
        let seq = 0;
        try {
          for (const o of ops) {
            if (o.t === 'put') {
              const rec = recordOf(++seq, o);
              await s.transact((tx) => tx.put('sp', o.k, rec));
              model.set(o.k, rec);
            } else if (o.t === 'remove') {
              await s.transact((tx) => tx.remove('sp', o.k));
              model.delete(o.k);
            } else if (o.t === 'compact') {
              await (s as ReturnType<typeof fileStorage>).compactNow();
            } else {
              await s.close();
              s = fileStorage(dir, options);
              await s.open();
            }
          }
          for (const k of ['a', 'b', 'c', 'd', 'é', '🔑', 'lone \uDC00']) {
            const got = await s.get('sp', k);
            const want = model.get(k);
            expect(got === undefined ? undefined : { ...got, vs: got.vs.map((v) => (v.v instanceof Uint8Array ? { ...v, v: [...v.v] } : v)) }, k).toEqual(
              want === undefined ? undefined : { ...want, vs: want.vs.map((v) => (v.v instanceof Uint8Array ? { ...v, v: [...v.v] } : v)) },
            );
          }
          const index = (await s.index('sp')).map((e) => [e.key, e.seq, e.h]).sort();
          expect(index).toEqual([...model].map(([k, r]) => [k, r.seq, r.h]).sort());
          expect((await s.readLog('sp', 0, 1000)).map(([k, r]) => [k, r.seq])).toEqual([...model].sort((x, y) => x[1].seq - y[1].seq).map(([k, r]) => [k, r.seq]));
        } finally {
          await s.close();
        }
      }),
      { numRuns: Number(process.env.FS_MODEL_RUNS ?? 150) },
    );
  }, 120_000);
});
