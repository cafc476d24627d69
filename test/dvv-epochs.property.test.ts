// Issue 10's residual, at the level of the data type: a replica restored from an older copy mints its lost
// counters again, and a vector context (lib/dvv.ts) covering the new dot covers the lost one too, so a write that
// was acknowledged can be dropped. The model in support/epoch-dvv.ts names each open's epoch in the dot and keeps
// one context point per branch of a replica's epochs. These tests check that model against the same kind of
// schedules as dvv.property.test.ts, restores and reopens included: it must stay a semilattice, keep exactly what
// the causal specification keeps, and cost no more than a vector while nobody is restored.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from '../lib/dvv.js';
import { edot, ejoin, enormal, eopsArb, esimulate, survivors, type EState } from './support/epoch-dvv.js';

const RUNS = Number(process.env.DVV_RUNS ?? 500);
const pick = (pool: EState[], i: number) => pool[i % pool.length]!;

describe('dots that name their epoch (the model of issue 10’s fix)', () => {
  it('join is commutative, associative and idempotent over reachable states, restores included', () => {
    fc.assert(
      fc.property(eopsArb(true), fc.nat(), fc.nat(), fc.nat(), (ops, i, j, k) => {
        const { reg, pool } = esimulate(ops);
        const [a, b, c] = [pick(pool, i), pick(pool, j), pick(pool, k)];
        expect(enormal(ejoin(reg, a, b))).toEqual(enormal(ejoin(reg, b, a)));
        expect(enormal(ejoin(reg, ejoin(reg, a, b), c))).toEqual(enormal(ejoin(reg, a, ejoin(reg, b, c))));
        expect(enormal(ejoin(reg, a, a))).toEqual(enormal(a));
        const ab = ejoin(reg, a, b);
        expect(enormal(ejoin(reg, ab, b))).toEqual(enormal(ab));
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps exactly the writes no write had seen once every state is joined, restores included', () => {
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const sim = esimulate(ops);
        const all = sim.replicas.map((x) => x.state).reduce((a, b) => ejoin(sim.reg, a, b));
        expect(all.vs.map(edot).sort()).toEqual(survivors(sim));
      }),
      { numRuns: RUNS },
    );
  });

  it('holds one context point per replica while no replica is restored (reopens only): a vector’s size', () => {
    fc.assert(
      fc.property(eopsArb(false), (ops) => {
        const { pool } = esimulate(ops);
        for (const s of pool) for (const [r, points] of s.cc) expect(points.length, `replica ${r}`).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });

  // Today's vector contexts on the same schedules: a restored writer's new dot covers its lost one, and the lost
  // write is dropped where it was acknowledged. Expected to fail until dots name their epoch in lib/dvv.ts. On a
  // fixed seed: a random one finds the loss within 28 to 331 runs of seven seeds tried, so 500 random runs missed it
  // now and then and this expected failure flipped (seed 3 finds it at run 28).
  it.fails('today (lib/dvv.ts, vector contexts) keeps exactly the writes no write had seen, restores included', () => {
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const sim = esimulate(ops);
        const all = sim.replicas.map((x) => x.vstate).reduce(join);
        const expected = survivors(sim).map((d) => sim.steps.get(d)!);
        expect(all.vs.map((v) => v.t).sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
      }),
      { numRuns: Math.max(RUNS, 100), seed: 3 },
    );
  });
});
