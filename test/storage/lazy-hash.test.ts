// A local write's record hashes its state when first read (record.ts WrittenRecord), not when the write makes it: a
// put on the memory storage of a space nobody syncs computes no hash at all (bench S3: ~7 % of a put's CPU). Whoever
// reads the hash later — the storage's index, a read of the record, the change event's record, the file storage at
// commit, JSON — must get exactly what hashing the state at once gave (record.ts `record`), for plain and tagged
// states, new keys and rewritten ones, a slot reused after a removal. Hashing is counted through the hasher's entries.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { stateOf } from '../../lib/dvv.js';
import { loadHasher } from '../../lib/hash.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { record, WrittenRecord } from '../../lib/record.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { tempDir } from '../fs/helpers.js';

const hashed = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../lib/hash.js', async (importOriginal) => {
  const hash = await importOriginal<typeof import('../../lib/hash.js')>();
  return {
    ...hash,
    hash64: (...a: Parameters<typeof hash.hash64>) => (hashed.n++, hash.hash64(...a)),
    hash64Scratch: (...a: Parameters<typeof hash.hash64Scratch>) => (hashed.n++, hash.hash64Scratch(...a)),
  };
});

beforeAll(loadHasher);

/** The hash of `rec`'s state made at once, as every record but a local write's is (a join's, a re-issue's). */
const eager = (key: string, rec: KeyRecord) => record(key, stateOf(rec), rec.seq).h;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Every record of space `s` as its storage reads it, with the index's hash of its key. */
async function everything(storage: StorageAdapter, s: string): Promise<Array<{ key: string; rec: KeyRecord; h: string }>> {
  const out = [];
  for (const e of await storage.index(s)) out.push({ key: e.key, rec: (await storage.get(s, e.key))!, h: e.h });
  return out;
}

describe('a local write hashes its state when the hash is first read', () => {
  it('puts of new keys on the memory storage compute no hash; the index and reads give the state hash later', async () => {
    const storage = memoryStorage();
    const replica = await openReplica({ storage });
    const space = replica.space('s');
    const before = hashed.n;
    for (let i = 0; i < 50; i++) await space.put(`k${i}`, { i });
    // Fails before: each put hashed its new state (50).
    expect(hashed.n - before).toBe(0);
    const all = await everything(storage, 's');
    expect(all).toHaveLength(50);
    for (const { key, rec, h } of all) {
      expect(h).toMatch(/^[0-9a-f]{16}$/);
      expect(h).toBe(eager(key, rec));
      expect(rec.h).toBe(h);
    }
    // Hashed once, when first asked, and kept: a second index hashes nothing.
    const again = hashed.n;
    expect((await storage.index('s')).map((e) => e.h)).toEqual(all.map((e) => e.h));
    expect(hashed.n).toBe(again);
    await replica.close();
  });

  it('rewritten keys, removed and reused slots, tombstones: every hash read later is the state hash', async () => {
    const storage = memoryStorage();
    const replica = await openReplica({ storage });
    const space = replica.space('s');
    for (let i = 0; i < 20; i++) await space.put(`k${i}`, i);
    // A rewrite reads the record a put left unhashed; a delete stores a tombstone (kept whole); a key written again
    // after its tombstone; two writes of one key in flight together.
    for (let i = 0; i < 20; i += 2) await space.put(`k${i}`, `again ${i}`);
    for (let i = 0; i < 20; i += 5) await space.delete(`k${i}`);
    await space.put('k0', 'back');
    await Promise.all([space.put('k1', 'one'), space.put('k1', 'two'), space.put('new', 'n')]);
    for (const { key, rec, h } of await everything(storage, 's')) {
      expect(h).toBe(eager(key, rec));
      expect(rec.h).toBe(h);
    }
    await replica.close();
  });

  it('the change event carries the record; its hash, read there or through JSON, is the state hash', async () => {
    const storage = memoryStorage();
    const replica = await openReplica({ storage });
    const seen: Array<[string, KeyRecord]> = [];
    replica.core.events.on('change', (c) => void (c.origin === 'local' && seen.push([c.key, c.rec])));
    await replica.space('s').put('a', { x: 1 });
    await replica.space('s').put('a', { x: 2 });
    expect(seen).toHaveLength(2);
    for (const [key, rec] of seen) {
      expect(rec).toBeInstanceOf(WrittenRecord);
      const h = eager(key, rec);
      expect(JSON.parse(JSON.stringify(rec))).toEqual({ vs: JSON.parse(JSON.stringify(rec.vs)), cc: rec.cc, seq: rec.seq, h });
      expect(rec.h).toBe(h);
    }
    expect((await storage.index('s'))[0]!.h).toBe(seen[1]![1].h);
    await replica.close();
  });

  it('a tagged replica (a second open at protocol 11): its records name epochs, and hash as at once', async () => {
    const storage = memoryStorage();
    await (await openReplica({ storage })).close();
    const replica = await openReplica({ storage });
    const space = replica.space('s');
    for (let i = 0; i < 10; i++) await space.put(`k${i}`, i);
    await space.put('k3', 'again');
    const all = await everything(storage, 's');
    expect(all.some(({ rec }) => rec.vs[0]?.ep !== undefined && rec.pts !== undefined)).toBe(true);
    for (const { key, rec, h } of all) expect(h).toBe(eager(key, rec));
    await replica.close();
  });

  it('the file storage stores the state hash (read back after a reopen)', async () => {
    const { dir, cleanup } = await tempDir('lazy-hash');
    cleanups.push(cleanup);
    const replica = await openReplica({ storage: fileStorage(dir) });
    const space = replica.space('s');
    for (let i = 0; i < 10; i++) await space.put(`k${i}`, i);
    await space.put('k3', 'again');
    await replica.close();
    const storage = fileStorage(dir);
    await storage.open();
    const all = await everything(storage, 's');
    expect(all).toHaveLength(10);
    for (const { key, rec, h } of all) {
      expect(h).toBe(eager(key, rec));
      expect(rec.h).toBe(h);
    }
    await storage.close();
  });
});
