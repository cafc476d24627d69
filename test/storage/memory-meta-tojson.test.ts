// Review of s7k's field-by-field copy of memory storage metadata (memory-storage.ts flatCopy): it stands for the JSON
// round trip only where JSON copies each field as it is. An array or record with a toJSON method of its own is one JSON
// serialises through that method: the copy must give what JSON gives, not the elements.
import { describe, expect, it } from 'vitest';
import { cloneMeta, memoryStorage } from '../../lib/memory-storage.js';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('memory storage metadata with a toJSON of its own', () => {
  it('an array field whose toJSON answers something else is copied as JSON gives it', async () => {
    const list = Object.assign([1, 2, 3], { toJSON: () => 'summary' });
    const value = { e: 'ep', h: list };
    expect(cloneMeta(value)).toStrictEqual(viaJson(value));
    const storage = memoryStorage();
    await storage.open();
    await storage.transact((tx) => tx.setMeta('m', value));
    expect(await storage.getMeta('m')).toStrictEqual({ e: 'ep', h: 'summary' });
  });

  it('a flat record whose toJSON is a field (not a method) stays a field, as in JSON', () => {
    const value = { e: 'ep', toJSON: 'just a string' };
    expect(cloneMeta(value)).toStrictEqual(viaJson(value));
  });
});
