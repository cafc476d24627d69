/**
 * A snapshot's compact record (adapters/fs/compact-record.ts) must read back as exactly the record written, for any
 * ids, counters, times, values and peers; a record it cannot hold must be refused by `compactable` (and is then
 * stored in the log's form), never written wrong. The log's binary record (adapters/fs/log-record.ts), the same body
 * with its ids inline, likewise. fast-check prints the seed of a failing run; the seed replays it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactable, decodeCompact, encodeCompact, IdTable, nameIds } from '../../adapters/fs/compact-record.js';
import { wellFormed } from '../../lib/values.js';
import { decodeLogRecord, encodeLogRecord } from '../../adapters/fs/log-record.js';
import { decodeRecord } from '../../adapters/fs/record.js';
import type { KeyRecord } from '../../lib/storage.js';

const BASE = 1_796_000_000_000;
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 22 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.constantFrom('a', '__proto__', '0', '12', 'constructor'));
const count = fc.oneof(fc.nat(1000), fc.constantFrom(0, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER));
const oddNumber = fc.constantFrom(-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY);
const time = fc.oneof(fc.integer({ min: BASE - 10 ** 9, max: BASE + 10 ** 9 }), fc.constantFrom(0, BASE, BASE + 2 ** 50, BASE - 2 ** 50, 8e15, BASE + 0.5));
/** Texts with lone surrogates among valid characters (which UTF-8 cannot carry). */
const oddText = fc.array(fc.constantFrom('a', 'é', '😀', '\uD800', '\uDBFF', '\uDC00', '\uDFFF'), { minLength: 1, maxLength: 8 }).map((cs) => cs.join(''));
const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => ({ v: JSON.stringify(s) })),
  oddText.map((s) => ({ v: `~${s}` })), // lone surrogates too: refused, never mangled
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ v: b })),
  fc.constant({ d: 1 as const }),
);
const version = fc.record({ r: id, n: fc.oneof(count, oddNumber), t: time, c: count, value });
const record = fc.record({
  vs: fc.array(version, { maxLength: 5 }),
  cc: fc.dictionary(id, fc.oneof(count, count, oddNumber), { maxKeys: 12 }),
  src: fc.option(fc.oneof(id, oddText), { nil: undefined }),
});

function build(raw: { vs: Array<{ r: string; n: number; t: number; c: number; value: { v: string | Uint8Array } | { d: 1 } }>; cc: Record<string, number>; src?: string }): KeyRecord {
  const vs = raw.vs.map(({ r, n, t, c, value }) => ('d' in value ? { r, n, t, c, d: value.d } : { r, n, t, c, v: value.v }));
  // A plain object, as JSON.parse makes one ("__proto__" an own key): the form readers compare with.
  const rec: KeyRecord = { vs, cc: Object.fromEntries(Object.entries(raw.cc)), seq: 77, h: '0123456789abcdef' };
  return raw.src === undefined ? rec : { ...rec, src: raw.src };
}

describe('compact records', () => {
  it('read back as the record written, with the seq and hash given; anything it cannot hold is refused', () => {
    fc.assert(
      fc.property(record, (raw) => {
        const rec = build(raw);
        const table = new IdTable(['pre-existing']);
        if (!compactable(rec, BASE)) {
          const numbers = [...rec.vs.flatMap((v) => [v.n, v.c]), ...Object.values(rec.cc)];
          const texts = [...rec.vs.map((v) => (typeof v.v === 'string' ? v.v : '')), rec.src ?? ''];
          const odd =
            texts.some((t) => !wellFormed(t)) ||
            numbers.some((n) => !Number.isSafeInteger(n) || n < 0) ||
            rec.vs.some((v) => !Number.isSafeInteger(v.t) || Math.abs(v.t - BASE) >= 2 ** 51);
          expect(odd, 'refused only for a number or a text the form cannot hold').toBe(true);
          return;
        }
        const bytes = encodeCompact(rec, table, BASE);
        const ctx = { ids: table.ids, base: BASE, used: table.used };
        expect(decodeCompact(bytes, ctx, 77, '0123456789abcdef')).toStrictEqual(decodeRecordLike(rec));
        expect(decodeRecord(bytes, ctx, 77, '0123456789abcdef')).toStrictEqual(decodeRecordLike(rec));
        expect(() => decodeRecord(bytes), 'a compact record needs its snapshot').toThrow();
        expect(table.ids[0]).toBe('pre-existing');
        // the ids a record names, counted without decoding it (a copied record's, snapshot.ts)
        const named = new Set([...rec.vs.map((v) => v.r), ...Object.keys(rec.cc)]);
        expect(table.used).toBe(named.size);
        const again = new IdTable(table.ids);
        nameIds(bytes, again);
        expect(again.used).toBe(named.size);
        // every cut is refused, never read as another record
        for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 7))) {
          expect(() => decodeCompact(bytes.subarray(0, cut), ctx, 77, 'x')).toThrow();
        }
        expect(() => decodeCompact(Buffer.concat([bytes, Buffer.from([0])]), ctx, 77, 'x')).toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

describe("the log's binary records", () => {
  it('read back as the record written, with the seq and hash given; anything it cannot hold is refused', () => {
    fc.assert(
      fc.property(record, (raw) => {
        const rec = build(raw);
        const w = encodeLogRecord(rec);
        if (w === undefined) {
          const numbers = [...rec.vs.flatMap((v) => [v.n, v.c]), ...Object.values(rec.cc)];
          const texts = [...rec.vs.flatMap((v) => [typeof v.v === 'string' ? v.v : '', v.r]), ...Object.keys(rec.cc), rec.src ?? ''];
          const odd =
            texts.some((t) => !wellFormed(t)) ||
            numbers.some((n) => !Number.isSafeInteger(n) || n < 0) ||
            rec.vs.some((v) => !Number.isSafeInteger(v.t) || Math.abs(v.t) >= 2 ** 51);
          expect(odd, 'refused only for a number or a text the form cannot hold').toBe(true);
          return;
        }
        const bytes = Buffer.from(w.buf.subarray(0, w.at));
        expect(bytes[0]).toBe(0x02);
        expect(decodeLogRecord(bytes, 77, '0123456789abcdef')).toStrictEqual(decodeRecordLike(rec));
        expect(decodeRecord(bytes, undefined, 77, '0123456789abcdef')).toStrictEqual(decodeRecordLike(rec));
        for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 7))) {
          expect(() => decodeLogRecord(bytes.subarray(0, cut), 77, 'x')).toThrow();
        }
        expect(() => decodeLogRecord(Buffer.concat([bytes, Buffer.from([0])]), 77, 'x')).toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

/** The record as a reader gets it: byte values as plain Uint8Arrays, and the same key order. */
function decodeRecordLike(rec: KeyRecord): KeyRecord {
  const vs = rec.vs.map((v) => (v.v instanceof Uint8Array ? { ...v, v: new Uint8Array(v.v) } : v));
  return { ...rec, vs };
}
