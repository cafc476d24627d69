// The replica on file storage: what it wrote, its identity and its siblings are there after a reopen.
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { openReplica } from '../../lib/index.js';
import { tempDir } from './helpers.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

describe('openReplica({ storage: fileStorage(dir) })', () => {
  it('reopens with the same replicaId, values, siblings and deletes', async () => {
    const { dir, cleanup } = await tempDir('replica');
    cleanups.push(cleanup);
    const a = await openReplica({ storage: fileStorage(dir) });
    const id = a.replicaId;
    const space = a.space('team');
    await space.put('cart/alice', ['milk']);
    await space.put('when', new Date('2024-01-02T03:04:05Z'));
    await space.put('gone', 1);
    await space.delete('gone');
    const read = await space.get<string[]>('cart/alice');
    await Promise.all([space.put('cart/alice', ['milk', 'eggs'], { context: read!.context }), space.put('cart/alice', ['bread'], { context: read!.context })]);
    const before = await space.get<string[]>('cart/alice');
    expect(before!.conflict).toBe(true);
    await a.close();

    const b = await openReplica({ storage: fileStorage(dir) });
    try {
      expect(b.replicaId).toBe(id);
      const s = b.space('team');
      const after = await s.get<string[]>('cart/alice');
      expect(after!.siblings).toEqual(before!.siblings);
      expect(after!.versions).toEqual(before!.versions);
      expect(after!.conflict).toBe(true);
      expect((await s.get<Date>('when'))!.value).toEqual(new Date('2024-01-02T03:04:05Z'));
      expect(await s.get('gone')).toBeUndefined();
      const keys: string[] = [];
      for await (const e of s.scan('')) keys.push(e.key);
      expect(keys).toEqual(['cart/alice', 'when']);
      // writes continue the sequence: the new write supersedes both siblings
      await s.put('cart/alice', ['milk', 'eggs', 'bread'], { context: after!.context });
      expect((await s.get('cart/alice'))!.siblings).toEqual([['milk', 'eggs', 'bread']]);
    } finally {
      await b.close();
    }
  });
});
