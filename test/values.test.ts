import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcordError, memoryStorage, openReplica, type Replica } from '../lib/index.js';
import { replicas, seqOf } from './support/replicas.js';

async function one(options = {}): Promise<Replica> {
  return (await replicas(1, options))[0]!;
}

const codeOf = (fn: () => unknown) =>
  Promise.resolve()
    .then(fn)
    .then(
      () => 'no error',
      (e) => (e instanceof ConcordError ? e.code : `not a ConcordError: ${String(e)}`),
    );

describe('values round trip', () => {
  it.each([
    ['a Date', new Date(1_700_000_000_123)],
    ['a Map', new Map<unknown, unknown>([['a', 1], [2, new Date(5)]])],
    ['a Set', new Set([1, 'two', 3n])],
    ['a BigInt', 2n ** 80n],
    ['undefined in an object', { a: undefined, b: 1 }],
    ['NaN, ±Infinity and -0', [NaN, Infinity, -Infinity, -0]],
    ['nested', { list: [new Map([['k', new Set([new Date(0)])]]), { deep: { big: -7n, u: undefined } }], s: 'é😀' }],
    ['plain JSON', { a: [1, 'x', null, true, { b: false }] }],
    ['a string starting with ~', '~not superjson'],
    ['undefined', undefined],
  ])('%s', async (_name, value) => {
    const r = await one();
    await r.space('s').put('k', value);
    const got = (await r.space('s').get('k'))!;
    expect(got.value).toEqual(value);
    if (value && typeof value === 'object' && 'a' in value) expect(Object.keys(got.value as object)).toContain('a');
    if (Array.isArray(value) && value.length === 4) expect(Object.is((got.value as number[])[3], -0)).toBe(true);
  });

  it('any JSON-ish value with rich leaves survives put/get (property)', async () => {
    const leaf = fc.oneof(fc.double(), fc.string(), fc.bigInt(), fc.date({ noInvalidDate: true }), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 3 }), fc.array(tie('value'), { maxLength: 3 }).map((a) => new Set(a))),
    }));
    const r = await one();
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        await r.space('s').put('k', v);
        expect((await r.space('s').get('k'))!.value).toEqual(v);
      }),
      { numRuns: 150 },
    );
  });
});

describe('rejections: a stable code, and nothing stored', () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicInMap = new Map<string, unknown>();
  cyclicInMap.set('me', cyclicInMap);

  async function expectRejected(r: Replica, attempt: () => unknown, code: string) {
    const space = r.space('s');
    await space.put('k', 'before');
    const rec = await r.core.storage.get('s', 'k');
    const seq = await seqOf(r);
    expect(await codeOf(attempt)).toBe(code);
    expect(await r.core.storage.get('s', 'k')).toEqual(rec);
    expect(await seqOf(r)).toBe(seq);
    expect((await space.get('k'))!.value).toBe('before');
  }

  it.each([
    ['a function', () => 1],
    ['a function inside an object', { f: () => 1 }],
    ['a symbol', Symbol('x')],
    ['a symbol key', { [Symbol('k')]: 1 }],
    ['a class instance', new Point(1)],
    ['a class instance inside a Set', new Set([new Point(2)])],
    ['a cyclic object', cyclic],
    ['a cyclic Map', cyclicInMap],
  ])('%s → UNSERIALIZABLE_VALUE', async (_name, value) => {
    const r = await one();
    await expectRejected(r, () => r.space('s').put('k', value), 'UNSERIALIZABLE_VALUE');
    await expectRejected(r, () => r.space('s').update('k', () => value), 'UNSERIALIZABLE_VALUE');
  });

  it('a value over maxValueBytes → VALUE_TOO_LARGE (default 1 MiB, and a custom limit)', async () => {
    const r = await one();
    await expectRejected(r, () => r.space('s').put('k', 'x'.repeat(1024 * 1024)), 'VALUE_TOO_LARGE');
    await r.space('s').put('ok', 'x'.repeat(1024 * 1024 - 2)); // its JSON text is exactly 1 MiB
    const small = await one({ maxValueBytes: 100 });
    await expectRejected(small, () => small.space('s').put('k', 'x'.repeat(99)), 'VALUE_TOO_LARGE');
    await expectRejected(small, () => small.space('s').put('k', 'é'.repeat(50)), 'VALUE_TOO_LARGE'); // 100 bytes of UTF-8 + quotes
    await small.space('s').put('k', 'é'.repeat(49));
    await expect(openReplica({ storage: memoryStorage(), maxValueBytes: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it.each([
    ['a number', 42],
    ['undefined', undefined],
    ['an empty string', ''],
    ['an object', { k: 1 }],
    ['over 1 KiB of ASCII', 'k'.repeat(1025)],
    ['over 1 KiB of UTF-8 (400 × 3 bytes)', '€'.repeat(400)],
    ['over 1 KiB of UTF-8 (257 × 4 bytes)', '😀'.repeat(257)],
    ['with a lone high surrogate (UTF-8 would turn it into U+FFFD on the wire)', 'k\uD800'],
    ['with a lone low surrogate', '\uDC00k'],
    ['with surrogates in the wrong order', '\uDE00\uD83D'],
  ])('key %s → INVALID_KEY', async (_name, key) => {
    const r = await one();
    const s = r.space('s');
    await expectRejected(r, () => s.put(key as string, 1), 'INVALID_KEY');
    await expectRejected(r, () => s.delete(key as string), 'INVALID_KEY');
    await expectRejected(r, () => s.get(key as string), 'INVALID_KEY');
  });

  it('keys of exactly 1 KiB are accepted', async () => {
    const r = await one();
    for (const key of ['k'.repeat(1024), '😀'.repeat(256), '€'.repeat(341) + 'a', '\uD83D\uDE00 a pair']) {
      await r.space('s').put(key, 1);
      expect((await r.space('s').get(key))!.value).toBe(1);
    }
  });

  it.each([['', 'empty'], ['-leading', 'leading dash'], ['a b', 'space'], ['x'.repeat(129), 'too long'], [42, 'a number'], ['ünï', 'non-ASCII']] as Array<[unknown, string]>)(
    'space name %j (%s) → INVALID_SPACE',
    async (name) => {
      const r = await one();
      expect(await codeOf(() => r.space(name as string))).toBe('INVALID_SPACE');
    },
  );

  it('good space names are accepted', async () => {
    const r = await one();
    for (const name of ['team-42', 'a', 'user:alice@example.com/notes', 'x'.repeat(128)]) expect(r.space(name).name).toBe(name);
  });

  it.each([['garbage', 'not a context'], ['a number', 7], ['a zero counter', 'abc:0']])('context %s → INVALID_CONTEXT', async (_n, context) => {
    const r = await one();
    await expectRejected(r, () => r.space('s').put('k', 2, { context: context as string }), 'INVALID_CONTEXT');
    await expectRejected(r, () => r.space('s').delete('k', { context: context as string }), 'INVALID_CONTEXT');
  });
});
