// json-bytes.ts writes the bytes of Buffer.from(JSON.stringify(value)) straight into a buffer, or says it cannot (and
// the record area, or a frame's head, takes JSON.stringify's text). Random data against JSON.stringify, the values it
// must refuse, and buffers too small by any number of bytes. Random tests run from a seed (SEED=<n> replays; printed on
// failure): the hand-made generator draws from mulberry32 (lib/check-merge.ts prng), whose first draws are spread for
// consecutive seeds — the xorshift it used before gave nearly the same first draw to seeds n, n+1, … (0.70–0.72 over
// 400 seeds from 123 456; about 0.01 from small seeds, SEED=5: every record's first value a string, every head of 0
// ops) — and fast-check's arbitraries cover what it does not (any code point, doubles of every exponent, any data
// fast-check makes, which must be refused or written exactly); a last test asserts what the generators reach.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHead, opRoom, RecordArea, type FramedPut } from '../../adapters/fs/frame.js';
import { NOT_PLAIN, writeJson } from '../../adapters/fs/json-bytes.js';
import { crc32 } from '../../adapters/fs/crc32.js';
import { loadHasher } from '../../lib/hash.js';
import { WrittenRecord } from '../../lib/record.js';
import { prng as rng } from './helpers.js';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);

const PIECES = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', '\u0000', '\u001f', '\u007f', '\u0080', '\u009f', 'é', '漢', '\uffff', '🙂', '\ud800', '\udc00', '\udbff', '\u2028', '{', ':'];

/** Spaces a head's ops name in runs: escaped, control, not ASCII, astral. */
const SPACES = ['é"\\n', 'a\u0000b', '漢字', '🙂/x', '\\'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * (r() < 0.1 ? 300 : 12));
  // the share of printable ASCII: all of it (the fast path) half the time, else any mix with the pieces
  const plain = r() < 0.5 ? 1 : r();
  for (let i = 0; i < n; i++) s += r() < plain ? String.fromCharCode(0x20 + Math.floor(r() * 95)) : PIECES[Math.floor(r() * PIECES.length)]!;
  return s;
}

const NUMBERS = [0, -0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 1_796_597_341_547, 2 ** 31, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, -1, -1_700_000_000_000, 0.5, 1.1, -3.25e-7, 1e-7, NaN, Infinity, -Infinity];

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 5 : 8));
  switch (k) {
    case 0:
      return randomString(r);
    case 1:
      return r() < 0.5 ? NUMBERS[Math.floor(r() * NUMBERS.length)] : Math.floor(r() * 2 ** (r() * 53));
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
      return [undefined, () => 1, Symbol('s')][Math.floor(r() * 3)];
    case 5:
    case 6: {
      const o: Record<string, unknown> = r() < 0.1 ? Object.create(null) : {};
      const n = Math.floor(r() * 6);
      for (let i = 0; i < n; i++) o[r() < 0.2 ? String(Math.floor(r() * 20)) : randomString(r)] = randomValue(r, depth + 1);
      return o;
    }
    default: {
      const a: unknown[] = [];
      const n = Math.floor(r() * 6);
      for (let i = 0; i < n; i++) a.push(randomValue(r, depth + 1));
      if (r() < 0.1) a.length += 2; // holes
      return a;
    }
  }
}

function written(value: unknown, room = 1 << 16): Buffer | -1 {
  const buf = Buffer.alloc(room + 8, 0xee);
  const end = writeJson(value, buf, 8, 8 + room);
  expect(buf.subarray(8 + room).every((b) => b === 0xee)).toBe(true); // never past `end`
  return end < 0 ? -1 : buf.subarray(8, end);
}

describe('json-bytes: JSON text of plain data written as bytes', () => {
  it('writes exactly the UTF-8 of JSON.stringify for random plain data', () => {
    const base = SEED;
    for (let n = 0; n < 400; n++) {
      const seed = base + n;
      const r = rng(seed);
      const value = { vs: [randomValue(r, 1)], cc: randomValue(r, 1), seq: Math.floor(r() * 1e6), h: randomString(r), x: randomValue(r, 0) };
      const want = Buffer.from(JSON.stringify(value), 'utf8');
      const got = written(value);
      if (got === -1 || !got.equals(want)) throw new Error(`seed ${seed} (SEED=${seed} replays): wrote ${got === -1 ? 'nothing' : got.toString('utf8')}, JSON.stringify ${want.toString('utf8')}`);
    }
  });

  it('a stored record of S4 is JSON.stringify byte for byte', () => {
    const rec = { vs: [{ r: 'GrxZ3fyYKTcEWSqy', n: 3, t: 1_796_597_341_550, c: 0, v: JSON.stringify({ title: 'item 2', done: true, n: 2 }) }], cc: { GrxZ3fyYKTcEWSqy: 3 }, seq: 3, h: '66778dfb45dd5db4' };
    expect(written(rec)).toEqual(Buffer.from(JSON.stringify(rec)));
  });

  it("a local write's record (record.ts WrittenRecord: a class with toJSON) is written here, as JSON.stringify writes it", async () => {
    await loadHasher();
    // Before: refused as a class instance with a toJSON, so every durable local put took JSON.stringify's text (S4 fell
    // from 83 320 to 68 685 writes/s once s3q's WrittenRecord met s4q's writer).
    const state = { vs: [{ r: 'GrxZ3fyYKTcEWSqy', n: 3, t: 1_796_597_341_550, c: 0, v: JSON.stringify({ title: 'é"\n', n: 2 }) }], cc: { GrxZ3fyYKTcEWSqy: 3 } };
    const tagged = { ...state, pts: { GrxZ3fyYKTcEWSqy: [{ e: 'ep1', n: 3 }] } };
    for (const rec of [new WrittenRecord('k', state, 3), new WrittenRecord('k', tagged, 4)]) {
      expect(written(rec)).toEqual(Buffer.from(JSON.stringify(rec)));
      expect(JSON.parse(JSON.stringify(rec)).h).toBe(rec.h);
    }
  });

  it('writes an object with toJSON as what it returns for its key, not asked again, as JSON.stringify does', () => {
    const keyed = { toJSON: (k: string) => ({ key: k, again: { toJSON: () => 'inner' } }) };
    const selfish = { toJSON: () => ({ toJSON: () => 'never asked' }) };
    for (const v of [{ d: new Date(0) }, [new Date(1), keyed], { a: keyed, b: [keyed, { c: keyed }] }, keyed, selfish, { s: selfish }]) {
      expect(written(v)).toEqual(Buffer.from(JSON.stringify(v)));
    }
    // What a toJSON returns that JSON.stringify leaves out (or writes as null in an array) is left to it.
    for (const v of [{ u: { toJSON: () => undefined } }, [{ toJSON: () => () => 1 }]]) {
      expect(() => writeJson(v, Buffer.alloc(64), 0, 64)).toThrow(expect.anything());
    }
  });

  it('writes whole numbers as JSON.stringify does on both sides of 2^31 and of every power of ten, zeros inside the last eight digits', () => {
    const ns = [0, -0, 7, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 1e8, 1e8 - 1, 1e8 + 1, 1e9 + 7, 1e16, 1e15 + 1, 123_400_000_000, 1_796_597_341_550, 1_000_000_000_000_009, Number.MAX_SAFE_INTEGER];
    for (let p = 1; p <= 1e15; p *= 10) ns.push(p - 1, p, p + 1, p * 9 + 8);
    for (const n of ns) {
      const want = Buffer.from(JSON.stringify([n, { n }]));
      expect(written([n, { n }]), String(n)).toEqual(want);
      for (let room = 0; room < want.length; room++) expect(written([n, { n }], room)).toBe(-1);
    }
  });

  it('writes numbers at the edges of its integer paths as JSON.stringify does: either side of every multiple of 10^8 (seeded), 2^31, 2^53, 1e21, -0, negatives, fractions', () => {
    // A whole number past 2^31 is split at 10^8 (its part above by a division of doubles): a quotient rounded up at
    // k * 10^8 - 1 would write k and a last-eight-digits part below zero.
    const edges = [-0, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e21, 1e21 - 65536, 1e21 + 131072, -1, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), 2 ** 31 - 0.5, 2 ** 31 + 0.5, 2 ** 52 + 0.5, 4294967295.75, 1e-7, 5e-324, -5e-324, Number.MAX_VALUE, 0.1 + 0.2];
    const base = Number(process.env.SEED ?? Date.now() % 1_000_000);
    const r = rng(base);
    const ns = [...edges];
    for (let k = 21; k < 2000; k++) ns.push(k * 1e8 - 1, k * 1e8, k * 1e8 + 1);
    for (let k = 90_071_000; k <= 90_071_992; k++) ns.push(k * 1e8 - 1, k * 1e8, k * 1e8 + 1);
    for (let i = 0; i < 20_000; i++) {
      const k = 21 + Math.floor(r() * (90_071_992 - 21));
      ns.push(k * 1e8 - 1, k * 1e8, k * 1e8 + 1, k * 1e8 + Math.floor(r() * 1e8));
    }
    const buf = Buffer.alloc(40);
    for (const n of ns) {
      const end = writeJson(n, buf, 0, 40);
      const got = end < 0 ? 'nothing' : buf.toString('latin1', 0, end);
      if (got !== JSON.stringify(n)) throw new Error(`seed ${base} (SEED=${base} replays): ${n} written as ${got}, JSON.stringify ${JSON.stringify(n)}`);
    }
  });

  it('answers -1 in any buffer too small, and writes nothing past its end', () => {
    const value = { a: ['x"y', 12_345, -0.5, true, null, { '1': 'é🙂\u0000' }], b: 'plain text', c: 1_796_597_341_550 };
    const want = Buffer.from(JSON.stringify(value));
    for (let room = 0; room < want.length; room++) expect(written(value, room)).toBe(-1);
    // the escaped path asks for 3 bytes a UTF-16 unit: it may answer -1 with a few bytes to spare, never wrongly
    for (let room = want.length; room < want.length + 64; room++) {
      const got = written(value, room);
      if (got !== -1) expect(got).toEqual(want);
    }
    expect(written(value, want.length + 64)).toEqual(want);
  });

  it('refuses what it would not write as JSON.stringify does', () => {
    class Point {
      x = 1;
    }
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 100; i++) at.push((at = []));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const v of [{ p: new Point() }, { b: 1n }, deep, cyclic, [new Uint8Array(2)]]) {
      expect(() => writeJson(v, Buffer.alloc(1 << 12), 0, 1 << 12)).toThrow(expect.anything());
      try {
        writeJson(v, Buffer.alloc(1 << 12), 0, 1 << 12);
      } catch (e) {
        expect(e).toBe(NOT_PLAIN);
      }
    }
    // an enumerable property on Object.prototype: for-in would list it in every object, JSON.stringify does not
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true, writable: true });
    try {
      expect(() => writeJson({ a: 1 }, Buffer.alloc(64), 0, 64)).toThrow(expect.anything());
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    expect(written({ a: 1 })).toEqual(Buffer.from('{"a":1}'));
  });

  it('a getter that writes JSON itself while its object is written does not disturb the write under way', () => {
    const inner = { x: 'inner "text"', n: [1, 2] };
    const outer = {
      a: 'before',
      get b() {
        expect(written(inner)).toEqual(Buffer.from(JSON.stringify(inner)));
        return 'got';
      },
      c: 1_796_597_341_550,
    };
    expect(written(outer)).toEqual(Buffer.from(JSON.stringify(outer)));
  });

  it('the record area appends JSON as append(JSON.stringify) would, across chunks, and what JSON.stringify refuses throws', () => {
    const a = new RecordArea();
    const b = new RecordArea();
    const r = rng(7);
    for (let i = 0; i < 800; i++) {
      const value = i % 300 === 7 ? { big: 'x'.repeat(100_000 + i) } : i % 97 === 3 ? { d: new Date(i) } : { i, s: randomString(r), v: randomValue(r, 1) };
      const la = a.appendJson(value);
      const ca = a.crc;
      const text = JSON.stringify(value);
      expect(la).toBe(b.append(text));
      expect(ca).toBe(b.crc);
      expect(ca).toBe(crc32(Buffer.from(text)));
    }
    expect(Buffer.concat(a.parts())).toEqual(Buffer.concat(b.parts()));
    expect(() => new RecordArea().appendJson({ n: 1n })).toThrow(TypeError);
  });

  it('rollback drops what was appended after mark, also across a chunk sealed meanwhile', () => {
    const a = new RecordArea();
    a.appendJson({ first: 1 });
    a.mark();
    for (let i = 0; i < 200; i++) a.appendJson({ i, pad: 'p'.repeat(50) });
    a.rollback();
    a.appendJson({ second: 2 });
    expect(Buffer.concat(a.parts()).toString()).toBe('{"first":1}{"second":2}');
  });
});

describe('a log frame head written as bytes', () => {
  it('is JSON.stringify of the head byte for byte: random ops (puts, chained, removes), texts and metadata', () => {
    const base = SEED;
    for (let n = 0; n < 200; n++) {
      const seed = base + n;
      const r = rng(seed);
      const count = Math.floor(r() * 40);
      const spaces: string[] = [];
      const keys: string[] = [];
      const puts: Array<FramedPut | undefined> = [];
      const ops: unknown[] = [];
      for (let i = 0; i < count; i++) {
        // runs of one space (a batch's ops mostly name one: its text is copied from where it was written first), some
        // of them escaped or not ASCII
        const space = i > 0 && r() < 0.5 ? spaces[i - 1]! : r() < 0.5 ? 'sp' : r() < 0.5 ? SPACES[Math.floor(r() * SPACES.length)]! : randomString(r);
        const key = randomString(r);
        spaces.push(space);
        keys.push(key);
        if (r() < 0.2) {
          puts.push(undefined);
          ops.push([space, key]);
          continue;
        }
        const p = { seq: Math.floor(r() * 2 ** (r() * 53)), h: r() < 0.8 ? Math.floor(r() * 2 ** 32).toString(16).padStart(16, '0') : randomString(r), len: Math.floor(r() * 1e6), crc: Math.floor(r() * 2 ** 32), chained: r() < 0.3 };
        puts.push(p);
        ops.push(p.chained ? [space, key, p.seq, p.h, p.len, p.crc, 1] : [space, key, p.seq, p.h, p.len, p.crc]);
      }
      const meta = new Map<string, unknown>();
      const names = Math.floor(r() * 4);
      for (let i = 0; i < names; i++) meta.set(r() < 0.2 ? String(i) : randomString(r), randomValue(r, 1) ?? null);
      if (r() < 0.05) meta.set('when', new Date(0)); // not written as bytes: the head is JSON.stringify's
      const want = Buffer.from(JSON.stringify(meta.size > 0 ? { o: ops, m: Object.fromEntries(meta) } : { o: ops }), 'utf8');
      const got = encodeHead(spaces, keys, puts, meta, []).head;
      if (!got.equals(want)) throw new Error(`seed ${seed} (SEED=${seed} replays): head ${got.toString('utf8')}, JSON.stringify ${want.toString('utf8')}`);
      // the same with the sizes a batch counts as it takes its ops (batch.ts), not counted here
      let room = 0;
      let bytes = 0;
      for (let i = 0; i < keys.length; i++) {
        room += opRoom(spaces[i]!, keys[i]!, puts[i]?.h);
        bytes += puts[i]?.len ?? 0;
      }
      const counted = encodeHead(spaces, keys, puts, meta, [], { room, bytes });
      if (!counted.head.equals(want) || counted.length !== want.length + bytes) throw new Error(`seed ${seed} (SEED=${seed} replays): with counted sizes, head ${counted.head.toString('utf8')} of ${counted.length} bytes`);
    }
  });
});

/** Any UTF-16 unit (lone surrogates too), any code point, or printable ASCII: strings and keys of every kind. */
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', minLength: 100, maxLength: 400 }));
const anyNumber = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 53, 1e21), fc.integer(), fc.maxSafeInteger(), fc.integer({ min: 2 ** 31 - 10, max: 2 ** 32 + 10 }), fc.double({ min: -1e25, max: 1e25 }).map(Math.trunc));
/** Plain data json-bytes.ts must write (never refuse): any nesting up to 8 of these, arrays with holes and undefined. */
const { plain } = fc.letrec<{ plain: unknown }>((tie) => ({
  plain: fc.oneof(
    { depthSize: 'small', maxDepth: 8 },
    anyString,
    anyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.sparseArray(tie('plain'), { maxLength: 6 }),
    fc.array(fc.oneof(tie('plain'), fc.constant(undefined)), { maxLength: 6 }),
    fc.dictionary(fc.oneof(anyString, fc.nat(40).map(String)), fc.oneof(tie('plain'), fc.constant(undefined)), { maxKeys: 6 }),
  ),
}));

const runs = (n: number) => ({ seed: SEED, numRuns: n });

describe('json-bytes against JSON.stringify, on what fast-check makes (SEED=<n> replays the seed fast-check prints)', () => {
  it('writes any plain data exactly as JSON.stringify, in a buffer of any room', () => {
    fc.assert(
      fc.property(plain, fc.nat(64), (v, spare) => {
        const want = Buffer.from(JSON.stringify({ v }), 'utf8');
        expect(written({ v })).toEqual(want);
        // short of room by one byte: refused, nothing past the end; with room to spare: the same bytes or refused
        expect(written({ v }, want.length - 1)).toBe(-1);
        const got = written({ v }, want.length + spare);
        if (got !== -1) expect(got).toEqual(want);
      }),
      runs(1500),
    );
  });

  it('anything else either refuses (NOT_PLAIN) or writes exactly what JSON.stringify writes', () => {
    const any = fc.anything({ maxDepth: 4, withBoxedValues: true, withMap: true, withSet: true, withObjectString: true, withNullPrototype: true, withDate: true, withTypedArray: true, withSparseArray: true, stringUnit: 'binary' });
    fc.assert(
      fc.property(any, (v) => {
        let text: string | undefined;
        try {
          text = JSON.stringify(v);
        } catch {
          text = undefined;
        }
        let got: Buffer | -1 | typeof NOT_PLAIN;
        try {
          got = written(v);
        } catch (e) {
          if (e !== NOT_PLAIN) throw e;
          got = NOT_PLAIN;
        }
        if (got === NOT_PLAIN) return;
        expect(text, 'written where JSON.stringify writes nothing or throws').toBeDefined();
        expect(got).toEqual(Buffer.from(text!, 'utf8'));
      }),
      runs(1500),
    );
  });

  it('a log frame head of any strings, numbers and metadata is JSON.stringify of it byte for byte', () => {
    const op = fc.record({ space: anyString, key: anyString, put: fc.option(fc.record({ seq: anyNumber, h: anyString, len: fc.nat(), crc: fc.nat({ max: 2 ** 32 - 1 }), chained: fc.boolean() }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.array(fc.tuple(anyString, plain), { maxLength: 4 }), (ops, metaList) => {
        const meta = new Map(metaList.map(([k, v]) => [k, v ?? null]));
        const heads = ops.map(({ space, key, put: p }) => (p === undefined ? [space, key] : p.chained ? [space, key, p.seq, p.h, p.len, p.crc, 1] : [space, key, p.seq, p.h, p.len, p.crc]));
        const want = Buffer.from(JSON.stringify(meta.size > 0 ? { o: heads, m: Object.fromEntries(meta) } : { o: heads }), 'utf8');
        const got = encodeHead(
          ops.map((o) => o.space),
          ops.map((o) => o.key),
          ops.map((o) => o.put),
          meta,
          [],
        ).head;
        expect(got.toString('utf8')).toBe(want.toString('utf8'));
        expect(got).toEqual(want);
      }),
      runs(300),
    );
  });

  it('the generators reach what they are for: every kind of string, number and nesting, spread over the runs', () => {
    const seen = new Set<string>();
    const r = rng(SEED);
    for (let n = 0; n < 400; n++) {
      const first = randomValue(rng(SEED + n), 1); // the first value of a run from its own seed, as the tests above draw
      seen.add(`first:${first === null ? 'null' : Array.isArray(first) ? 'array' : typeof first}`);
      kinds(randomValue(r, 0), 0, seen);
    }
    for (const v of fc.sample(plain, runs(1500))) kinds(v, 0, seen, 'fc:');
    const want = ['string', 'number', 'object', 'array', 'boolean', 'null'].map((k) => `first:${k}`);
    for (const pre of ['', 'fc:']) {
      want.push(...['str:lone-surrogate', 'str:astral', 'str:control', 'str:non-ascii', 'str:quote-backslash', 'str:long', 'str:empty', 'str:ascii-only'].map((k) => pre + k));
      want.push(...['num:small-int', 'num:int-2^31..2^53', 'num:negative', 'num:fraction', 'num:exponent', 'num:not-finite', 'num:-0'].map((k) => pre + k));
      want.push(...['deep', 'hole', 'undefined', 'empty-object', 'empty-array', 'index-key'].map((k) => pre + k));
    }
    expect(want.filter((k) => !seen.has(k)), `not reached from SEED=${SEED}`).toEqual([]);
  });
});

/** Adds to `seen` what kinds of strings, numbers and structure `v` holds. */
function kinds(v: unknown, depth: number, seen: Set<string>, pre = ''): void {
  const add = (k: string) => seen.add(pre + k);
  if (depth >= 4) add('deep');
  if (typeof v === 'string') {
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v)) add('str:lone-surrogate');
    if (/[\ud800-\udbff][\udc00-\udfff]/.test(v)) add('str:astral');
    if (/[\u0000-\u001f]/.test(v)) add('str:control');
    if (/[^\u0000-\u007f]/.test(v)) add('str:non-ascii');
    if (/["\\]/.test(v)) add('str:quote-backslash');
    if (v.length > 100) add('str:long');
    if (v.length === 0) add('str:empty');
    else if (/^[\u0020-\u007e]+$/.test(v)) add('str:ascii-only');
  } else if (typeof v === 'number') {
    if (Object.is(v, -0)) add('num:-0');
    else if (!Number.isFinite(v)) add('num:not-finite');
    else if (v < 0) add('num:negative');
    else if (!Number.isInteger(v)) add('num:fraction');
    else if (v < 2 ** 31) add('num:small-int');
    else if (v <= Number.MAX_SAFE_INTEGER) add('num:int-2^31..2^53');
    if (Number.isFinite(v) && String(v).includes('e')) add('num:exponent');
  } else if (Array.isArray(v)) {
    if (v.length === 0) add('empty-array');
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) add('hole');
      else if (v[i] === undefined) add('undefined');
      else kinds(v[i], depth + 1, seen, pre);
    }
  } else if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v);
    if (keys.length === 0) add('empty-object');
    for (const k of keys) {
      if (/^(0|[1-9]\d*)$/.test(k)) add('index-key');
      kinds(k, depth, seen, pre);
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) add('undefined');
      else kinds(x, depth + 1, seen, pre);
    }
  }
}
