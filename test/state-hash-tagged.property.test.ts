/**
 * At protocol 11 most states name epochs (versions `r:n@e`, context points), and every replica storing one hashed it by
 * building its canonical text first (dvv.ts stateHash took the text's way for any tagged state): each of S7's 100
 * clients, per delivered write. Such states are now written straight into the hasher's scratch buffer too. The hash
 * must equal the canonical text's byte for byte (stored trees, peers on older code); fast-check prints the seed of a
 * failing run, and the seed replays it. Which way a state took is counted through the hasher's two entries.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { canonicalStateText, stateHash, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { UNTAGGED, type Point } from '../lib/epoch-points.js';
import { hash64, loadHasher } from '../lib/hash.js';

const ways = vi.hoisted(() => ({ text: 0, scratch: 0 }));
vi.mock('../lib/hash.js', async (importOriginal) => {
  const hash = await importOriginal<typeof import('../lib/hash.js')>();
  return {
    ...hash,
    hash64: (...a: Parameters<typeof hash.hash64>) => (ways.text++, hash.hash64(...a)),
    hash64Scratch: (...a: Parameters<typeof hash.hash64Scratch>) => (ways.scratch++, hash.hash64Scratch(...a)),
  };
});

beforeAll(loadHasher);

// Names of Object.prototype members are no replica ids (dvv.ts isReplicaId): a context's points are looked up by id.
const id = fc
  .oneof(
    fc.string({ minLength: 16, maxLength: 16 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), // not ASCII: the text's way
    fc.constantFrom('a', 'b', 'AbCdEfGhIjKlMnOp'),
  )
  .filter((r) => !(r in Object.prototype));
const label = fc.oneof(fc.constantFrom('E1', 'AbCdEfGh', 'x'), fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }));
const counter = fc.oneof(fc.nat(1000), fc.constantFrom(0, 9, 10, 99, 100, 2 ** 31, 2 ** 48, Number.MAX_SAFE_INTEGER), fc.constantFrom(-1, 1.5, 1e21));
const version = fc.record({ r: id, n: counter, t: fc.nat(), c: fc.nat(10), d: fc.option(fc.constant(1 as const), { nil: undefined }), ep: fc.option(label, { nil: undefined }) });
const point = fc.record({ e: fc.oneof(fc.constant(UNTAGGED), label), n: counter });
const state = fc.record({
  vs: fc.array(version, { maxLength: 6 }),
  cc: fc.dictionary(id, counter, { maxKeys: 6 }),
  // Points for some of the context's replicas (and, hostile, for one it lacks: neither way writes it).
  pts: fc.option(fc.dictionary(id, fc.array(point, { maxLength: 4 }), { maxKeys: 4 }), { nil: undefined }),
  pointsOf: fc.array(fc.array(point, { minLength: 0, maxLength: 4 }), { maxLength: 6 }),
});
const key = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ minLength: 300, maxLength: 2000 }));

/** A state from the generated parts: points for the context replicas `pointsOf` names, beside the generated `pts`. */
function build(raw: { vs: Array<{ r: string; n: number; t: number; c: number; d?: 1 | undefined; ep?: string | undefined }>; cc: Record<string, number>; pts?: Record<string, Point[]> | undefined; pointsOf: Point[][] }): KeyState {
  const vs = raw.vs.map((v) => ({ r: v.r, n: v.n, t: v.t, c: v.c, ...(v.d ? { d: v.d } : {}), ...(v.ep !== undefined ? { ep: v.ep } : {}) })) as StoredVersion[];
  const pts: Record<string, Point[]> = { ...raw.pts };
  Object.keys(raw.cc).forEach((r, i) => raw.pointsOf[i] !== undefined && (pts[r] = raw.pointsOf[i]!));
  return Object.keys(pts).length > 0 ? { vs, cc: raw.cc, pts } : { vs, cc: raw.cc };
}

describe('stateHash of states naming epochs', () => {
  it('is the hash of the canonical state text, for any key, ids, labels, points and counters', () => {
    fc.assert(
      fc.property(key, state, (k, raw) => {
        const s = build(raw);
        expect(stateHash(k, s)).toBe(hash64(canonicalStateText(k, s)));
      }),
      { numRuns: 3000 },
    );
  });

  it('is written straight into the scratch buffer, without the canonical text', () => {
    const s: KeyState = {
      vs: [{ r: 'writerAAAAAAAAAA', n: 12, t: 1, c: 0, v: '1', ep: 'E7' }, { r: 'otherBBBBBBBBBBB', n: 3, t: 1, c: 0, v: '2' }],
      cc: { writerAAAAAAAAAA: 12, otherBBBBBBBBBBB: 3 },
      pts: { writerAAAAAAAAAA: [{ e: UNTAGGED, n: 4 }, { e: 'E7', n: 12 }] },
    };
    const expected = hash64(canonicalStateText('k', s));
    ways.text = ways.scratch = 0;
    expect(stateHash('k', s)).toBe(expected);
    expect(ways).toEqual({ text: 0, scratch: 1 });
    // A label that is not plain ASCII still takes the text's way, with the same hash.
    const odd: KeyState = { vs: [{ r: 'w', n: 1, t: 1, c: 0, v: '1', ep: 'é' }], cc: { w: 1 }, pts: { w: [{ e: 'é', n: 1 }] } };
    ways.text = ways.scratch = 0;
    expect(stateHash('k', odd)).toBe(hash64(canonicalStateText('k', odd)));
    expect(ways.text).toBe(2);
  });
});
