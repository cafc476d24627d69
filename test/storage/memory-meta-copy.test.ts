// The memory storage keeps metadata as JSON would give it back (a copy the caller cannot change, -0, NaN, undefined
// fields and the like as a stored value reads back): its field-by-field copy of flat records (a sync cursor, what a
// peer delivered: one per join of a received frame) gives exactly what the JSON round trip gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneMeta, memoryStorage } from '../../lib/memory-storage.js';

const viaJson = (v: unknown): unknown => (v !== null && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v);
const scalar = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity),
);
const flat = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', '10', 'e', 's')), fc.oneof(scalar, fc.array(scalar, { maxLength: 4 })));

describe('memory storage metadata copies', () => {
  it('a copy of any value equals the JSON round trip, field order included, and shares nothing with it; seed printed by fast-check, replay with META_SEED', () => {
    const seed = process.env.META_SEED !== undefined ? Number(process.env.META_SEED) : undefined;
    fc.assert(
      fc.property(fc.oneof(flat, fc.anything(), fc.array(flat), fc.date(), fc.dictionary(fc.string(), flat)), (v) => {
        const copy = cloneMeta(v);
        expect(copy).toStrictEqual(viaJson(v));
        if (copy !== null && typeof copy === 'object') {
          expect(copy).not.toBe(v);
          expect(Object.keys(copy)).toEqual(Object.keys(viaJson(v) as object));
          for (const k of Object.keys(copy)) if (typeof (copy as Record<string, unknown>)[k] === 'object' && (copy as Record<string, unknown>)[k] !== null) expect((copy as Record<string, unknown>)[k]).not.toBe((v as Record<string, unknown>)[k]);
        }
      }),
      { numRuns: 3000, ...(seed !== undefined ? { seed } : {}) },
    );
  });

  it('a stored cursor and delivery record read back as stored, unchanged by the caller changing them after', async () => {
    const storage = memoryStorage();
    await storage.open();
    const cursor = { e: 'ep', s: 5, re: 'ep', rs: 6 };
    const seen = { e: 'ep', n: 9, h: ['old1', 'old2'] };
    const odd = { e: 'ep', s: -0, x: undefined, y: NaN, h: [1, undefined] };
    await storage.transact((tx) => {
      tx.setMeta('c', cursor);
      tx.setMeta('d', seen);
      tx.setMeta('o', odd);
      cursor.s = 6;
      seen.h.push('old3');
      expect(tx.getMeta('c')).toEqual({ e: 'ep', s: 5, re: 'ep', rs: 6 });
    });
    expect(await storage.getMeta('c')).toEqual({ e: 'ep', s: 5, re: 'ep', rs: 6 });
    expect(await storage.getMeta('d')).toEqual({ e: 'ep', n: 9, h: ['old1', 'old2'] });
    expect(await storage.getMeta('o')).toStrictEqual({ e: 'ep', s: 0, y: null, h: [1, null] });
    const read = (await storage.getMeta<{ h: string[] }>('d'))!;
    read.h.push('changed');
    expect(await storage.getMeta('d')).toEqual({ e: 'ep', n: 9, h: ['old1', 'old2'] });
  });
});
