/**
 * Keys and values that start with U+FEFF (a byte-order mark) are data like any other. The wire's UTF-8 decoder
 * dropped a leading one by default: '\uFEFFabc' arrived as 'abc' (replacing, or standing as a false sibling of, the
 * real 'abc'), a value lost its first character under a dot that still named the sent value (anti-entropy compares
 * dots, so nothing ever repaired it), and the key '\uFEFF' arrived as '' — an invalid key that failed the session
 * at every reconnect, so nothing written after it synced again.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { pairTransports } from '../../lib/index.js';
import { dump, synced, until } from './support.js';

describe('a leading U+FEFF crosses the wire unchanged', () => {
  it('in keys and values, beside the same text without it, and later writes still sync', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    try {
      await a.space('s').put('abc', 'the real abc');
      await a.space('s').put('\uFEFFabc', 'bom abc');
      await a.space('s').put('v', '\uFEFFhello');
      await a.space('s').put('obj', { title: '\uFEFFtitle', list: ['\uFEFF', 'x'] });
      await a.space('s').put('\uFEFF', 'a key of one BOM');
      await synced(a, b);
      await a.space('s').put('later', 'written after');
      await until(async () => (await b.space('s').get('later')) !== undefined, 'a later write reaches b');
      expect(await dump(b, 's')).toEqual(await dump(a, 's'));
      expect((await b.space('s').get('abc'))?.siblings).toEqual(['the real abc']);
      expect((await b.space('s').get('\uFEFFabc'))?.value).toBe('bom abc');
      expect((await b.space('s').get('v'))?.value).toBe('\uFEFFhello');
      expect((await b.space('s').get('obj'))?.value).toEqual({ title: '\uFEFFtitle', list: ['\uFEFF', 'x'] });
      expect((await b.space('s').get('\uFEFF'))?.value).toBe('a key of one BOM');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
