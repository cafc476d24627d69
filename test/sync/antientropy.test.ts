import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalStateText, type KeyState } from '../../lib/dvv.js';
import { hash64, loadHasher } from '../../lib/hash.js';
import { runAntiEntropy, type Side } from '../../lib/sync/antientropy.js';
import { MerkleTree } from '../../lib/sync/merkle.js';

beforeAll(loadHasher);

function tree(entries: Iterable<readonly [string, string]>): MerkleTree {
  const t = new MerkleTree();
  for (const [k, h] of entries) t.set(k, h);
  return t;
}

const h = (s: string) => hash64(s);

/** One version by replica `r`, counter `n` (its own context). */
const st = (r: string, n: number): KeyState => ({ vs: [{ r, n, t: 0, c: 0 }], cc: { [r]: n } });

function side(states: Map<string, KeyState>): Side {
  const t = new MerkleTree();
  for (const [k, s] of states) t.set(k, hash64(canonicalStateText(k, s)));
  return { tree: t, states };
}

describe('Merkle tree', () => {
  it('is updated incrementally: same contents, same hashes, whatever the order', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    const a = tree(keys.map((k) => [k, h(k + 'v1')]));
    const b = tree([...keys].reverse().map((k) => [k, h(k + 'v0')]));
    expect(a.sameAs(b)).toBe(false);
    for (const k of keys) b.set(k, h(k + 'v1'));
    expect(a.sameAs(b)).toBe(true);
    b.set('extra', h('x'));
    expect(a.sameAs(b)).toBe(false);
    b.set('extra', undefined);
    expect(a.sameAs(b)).toBe(true);
    expect(b.keyCount).toBe(500);
  });
});

describe('anti-entropy', () => {
  it('finds exactly the differing keys, and sends each only to the side that lacks something of it (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.constantFrom('a', 'b', 'both')), { maxLength: 60 }),
        async (n, diffs) => {
          const base = new Map<string, KeyState>();
          for (let i = 0; i < n; i++) base.set(`k${i}`, st('base', 1));
          const a = new Map(base);
          const b = new Map(base);
          // 'a' or 'b': that side wrote over the base (the other lacks its version); 'both': concurrent writes.
          for (const [i, who] of diffs) {
            const k = `k${i}`;
            if (who !== 'b') a.set(k, { vs: [{ r: 'wa', n: 1, t: 0, c: 0 }], cc: { base: base.has(k) ? 1 : 0, wa: 1 } });
            if (who !== 'a') b.set(k, { vs: [{ r: 'wb', n: 1, t: 0, c: 0 }], cc: { base: base.has(k) ? 1 : 0, wb: 1 } });
          }
          for (const m of [a, b]) for (const [k, s] of m) if (s.cc.base === 0) m.set(k, { vs: s.vs, cc: { [s.vs[0]!.r]: 1 } });
          const touched = new Map<string, Set<string>>();
          for (const [i, who] of diffs) touched.set(`k${i}`, new Set([...(touched.get(`k${i}`) ?? []), ...(who === 'both' ? ['a', 'b'] : [who])]));
          const r = await runAntiEntropy(side(a), side(b));
          for (const [k, who] of touched) {
            // A side's new version goes to the other; a side whose state the other dominates sends nothing.
            expect(r.aToB.has(k)).toBe(who.has('a'));
            expect(r.bToA.has(k)).toBe(who.has('b'));
          }
          for (const k of [...r.aToB, ...r.bToA]) expect(touched.has(k)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('equal trees settle in one round trip', async () => {
    const states = new Map(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, st('r', 1 + (i % 7))] as const));
    const r = await runAntiEntropy(side(states), side(new Map(states)));
    expect(r.roundTrips).toBe(1);
    expect(r.aToB.size + r.bToA.size).toBe(0);
  });
});
