/**
 * The state hash a record stores (and anti-entropy compares) is written straight as UTF-8 bytes (dvv.ts stateHash);
 * it must equal the hash of the canonical text it replaced byte for byte, or stored trees and peers running the
 * older code would see every key as different. fast-check prints the seed of a failing run; the seed replays it.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalStateText, stateHash, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { hash64, loadHasher } from '../lib/hash.js';

beforeAll(loadHasher);

const id = fc.oneof(
  fc.string({ minLength: 16, maxLength: 16 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), // not ASCII: the text's way
  fc.constantFrom('a', 'b', 'AbCdEfGhIjKlMnOp'),
);
const counter = fc.oneof(fc.nat(1000), fc.constantFrom(0, 9, 10, 99, 100, 2 ** 31, 2 ** 48, Number.MAX_SAFE_INTEGER), fc.constantFrom(-1, 1.5));
const version = fc.record({ r: id, n: counter, t: fc.nat(), c: fc.nat(10), d: fc.option(fc.constant(1 as const), { nil: undefined }) });
const state = fc.record({
  vs: fc.array(version, { maxLength: 6 }),
  cc: fc.dictionary(id, counter, { maxKeys: 8 }),
});
const key = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ minLength: 300, maxLength: 2000 }));

describe('stateHash', () => {
  it('is the hash of the canonical state text, for any key, ids and counters', () => {
    fc.assert(
      fc.property(key, state, (k, raw) => {
        const vs = raw.vs.map((v) => (v.d ? v : { r: v.r, n: v.n, t: v.t, c: v.c })) as StoredVersion[];
        const s: KeyState = { vs, cc: raw.cc };
        expect(stateHash(k, s)).toBe(hash64(canonicalStateText(k, s)));
      }),
      { numRuns: 2000 },
    );
  });

  it('does not depend on what an earlier, longer state left in its buffer', () => {
    const long: KeyState = { vs: [{ r: 'x'.repeat(5000), n: 7, t: 1, c: 0 }], cc: { ['x'.repeat(5000)]: 7 } };
    const short: KeyState = { vs: [{ r: 'a', n: 1, t: 1, c: 0 }], cc: { a: 1 } };
    const before = stateHash('k', short);
    stateHash('k'.repeat(4000), long);
    expect(stateHash('k', short)).toBe(before);
    expect(before).toBe(hash64(canonicalStateText('k', short)));
  });
});
