/**
 * N replicas (2–6) write, delete and write with (possibly stale, possibly foreign) contexts, and exchange key
 * states in random orders through core.join of stored records. Checked against a causal-history model:
 * every replica's versions are exactly the dots it has seen that no write it has seen had seen — so no
 * resolved write is lost unless a write that had seen it superseded it — and after a full exchange every
 * replica reads the same siblings, value and versions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Replica } from '../lib/index.js';
import { exchange, replicas } from './support/replicas.js';

const KEYS = ['k0', 'k1'];
const SPACE = 's';

type Op =
  | { t: 'put'; i: number; k: number; ctx: number | null }
  | { t: 'del'; i: number; k: number; ctx: number | null }
  | { t: 'read'; i: number; k: number }
  | { t: 'send'; i: number; j: number; k: number };

const op = (n: number): fc.Arbitrary<Op> => {
  const i = fc.nat(n - 1);
  const k = fc.nat(KEYS.length - 1);
  const ctx = fc.option(fc.nat(20), { freq: 2 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), i, k, ctx }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), i, k, ctx }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), i, k }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('send' as const), i, j: i, k }) },
  );
};

const scenario = fc.integer({ min: 2, max: 6 }).chain((n) =>
  fc.record({ n: fc.constant(n), ops: fc.array(op(n), { minLength: 5, maxLength: 60, size: 'max' }), order: fc.array(fc.nat(), { minLength: n * KEYS.length, maxLength: n * KEYS.length }) }),
);

interface Read {
  key: string;
  context: string;
  hist: Set<string>;
}

class Model {
  /** hist[i][key]: dots replica i has seen of key. */
  readonly hist: Array<Map<string, Set<string>>>;
  /** For each write: its key, what it had seen, its value (undefined for a tombstone). */
  readonly writes = new Map<string, { key: string; seen: Set<string>; value: unknown; deleted: boolean }>();
  readonly reads: Read[] = [];
  constructor(n: number) {
    this.hist = Array.from({ length: n }, () => new Map());
  }
  seen(i: number, key: string): Set<string> {
    let s = this.hist[i]!.get(key);
    if (!s) this.hist[i]!.set(key, (s = new Set()));
    return s;
  }
  /** The exact specification of what replica i must hold of key. */
  expected(i: number, key: string): string[] {
    const hist = this.seen(i, key);
    return [...hist].filter((d) => ![...hist].some((w) => this.writes.get(w)!.seen.has(d))).sort();
  }
}

async function versionsOf(r: Replica, key: string): Promise<string[]> {
  const rec = await r.core.storage.get(SPACE, key);
  return (rec?.vs ?? []).map((v) => `${v.r}:${v.n}`).sort();
}

describe('convergence of N replicas exchanging key states', () => {
  it('every replica holds exactly the causally unsuperseded writes, and all converge', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, ops, order }) => {
        const reps = await replicas(n);
        const model = new Model(n);
        let counter = 0;
        for (const o of ops) {
          const r = reps[o.i]!;
          const space = r.space(SPACE);
          const key = KEYS[o.k]!;
          if (o.t === 'read') {
            const got = await space.get(key);
            if (got) model.reads.push({ key, context: got.context, hist: new Set(model.seen(o.i, key)) });
            continue;
          }
          if (o.t === 'send') {
            const to = (o.i + 1 + (o.j % (n - 1))) % n;
            await exchange(r, reps[to]!, SPACE, [key]);
            for (const d of model.seen(o.i, key)) model.seen(to, key).add(d);
            continue;
          }
          // A context from an earlier read of this key, on any replica (contexts cross tabs and processes).
          const reads = model.reads.filter((x) => x.key === key);
          const read = o.ctx !== null && reads.length > 0 ? reads[o.ctx % reads.length]! : undefined;
          const value = o.t === 'put' ? `v${++counter}` : undefined;
          const options = read ? { context: read.context } : undefined;
          const w = o.t === 'put' ? await space.put(key, value, options) : await space.delete(key, options);
          if (w.seq === 0) {
            // Only a delete of nothing live, without a context, writes nothing.
            expect(o.t === 'del' && !read).toBe(true);
            continue;
          }
          const d = `${r.replicaId}:${w.seq}`;
          const hist = model.seen(o.i, key);
          const seen = new Set(read ? read.hist : hist);
          model.writes.set(d, { key, seen, value, deleted: o.t === 'del' });
          if (read) for (const x of read.hist) hist.add(x);
          hist.add(d);
        }
        for (let i = 0; i < n; i++) {
          for (const key of KEYS) expect(await versionsOf(reps[i]!, key), `replica ${i} ${key} before exchange`).toEqual(model.expected(i, key));
        }

        // Full exchange in a random order: everyone to a random hub, then the hub to everyone.
        const hub = order[0]! % n;
        const pairs = KEYS.flatMap((key) => Array.from({ length: n }, (_, i) => [i, key] as const));
        const shuffled = pairs.map((p, x) => [order[x]!, p] as const).sort((a, b) => a[0] - b[0]).map(([, p]) => p);
        for (const [i, key] of shuffled) {
          await exchange(reps[i]!, reps[hub]!, SPACE, [key]);
          for (const d of model.seen(i, key)) model.seen(hub, key).add(d);
        }
        for (const [i, key] of shuffled) {
          await exchange(reps[hub]!, reps[i]!, SPACE, [key]);
          for (const d of model.seen(hub, key)) model.seen(i, key).add(d);
        }

        for (const key of KEYS) {
          const expected = model.expected(hub, key);
          const states = await Promise.all(reps.map((r) => r.core.storage.get(SPACE, key)));
          const reads = await Promise.all(reps.map((r) => r.space(SPACE).get(key)));
          for (let i = 0; i < n; i++) {
            expect(await versionsOf(reps[i]!, key), `replica ${i} ${key}`).toEqual(expected);
            expect(states[i]?.h).toBe(states[0]?.h);
            expect(states[i]?.cc).toEqual(states[0]?.cc);
            expect(reads[i]).toEqual(reads[0]);
          }
          // Every surviving version carries the value written under its dot.
          for (const v of reads[0]?.versions ?? []) {
            const w = model.writes.get(`${v.replicaId}:${v.counter}`)!;
            expect(v.deleted).toBe(w.deleted);
            if (!w.deleted) expect(v.value).toBe(w.value);
          }
          const live = expected.filter((d) => !model.writes.get(d)!.deleted);
          if (live.length === 0) expect(reads[0]).toBeUndefined();
          else expect(reads[0]!.siblings).toHaveLength(live.length);
        }
      }),
      { numRuns: 80 },
    );
  });
});
