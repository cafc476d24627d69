// mergeCausal (lib/dvv.ts) merges two contexts' points replica by replica: what it gives is, for every replica either
// side lists, the maximal points of both sides' points (epoch-points.ts maximalPoints), the replicas in sorted order —
// whether it takes its shortcut (one point in all, or one per side in one epoch: a replica never restored) or not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeCausal, mergeVectors, pointsOf, type Causal } from '../lib/dvv.js';
import { maximalPoints, topCounter, type Point } from '../lib/epoch-points.js';

const epochs = ['', 'A', 'B', 'C'];
const replicas = ['r1', 'r2', 'r3'];

/** mergeCausal as it was written before its shortcut: the reference. */
function reference(reg: { parentOf(r: string, e: string): { parent: string; fork: number } | undefined }, a: Causal, b: Causal): Causal {
  const merged = mergeVectors(a.cc, b.cc);
  if (a.pts === undefined && b.pts === undefined) return { cc: merged };
  const cc: Record<string, number> = { ...merged };
  const pts: Record<string, readonly Point[]> = {};
  for (const r of [...new Set([...Object.keys(a.pts ?? {}), ...Object.keys(b.pts ?? {})])].sort()) {
    pts[r] = maximalPoints(reg, r, [...pointsOf(a, r), ...pointsOf(b, r)]);
    cc[r] = topCounter(pts[r]!);
  }
  return { cc, pts };
}

const context = fc
  .tuple(
    fc.dictionary(fc.constantFrom(...replicas), fc.nat(20)),
    fc.option(fc.dictionary(fc.constantFrom(...replicas), fc.array(fc.record({ e: fc.nat(3), n: fc.nat(20) }), { minLength: 1, maxLength: 3 })), { nil: undefined }),
  )
  .map(([cc, raw]): Causal => {
    if (raw === undefined) return { cc };
    const pts: Record<string, Point[]> = {};
    const all: Record<string, number> = { ...cc };
    for (const [r, ps] of Object.entries(raw)) {
      pts[r] = ps.map((p) => ({ e: epochs[p.e]!, n: p.n }));
      all[r] = Math.max(...pts[r]!.map((p) => p.n));
    }
    return { cc: all, pts };
  });

describe('mergeCausal', () => {
  it('gives, replica by replica in sorted order, the maximal points of both sides (shortcut or not); seed printed by fast-check, replay with EP_SEED', () => {
    const seed = process.env.EP_SEED !== undefined ? Number(process.env.EP_SEED) : undefined;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.nat(20)), { maxLength: 4 }), context, context, (links, a, b) => {
        const parents = new Map<string, { parent: string; fork: number }>();
        for (const [c, p, fork] of links) if (c !== 0 && c !== p) parents.set(epochs[c]!, { parent: epochs[p]!, fork });
        const reg = { parentOf: (_r: string, e: string) => parents.get(e) };
        const got = mergeCausal(reg, a, b);
        const want = reference(reg, a, b);
        expect(got).toEqual(want);
        expect(Object.keys(got.pts ?? {})).toEqual(Object.keys(want.pts ?? {}));
        expect(Object.keys(got.cc)).toEqual(Object.keys(want.cc));
      }),
      { numRuns: 3000, ...(seed !== undefined ? { seed } : {}) },
    );
  });

  it('a replica with one point on each side in one epoch keeps the higher; one point in all stays (asking no ancestry)', () => {
    let asked = 0;
    const reg = { parentOf: () => void asked++ };
    const a: Causal = { cc: { x: 4, y: 2 }, pts: { x: [{ e: 'E', n: 4 }] } };
    const b: Causal = { cc: { x: 7, z: 1 }, pts: { z: [{ e: 'F', n: 1 }], x: [{ e: 'E', n: 7 }] } };
    expect(mergeCausal(reg, a, b)).toEqual({ cc: { x: 7, y: 2, z: 1 }, pts: { x: [{ e: 'E', n: 7 }], z: [{ e: 'F', n: 1 }] } });
    expect(Object.keys(mergeCausal(reg, a, b).pts!)).toEqual(['x', 'z']);
    expect(asked).toBe(0);
  });
});
