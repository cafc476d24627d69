import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hash64, loadHasher } from '../../lib/hash.js';
import { runAntiEntropy } from '../../lib/sync/antientropy.js';
import { MerkleTree } from '../../lib/sync/merkle.js';

beforeAll(loadHasher);

function tree(entries: Iterable<readonly [string, string]>): MerkleTree {
  const t = new MerkleTree();
  for (const [k, h] of entries) t.set(k, h);
  return t;
}

const h = (s: string) => hash64(s);

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
  it('finds exactly the differing keys, both ways (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.constantFrom('a', 'b', 'both')), { maxLength: 60 }),
        (n, diffs) => {
          const base = new Map<string, string>();
          for (let i = 0; i < n; i++) base.set(`k${i}`, h(`k${i}:0`));
          const a = new Map(base);
          const b = new Map(base);
          for (const [i, side] of diffs) {
            const k = `k${i}`;
            if (side !== 'b') a.set(k, h(`${k}:a`));
            if (side !== 'a') b.set(k, h(`${k}:b`));
          }
          const expected = new Set([...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)));
          const r = runAntiEntropy(tree(a), tree(b));
          for (const k of expected) {
            if (a.has(k)) expect(r.aToB.has(k)).toBe(true);
            if (b.has(k)) expect(r.bToA.has(k)).toBe(true);
          }
          for (const k of r.aToB) expect(expected.has(k)).toBe(true);
          for (const k of r.bToA) expect(expected.has(k)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('equal trees settle in one round trip', () => {
    const entries = Array.from({ length: 100_000 }, (_, i) => [`k${i}`, h(`k${i}`)] as const);
    const r = runAntiEntropy(tree(entries), tree(entries));
    expect(r.roundTrips).toBe(1);
    expect(r.aToB.size + r.bToA.size).toBe(0);
  });
});
