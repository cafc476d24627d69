// A put reads its key and writes it: its commit takes the key's index entry from the transaction's read rather than
// looking the key up again (one lookup of a 100 000-key map a put less; issue 14), and only while that read is still
// what the index holds.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeWrites } from '../../adapters/fs/batch.js';
import { RecordArea } from '../../adapters/fs/frame.js';
import { Entry, Keyspace, SpaceIndex } from '../../adapters/fs/keyspace.js';
import { FileTx } from '../../adapters/fs/tx.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import { faultyStorages } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('lookups', { compactOnClose: false });
afterEach(() => {
  vi.restoreAllMocks();
  return storages.cleanup();
});

describe('file storage: a transaction that read a key does not look it up again to commit it', () => {
  it('a put at once and a queued put, of a key stored or new, each look their key up once; the records are the ones written', async () => {
    const { s } = await storages.setup({});
    for (let i = 0; i < 20; i++) await s.transact((tx) => tx.put('sp', `k${i}`, rec(i + 1)));
    // every lookup of a key in the index is a Map get (SpaceIndex.records); counted for the keys put below
    const lookups = vi.spyOn(Map.prototype, 'get');
    const now = s.transactNow!((tx) => {
      const cur = tx.get('sp', 'k3') as ReturnType<typeof rec>;
      tx.put('sp', 'k3', rec(cur.seq + 100));
      return cur.seq;
    });
    expect(now?.value).toBe(4);
    expect(lookups.mock.calls.filter(([k]) => k === 'k3')).toHaveLength(1);
    await now!.durable;
    lookups.mockClear();
    await s.transact(async (tx) => {
      const cur = await tx.get('sp', 'new');
      tx.put('sp', 'new', rec(cur ? 0 : 200));
    });
    expect(lookups.mock.calls.filter(([k]) => k === 'new')).toHaveLength(1);
    lookups.mockRestore();
    expect(await s.get('sp', 'k3')).toEqual(rec(104));
    expect(await s.get('sp', 'new')).toEqual(rec(200));
    // the last key read is the one remembered: a put of a key read before it is looked up again, and right
    const both = s.transactNow!((tx) => {
      tx.get('sp', 'k1');
      tx.get('sp', 'k2');
      tx.put('sp', 'k1', rec(301));
      tx.put('sp', 'k2', rec(302));
    });
    await both!.durable;
    expect(await s.get('sp', 'k1')).toEqual(rec(301));
    expect(await s.get('sp', 'k2')).toEqual(rec(302));
    expect((await s.readLog('sp', 300, 10)).map(([k, r]) => [k, r.seq])).toEqual([
      ['k1', 301],
      ['k2', 302],
    ]);
  });

  it('a read the index changed after (another entry for the key, or the key removed) is not used: the commit looks again', () => {
    const ks = new Keyspace();
    const space = ks.space('sp');
    const first = new Entry(1, 'h1', 10, 0, rec(1));
    space.set('a', first);
    const host = { spaceIndex: (n: string) => ks.spaces.get(n), readEntry: async (e: Entry) => e.rec!, currentMeta: () => undefined };
    const tx = new FileTx(host, true);
    expect(tx.get('sp', 'a')).toEqual(rec(1));
    expect(tx.seen(space, 'a')).toBe(first);
    expect(tx.seen(space, 'b')).toBeNull();
    expect(tx.seen(new SpaceIndex(), 'a')).toBeNull();
    // another transaction's entry for the key (as a rollback or a commit in between would leave it)
    const second = new Entry(2, 'h2', 10, 0, rec(2));
    space.set('a', second);
    expect(tx.seen(space, 'a')).toBeNull();
    tx.put('sp', 'a', rec(3));
    expect(encodeWrites(ks, tx.writes!, tx, new RecordArea())[3]).toBe(second);
    // removed: the commit finds no entry, not the one read
    const tx2 = new FileTx(host, true);
    tx2.get('sp', 'a');
    space.set('a', undefined);
    tx2.put('sp', 'a', rec(4));
    expect(encodeWrites(ks, tx2.writes!, tx2, new RecordArea())[3]).toBeUndefined();
    // a read of a key absent then, still absent: taken as read (no entry)
    const tx3 = new FileTx(host, true);
    expect(tx3.get('sp', 'a')).toBeUndefined();
    expect(tx3.seen(space, 'a')).toBeUndefined();
  });
});
