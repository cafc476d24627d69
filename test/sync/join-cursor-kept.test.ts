/**
 * A join of a peer's frame stores the sync cursor with the entries (space-sync.ts joinWithCursor: JoinOptions.meta), made
 * from the cursor the storage holds. On memory storage it reads the kept value and keeps the one it made, with no copy
 * of either (StorageTx peekMeta, setMetaOwned): every client of a relay did both for every write fanned out to it
 * (bench S7). Whoever else reads or writes metadata still gets and gives copies; a storage without the two methods (a
 * wrapper, another adapter) joins through getMeta and setMeta as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter, type StorageTx } from '../../lib/index.js';
import { cursorKey } from '../../lib/sync/lineage.js';
import { writtenState } from '../support/replicas.js';
import { overriding } from '../support/storage-proxy.js';
import { synced } from './support.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (undo.length) await undo.pop()!();
});

async function replica(storage: StorageAdapter = memoryStorage()): Promise<Replica> {
  const r = await openReplica({ storage });
  undo.push(() => r.close());
  return r;
}

/** Another replica's state of `key` in space s, as a peer would send it. */
const remote = (key: string, v: unknown) => writtenState(replica, key, v);

/** Joins `key`'s state with a metadata record `c` made by `make` from what is stored; returns what `make` was given. */
async function joinWithMeta(b: Replica, key: string, make: (stored: unknown) => unknown): Promise<unknown> {
  const x = await remote(key, key);
  let given: unknown = 'not called';
  await b.core.join('s', [[key, x.state]], { peer: x.id, meta: { name: 'c', value: (stored) => ((given = stored), make(stored)) } });
  return given;
}

describe('a join keeps its cursor record as made', () => {
  it('on memory storage the next join reads the very value the last one made', async () => {
    const b = await replica();
    const first = { e: 'E', s: 1 };
    const second = { e: 'E', s: 2 };
    expect(await joinWithMeta(b, 'k1', () => first)).toBeUndefined();
    expect(await joinWithMeta(b, 'k2', () => second)).toBe(first);
    expect(await joinWithMeta(b, 'k3', () => ({ e: 'E', s: 3 }))).toBe(second);
  });

  it('anyone else reading the record gets a copy, and changing it changes nothing stored', async () => {
    const b = await replica();
    const made = { e: 'E', s: 5, re: 'R', rs: 4 };
    await joinWithMeta(b, 'k1', () => made);
    const read = (await b.core.storage.getMeta<Record<string, unknown>>('c'))!;
    expect(read).toEqual(made);
    expect(read).not.toBe(made);
    read.s = 99;
    const inTx = (await b.core.storage.transact((tx) => tx.getMeta<Record<string, unknown>>('c')))!;
    expect(inTx).toEqual(made);
    expect(inTx).not.toBe(made);
    inTx.s = 98;
    expect(await joinWithMeta(b, 'k2', (stored) => stored && { ...(stored as object) })).toEqual({ e: 'E', s: 5, re: 'R', rs: 4 });
  });

  it('setMeta still keeps a copy: what its caller changes after is not stored', async () => {
    const b = await replica();
    const given = { e: 'E', s: 7, list: [1, 2] };
    await b.core.storage.transact((tx) => tx.setMeta('c', given));
    given.s = 70;
    given.list.push(3);
    expect(await joinWithMeta(b, 'k1', () => ({ e: 'E', s: 8 }))).toEqual({ e: 'E', s: 7, list: [1, 2] });
  });

  it('a storage whose transactions have neither method joins through getMeta and setMeta (copies both ways)', async () => {
    const inner = memoryStorage();
    const plain = (tx: StorageTx): StorageTx => ({
      get: (s, k) => tx.get(s, k),
      put: (s, k, r) => tx.put(s, k, r),
      remove: (s, k) => tx.remove(s, k),
      getMeta: (n) => tx.getMeta(n),
      setMeta: (n, v) => tx.setMeta(n, v),
    });
    const storage = overriding(inner, {
      transact: (fn) => inner.transact((tx) => fn(plain(tx))),
      transactNow: (fn) => inner.transactNow!((tx) => fn(plain(tx))),
    });
    const b = await replica(storage);
    const first = { e: 'E', s: 1 };
    await joinWithMeta(b, 'k1', () => first);
    first.s = 10; // handed to setMeta, which copies: not what is stored
    const seen = await joinWithMeta(b, 'k2', () => ({ e: 'E', s: 2 }));
    expect(seen).toEqual({ e: 'E', s: 1 });
    expect(seen).not.toBe(first);
  });

  it('through a link: the cursor a client stores follows the frames, and a reader changing its copy moves nothing', async () => {
    const a = await replica();
    const b = await replica();
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    b.space('s');
    await synced(a, b);
    const key = cursorKey(a.replicaId, 's');
    for (let i = 0; i < 5; i++) await a.space('s').put(`k${i}`, i);
    await synced(a, b);
    const cursor = (await b.core.storage.getMeta<{ e: string; s: number }>(key))!;
    expect(cursor.s).toBe((await a.core.storage.get('s', 'k4'))!.seq);
    cursor.s = 0;
    await a.space('s').put('k5', 5);
    await synced(a, b);
    expect((await b.core.storage.getMeta<{ s: number }>(key))!.s).toBe((await a.core.storage.get('s', 'k5'))!.seq);
    expect(await b.space('s').get('k5')).toMatchObject({ value: 5 });
  });
});
