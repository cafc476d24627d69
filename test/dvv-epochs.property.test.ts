// Issue 10's residual, at the level of the data type: a replica restored from an older copy mints its lost
// counters again, and a vector context covering the new dot covers the lost one too, so a write that was
// acknowledged can be dropped. The model in support/epoch-dvv.ts names each open's epoch in the dot and keeps
// one context point per branch of a replica's epochs. These tests check that model against the same kind of
// schedules as dvv.property.test.ts, restores and reopens included: it must stay a semilattice, keep exactly what
// the causal specification keeps, and cost no more than a vector while nobody is restored. lib/dvv.ts carries
// epochs the same way (epoch-points.ts): its states on the same schedules are checked against the model's, state by
// state, and for the same laws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalStateText, decodeCausal, encodeContext, joinWith, sameState, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { normal } from './support/dvv-sim.js';
import { edot, ejoin, enormal, eopsArb, esimulate, survivors, type EState } from './support/epoch-dvv.js';

const RUNS = Number(process.env.DVV_RUNS ?? 500);
const pick = <S>(pool: S[], i: number): S => pool[i % pool.length]!;

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

  // lib/dvv.ts on the same schedules, its dots naming their epochs and its contexts holding points (joinWith and
  // updateWith with the registry of the replicas' epochs). With vector contexts (dots without epochs) this failed on a
  // fixed seed: a restored writer's new dot covered its lost one, and the lost write was dropped where it was
  // acknowledged (seed 3 finds it at run 28; a random seed within 28 to 331 runs of seven tried).
  it('lib/dvv.ts, dots naming their epochs, keeps exactly the writes no write had seen, restores included', () => {
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const sim = esimulate(ops);
        const all = sim.replicas.map((x) => x.vstate).reduce((a, b) => joinWith(sim.lib, a, b));
        const expected = survivors(sim).map((d) => sim.steps.get(d)!);
        expect(all.vs.map((v) => v.t).sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
      }),
      { numRuns: Math.max(RUNS, 100), seed: 3 },
    );
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const sim = esimulate(ops);
        const all = sim.replicas.map((x) => x.vstate).reduce((a, b) => joinWith(sim.lib, a, b));
        expect(all.vs.map((v) => v.t).sort((x, y) => x - y)).toEqual(survivors(sim).map((d) => sim.steps.get(d)!).sort((x, y) => x - y));
      }),
      { numRuns: RUNS },
    );
  });

  it('lib/dvv.ts holds exactly the model’s states: the same dots and the same context points', () => {
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const { pool, vpool } = esimulate(ops);
        expect(vpool.length).toBe(pool.length);
        for (let i = 0; i < pool.length; i++) expect(asModel(vpool[i]!), `state ${i}`).toEqual(enormal(pool[i]!));
      }),
      { numRuns: RUNS },
    );
  });

  it('lib/dvv.ts joinWith is commutative, associative and idempotent over reachable states, restores included', () => {
    fc.assert(
      fc.property(eopsArb(true), fc.nat(), fc.nat(), fc.nat(), (ops, i, j, k) => {
        const { lib, vpool } = esimulate(ops);
        const [a, b, c] = [pick(vpool, i), pick(vpool, j), pick(vpool, k)];
        const J = (x: KeyState, y: KeyState) => joinWith(lib, x, y);
        expect(normal(J(a, b))).toEqual(normal(J(b, a)));
        expect(normal(J(J(a, b), c))).toEqual(normal(J(a, J(b, c))));
        expect(normal(J(a, a))).toEqual(normal(a));
        const ab = J(a, b);
        expect(normal(J(ab, b))).toEqual(normal(ab));
        expect(sameState(J(a, b), J(b, a))).toBe(true);
        expect(canonicalStateText('k', J(J(a, b), c))).toBe(canonicalStateText('k', J(a, J(b, c))));
      }),
      { numRuns: RUNS },
    );
  });

  it('lib/dvv.ts contexts with points travel as text and back unchanged, over reachable states', () => {
    fc.assert(
      fc.property(eopsArb(true), (ops) => {
        const { vpool } = esimulate(ops);
        for (const s of vpool) {
          const back = decodeCausal(encodeContext(s.cc, s.pts))!;
          expect(back.cc).toEqual(s.cc);
          expect(back.pts ?? {}).toEqual(s.pts ?? {});
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('lib/dvv.ts holds one context point per replica while no replica is restored (reopens only)', () => {
    fc.assert(
      fc.property(eopsArb(false), (ops) => {
        const { vpool } = esimulate(ops);
        for (const s of vpool) {
          expect(Object.keys(s.pts ?? {}).sort()).toEqual(Object.keys(s.cc).sort());
          for (const [r, points] of Object.entries(s.pts ?? {})) {
            expect(points.length, `replica ${r}`).toBe(1);
            expect(points[0]!.n).toBe(s.cc[r]);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

/**
 * A lib/dvv.ts state in the model's normal form (every dot of these schedules names its epoch). The model orders
 * versions by (replica, epoch, counter), the library by (replica, counter, epoch), so untagged states keep their order.
 */
function asModel(s: KeyState): unknown {
  const byModel = (a: StoredVersion, b: StoredVersion) => (a.r !== b.r ? (a.r < b.r ? -1 : 1) : a.ep !== b.ep ? (a.ep! < b.ep! ? -1 : 1) : a.n - b.n);
  return {
    vs: [...s.vs].sort(byModel).map(({ r, ep, n, t, d, v }) => ({ r, e: ep, n, t, ...(d ? { d } : {}), ...(v !== undefined ? { v: JSON.parse(v as string) as string } : {}) })),
    cc: Object.keys(s.cc)
      .sort()
      .map((r) => [r, (s.pts?.[r] ?? []).map((p) => `${p.e}:${p.n}`)]),
  };
}
