import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeContext, EMPTY_STATE, encodeContext, join, sameState, update, type StoredVersion } from '../lib/dvv.js';

const ver = (r: string, n: number, d = false): StoredVersion => (d ? { r, n, t: n, c: 0, d: 1 } : { r, n, t: n, c: 0, v: JSON.stringify(`${r}${n}`) });
const dots = (s: { vs: readonly StoredVersion[] }) => s.vs.map((v) => `${v.r}:${v.n}`);

describe('dvv update', () => {
  it('a write with the current context supersedes every version', () => {
    const s1 = update(EMPTY_STATE, {}, ver('a', 1));
    const s2 = update(s1, s1.cc, ver('a', 4));
    expect(dots(s2)).toEqual(['a:4']);
    expect(s2.cc).toEqual({ a: 4 });
  });

  it('two writes through one replica with the same older context both survive (two tabs)', () => {
    const s1 = update(EMPTY_STATE, {}, ver('a', 1));
    const read = s1.cc;
    const s2 = update(s1, read, ver('a', 2));
    const s3 = update(s2, read, ver('a', 3));
    expect(dots(s3)).toEqual(['a:2', 'a:3']);
    expect(s3.cc).toEqual({ a: 3 });
  });

  it('an empty context supersedes nothing', () => {
    const s1 = update(EMPTY_STATE, {}, ver('a', 1));
    const s2 = update(s1, {}, ver('b', 1));
    expect(dots(s2)).toEqual(['a:1', 'b:1']);
  });
});

describe('dvv join', () => {
  it('drops a version the other side has seen and no longer holds; keeps unseen ones', () => {
    const a1 = update(EMPTY_STATE, {}, ver('a', 1));
    const b = join(EMPTY_STATE, a1); // b received a:1
    const b2 = update(b, b.cc, ver('b', 5)); // b overwrote it
    const a2 = update(a1, {}, ver('a', 2)); // a wrote concurrently without seeing b's write... and kept a:1
    const j = join(a2, b2);
    expect(dots(j)).toEqual(['a:1', 'a:2', 'b:5'].filter((d) => d !== 'a:1'));
    expect(j.cc).toEqual({ a: 2, b: 5 });
    expect(sameState(j, join(b2, a2))).toBe(true);
  });

  it('keeps a tombstone concurrent with a write as a sibling', () => {
    const base = update(EMPTY_STATE, {}, ver('a', 1));
    const del = update(base, base.cc, ver('a', 2, true));
    const other = update(join(EMPTY_STATE, base), base.cc, ver('b', 1));
    const j = join(del, other);
    expect(dots(j)).toEqual(['a:2', 'b:1']);
    expect(j.vs[0]!.d).toBe(1);
  });
});

describe('contexts', () => {
  // Every id the replica can mint or accept: base64url, never the name of an Object.prototype member.
  const ids = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((r) => !(r in Object.prototype) && r !== '__proto__');
  const vector = fc.dictionary(ids, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxKeys: 8 });

  it('encode/decode round trip', () => {
    fc.assert(
      fc.property(vector, (cc) => {
        const text = encodeContext(cc);
        expect(typeof text).toBe('string');
        expect(decodeContext(text)).toEqual({ ...cc });
        // The encoding is canonical: key order does not matter.
        const reversed = Object.fromEntries(Object.entries(cc).reverse());
        expect(encodeContext(reversed)).toBe(text);
      }),
    );
  });

  it('refuses replica ids that name Object.prototype members', () => {
    // Ids naming Object.prototype members can never be minted; a context naming one is refused rather
    // than allowed to reach a plain-object version vector.
    expect(decodeContext('constructor:1,toString:2')).toBeUndefined();
    expect(decodeContext('__proto__:3')).toBeUndefined();
    expect(decodeContext('abc:1,constructorX:2')).toEqual({ abc: 1, constructorX: 2 });
    expect(decodeContext('constructor:1,constructor:2')).toBeUndefined();
  });

  it('the empty context decodes to the empty vector', () => {
    expect(decodeContext(encodeContext({}))).toEqual({});
  });

  it.each([
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { a: 1 }],
    ['no counter', 'a'],
    ['empty counter', 'a:'],
    ['empty replica', ':1'],
    ['zero', 'a:0'],
    ['negative', 'a:-1'],
    ['uppercase base36', 'a:Z'],
    ['duplicate replica', 'a:1,a:2'],
    ['trailing comma', 'a:1,'],
    ['space in replica id', 'a b:1'],
    ['colon in replica id', 'a:b:1'],
    ['beyond safe integers', 'a:zzzzzzzzzzz'],
    ['too many digits', 'a:100000000000'],
    ['replica id over 64 characters', 'x'.repeat(65) + ':1'],
  ])('rejects %s', (_name, text) => {
    expect(decodeContext(text)).toBeUndefined();
  });
});
