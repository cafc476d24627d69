import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { covers, join, update, type KeyState } from '../lib/dvv.js';
import { dot, normal, opsArb, opsWithRestoresArb, simulate } from './support/dvv-sim.js';

const pick = (pool: KeyState[], i: number) => pool[i % pool.length]!;
const triple = fc.tuple(opsArb, fc.nat(), fc.nat(), fc.nat());

describe('dvv join over reachable states', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(triple, ([ops, i, j]) => {
        const { pool } = simulate(ops);
        const a = pick(pool, i);
        const b = pick(pool, j);
        expect(normal(join(a, b))).toEqual(normal(join(b, a)));
      }),
      { numRuns: 300 },
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(triple, ([ops, i, j, k]) => {
        const { pool } = simulate(ops);
        const [a, b, c] = [pick(pool, i), pick(pool, j), pick(pool, k)];
        expect(normal(join(join(a, b), c))).toEqual(normal(join(a, join(b, c))));
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent, and absorbs what it already contains', () => {
    fc.assert(
      fc.property(triple, ([ops, i, j]) => {
        const { pool } = simulate(ops);
        const a = pick(pool, i);
        const b = pick(pool, j);
        expect(normal(join(a, a))).toEqual(normal(a));
        const ab = join(a, b);
        expect(normal(join(ab, b))).toEqual(normal(ab));
        expect(normal(join(ab, a))).toEqual(normal(ab));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps exactly the dots no write had seen, once every state is joined (the causal specification)', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const { replicas, written, superseded, writes } = simulate(ops);
        const all = replicas.map((x) => x.state).reduce(join);
        const expected = [...written].filter((d) => !superseded.has(d)).sort();
        expect(all.vs.map(dot).sort()).toEqual(expected);
        // And each replica alone holds exactly the dots it has seen that no write it knows of had seen.
        for (const x of replicas) {
          const seenByKnownWrite = (d: string) => [...x.hist].some((w) => writes.get(w)!.has(d));
          expect(x.state.vs.map(dot).sort(), `replica ${x.r}`).toEqual([...x.hist].filter((d) => !seenByKnownWrite(d)).sort());
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('dvv join with replicas restored from older copies', () => {
  // A restored replica mints its lost dots again (for other values) and writes with contexts that cover lost
  // versions it never saw. Whatever a join then keeps, it must stay a semilattice, or replicas that exchanged the
  // same states would not converge. (This law is what sank keeping a lost version by its writer's own context
  // entry at write time: a merged context cannot say which write covered a dot, and the outcome came to depend on
  // the order of joins.)
  const withRestores = fc.tuple(opsWithRestoresArb, fc.nat(), fc.nat(), fc.nat());
  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(withRestores, ([ops, i, j, k]) => {
        const { pool } = simulate(ops);
        const [a, b, c] = [pick(pool, i), pick(pool, j), pick(pool, k)];
        expect(normal(join(a, b))).toEqual(normal(join(b, a)));
        expect(normal(join(join(a, b), c))).toEqual(normal(join(a, join(b, c))));
        expect(normal(join(a, a))).toEqual(normal(a));
        const ab = join(a, b);
        expect(normal(join(ab, b))).toEqual(normal(ab));
      }),
      { numRuns: Number(process.env.DVV_RUNS ?? 1000) },
    );
  });
});

describe('dvv update', () => {
  it('supersedes exactly the versions its context covers; the others survive', () => {
    fc.assert(
      fc.property(opsArb, fc.nat(2), fc.nat(), fc.boolean(), (ops, i, k, useOld) => {
        const { replicas } = simulate(ops);
        const x = replicas[i]!;
        const ctx = useOld && x.reads.length > 0 ? x.reads[k % x.reads.length]!.cc : x.state.cc;
        const n = x.seq + 1;
        const version = { r: x.r, n, t: n, c: 0, v: '"new"' };
        const u = update(x.state, ctx, version);
        for (const v of x.state.vs) {
          const kept = u.vs.some((w) => w.r === v.r && w.n === v.n);
          expect(kept, `version ${dot(v)} with context ${JSON.stringify(ctx)}`).toBe(!covers(ctx, v.r, v.n));
        }
        expect(u.vs.filter((w) => w.r === version.r && w.n === n)).toEqual([version]);
        expect(u.vs.length).toBe(x.state.vs.filter((v) => !covers(ctx, v.r, v.n)).length + 1);
        expect(covers(u.cc, x.r, n)).toBe(true);
        // The new state dominates the old one: joining the old state back changes nothing.
        expect(normal(join(u, x.state))).toEqual(normal(u));
      }),
      { numRuns: 300 },
    );
  });
});

// A writer restored from an older copy that nobody told mints its lost dots again for other writes (issue 10, N2):
// two states then hold one dot under two HLCs. Whatever order they meet in, every replica keeps the same one.
describe('dvv join when a dot was minted twice', () => {
  /** `s` with the writes of one replica past counter `from` minted again at later times (another value). */
  const remint = (s: KeyState, r: string, from: number, later: number): KeyState => ({
    vs: s.vs.map((v) => (v.r === r && v.n > from ? { ...v, t: v.t + later, v: JSON.stringify(`again ${v.n}`) } : v)),
    cc: s.cc,
  });
  const quad = fc.tuple(opsArb, fc.nat(), fc.nat(), fc.nat(), fc.nat(3), fc.integer({ min: 1, max: 1000 }));

  it('is commutative, associative and idempotent, and keeps the write minted first', () => {
    fc.assert(
      fc.property(quad, ([ops, i, j, k, from, later]) => {
        const { pool } = simulate(ops);
        const a = pick(pool, i);
        const r = a.vs[0]?.r ?? 'r0';
        const b = remint(pick(pool, j), r, from, later);
        const c = pick(pool, k);
        expect(normal(join(a, b))).toEqual(normal(join(b, a)));
        expect(normal(join(join(a, b), c))).toEqual(normal(join(a, join(b, c))));
        expect(normal(join(join(a, b), a))).toEqual(normal(join(a, b)));
        const joined = join(a, b);
        for (const v of joined.vs) {
          const original = a.vs.find((u) => u.r === v.r && u.n === v.n);
          if (original) expect(v.t, `dot ${v.r}:${v.n}`).toBe(original.t);
        }
      }),
      { numRuns: 300 },
    );
  });
});
