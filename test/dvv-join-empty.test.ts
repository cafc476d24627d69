// A join into the empty state (a key not held yet: every client of a relay, for each fresh write it is delivered)
// gives the state it joins as it came, the same object, when that state is already in the join's canonical form —
// and otherwise exactly what the join always made. Reachable states come from the epoch simulator
// (support/epoch-dvv.ts); fast-check prints the seed of a failing run, and FC_SEED replays it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, joinWith, sameState, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { NO_EPOCHS } from '../lib/epoch-points.js';
import { eopsArb, esimulate } from './support/epoch-dvv.js';

const RUNS = Number(process.env.DVV_RUNS ?? 300);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
/** The text of a state, its keys in their order (what a record's JSON and a frame's encoding follow). */
const text = (s: KeyState): string => JSON.stringify({ vs: s.vs, cc: s.cc, pts: s.pts });
const v = (r: string, n: number, t: number, ep?: string): StoredVersion => (ep === undefined ? { r, n, t, c: 0, v: `${r}${n}` } : { r, ep, n, t, c: 0, v: `${r}${n}` });

describe('joinWith into the empty state', () => {
  it('a state of one fresh write, tagged or not, is given back itself', () => {
    const plain: KeyState = { vs: [v('a', 3, 10)], cc: { a: 3, b: 7 } };
    expect(joinWith(NO_EPOCHS, EMPTY_STATE, plain)).toBe(plain);
    const tagged: KeyState = { vs: [v('a', 3, 10, 'e1')], cc: { a: 3, b: 7 }, pts: { a: [{ e: 'e1', n: 3 }], b: [{ e: 'f1', n: 7 }] } };
    expect(joinWith(NO_EPOCHS, EMPTY_STATE, tagged)).toBe(tagged);
    // Any empty state, not only the library's own constant.
    expect(joinWith(NO_EPOCHS, { vs: [], cc: {} }, tagged)).toBe(tagged);
    const siblings: KeyState = { vs: [v('a', 3, 10), v('b', 1, 11)], cc: { a: 3, b: 1 } };
    expect(joinWith(NO_EPOCHS, EMPTY_STATE, siblings)).toBe(siblings);
  });

  it('a state not in canonical form is joined as before: sorted, one dot once, maximal points, vector entry at their top', () => {
    const cases: Array<[string, KeyState, string]> = [
      ['versions out of order', { vs: [v('b', 1, 11), v('a', 3, 10)], cc: { a: 3, b: 1 } }, text({ vs: [v('a', 3, 10), v('b', 1, 11)], cc: { a: 3, b: 1 } })],
      ['one dot twice', { vs: [v('a', 3, 10), v('a', 3, 12)], cc: { a: 3 } }, text({ vs: [v('a', 3, 10), v('a', 3, 12)], cc: { a: 3 } })],
      ['replicas of the points out of order', { vs: [v('a', 3, 10, 'e1')], cc: { a: 3, b: 7 }, pts: { b: [{ e: 'f1', n: 7 }], a: [{ e: 'e1', n: 3 }] } }, text({ vs: [v('a', 3, 10, 'e1')], cc: { a: 3, b: 7 }, pts: { a: [{ e: 'e1', n: 3 }], b: [{ e: 'f1', n: 7 }] } })],
      ['a vector entry above its points', { vs: [v('a', 3, 10, 'e1')], cc: { a: 9 }, pts: { a: [{ e: 'e1', n: 3 }] } }, text({ vs: [v('a', 3, 10, 'e1')], cc: { a: 3 }, pts: { a: [{ e: 'e1', n: 3 }] } })],
      ['two points of one epoch', { vs: [v('a', 3, 10, 'e1')], cc: { a: 3 }, pts: { a: [{ e: 'e1', n: 2 }, { e: 'e1', n: 3 }] } }, text({ vs: [v('a', 3, 10, 'e1')], cc: { a: 3 }, pts: { a: [{ e: 'e1', n: 3 }] } })],
    ];
    for (const [what, s, want] of cases) {
      const j = joinWith(NO_EPOCHS, EMPTY_STATE, s);
      expect(j, what).not.toBe(s);
      expect(text(j), what).toBe(want);
    }
  });

  it('over reachable states (restores included): what the join made before, and the state itself where its points are one a replica', () => {
    let given = 0;
    fc.assert(
      fc.property(eopsArb(true), fc.boolean(), (ops, reverse) => {
        const { lib, vpool } = esimulate(ops);
        for (const s0 of vpool) {
          // The same state with its versions reversed: not canonical once it holds two.
          const s = reverse ? { ...s0, vs: [...s0.vs].reverse() } : s0;
          const j = joinWith(lib, EMPTY_STATE, s);
          // A state joined with itself takes the join's own path (it is not empty) and gives its canonical form.
          expect(text(j)).toBe(text(joinWith(lib, s0, s0)));
          expect(sameState(j, s0)).toBe(true);
          const onePoint = Object.values(s0.pts ?? {}).every((p) => p.length === 1);
          if (onePoint && (s === s0 || s.vs.length < 2)) {
            expect(j).toBe(s);
            given++;
          } else if (s.vs.length >= 2 && s !== s0) expect(j).not.toBe(s);
        }
      }),
      { numRuns: RUNS, ...(seed === undefined ? {} : { seed }) },
    );
    expect(given).toBeGreaterThan(0);
  });
});
