/**
 * The Merkle tree against a brute-force oracle: every node's hash is the XOR of its keys' hashes and its
 * count their number, whatever mix of sets and removals built it and whether its levels are sparse or
 * dense (issue 11 #3: trees are sparse until full enough). Seeded: fast-check prints the seed.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hash64, loadHasher } from '../../lib/hash.js';
import { ARITY, bucketOf, DEPTH, MerkleTree, nodesAt } from '../../lib/sync/merkle.js';

beforeAll(loadHasher);

/** What a node must hold, computed from scratch. */
function oracle(state: Map<string, string>, level: number, index: number): { hash: string; count: number; keys: string[] } {
  const span = ARITY ** (DEPTH - level);
  let hi = 0;
  let lo = 0;
  const keys: Array<[number, string]> = [];
  for (const [k, h] of state) {
    const b = bucketOf(k);
    if (b < index * span || b >= (index + 1) * span) continue;
    hi = (hi ^ parseInt(h.slice(0, 8), 16)) >>> 0;
    lo = (lo ^ parseInt(h.slice(8, 16), 16)) >>> 0;
    keys.push([b, k]);
  }
  keys.sort((a, b) => a[0] - b[0]);
  return { hash: hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'), count: keys.length, keys: keys.map(([, k]) => k) };
}

describe('Merkle tree (sparse until dense)', () => {
  it('matches the oracle after any sequence of sets and removals (property)', () => {
    const op = fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12_000 }), fc.array(fc.tuple(fc.integer({ min: 0, max: DEPTH }), fc.nat()), { minLength: 1, maxLength: 20 }), (ops, probes) => {
        const tree = new MerkleTree();
        const state = new Map<string, string>();
        for (const [i, v] of ops) {
          const k = `k${i}`;
          const h = v === undefined ? undefined : hash64(`${k}:${v}`);
          tree.set(k, h);
          if (h === undefined) state.delete(k);
          else state.set(k, h);
        }
        expect(tree.keyCount).toBe(state.size);
        for (const [level, n] of [[0, 0] as const, ...probes]) {
          // Probe nodes that hold keys as well as arbitrary ones.
          const keyed = [...state.keys()];
          const index = n % 2 === 0 && keyed.length > 0 ? bucketOf(keyed[n % keyed.length]!) >>> (4 * (DEPTH - level)) : n % nodesAt(level);
          const want = oracle(state, level, index);
          expect(tree.hash(level, index)).toBe(want.hash);
          expect(tree.count(level, index)).toBe(want.count);
          const under = tree.keysUnder(level, index).map(([k]) => k);
          // Within a bucket the order is insertion order; across buckets, bucket order.
          expect([...under].sort()).toEqual([...want.keys].sort());
          expect(under.map(bucketOf)).toEqual([...under.map(bucketOf)].sort((a, b) => a - b));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('holds memory in proportion to its keys: an empty tree holds no node, a full one every node', () => {
    const empty = new MerkleTree();
    expect(empty.nodesHeld).toBe(0);
    expect(empty.hash(0, 0)).toBe('0000000000000000');
    const small = new MerkleTree();
    for (let i = 0; i < 10; i++) small.set(`k${i}`, hash64(`v${i}`));
    expect(small.nodesHeld).toBeLessThanOrEqual(5 * 10 + 17);
    const big = new MerkleTree();
    for (let i = 0; i < 100_000; i++) big.set(`k${i}`, hash64(`v${i}`));
    let all = 0;
    for (let l = 0; l <= DEPTH; l++) all += nodesAt(l);
    expect(big.nodesHeld).toBe(all);
    for (let i = 0; i < 100_000; i++) big.set(`k${i}`, undefined);
    expect(big.hash(0, 0)).toBe('0000000000000000');
    expect(big.keyCount).toBe(0);
  });
});
