// Faults a browser delivers to an open IndexedDB storage.
//
// The browser deletes an open replica's database (storage pressure, "clear site data", another tab's
// deleteDatabase): the connection gets a versionchange or a close event and the records are gone. The instance must
// not go on writing into a database made anew, minting the sequence (and so its dots) again from 1 under the same
// replicaId: a dot names exactly one value, forever (DESIGN). It reports the loss, and a replica opened afterwards is
// one restored from nothing: a new replicaId.
//
// A group commit of many MB of values is split into batch rows a browser accepts; aborted by the browser in the
// middle of adding them, none of it is kept.
//
// The browser aborts a read's transaction (quota, a dying backend): the read fails with a ConcordError, and nothing
// is left unhandled (an unhandled rejection is an error event in a page, and ends a Node process).
import 'fake-indexeddb/auto';
import { forceCloseDatabase, IDBFactory, IDBObjectStore as FakeStore } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { ROW_BYTES } from '../../adapters/indexeddb/tx.js';
import type { KeyRecord } from '../../lib/storage.js';
import { openReplica } from '../../lib/index.js';
import { storeLayout, watchingFactory } from '../support/idb-fake.js';

let n = 0;

function deleteDb(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = factory.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('deletion blocked: the adapter kept its connection'));
  });
}

/**
 * A replica over `name`: its connection closed by the browser (a backend hiccup: reopened on next use, the records are
 * there), then closed and the database deleted (storage pressure) before the instance comes back: the next put fails.
 */
async function closedThenDeleted(factory: IDBFactory, name: string): Promise<void> {
  const seen: IDBDatabase[] = [];
  const a = await openReplica({ storage: indexedDBStorage(name, { indexedDB: watchingFactory(factory, seen) }) });
  await a.space('s').put('k1', 'one');
  forceCloseDatabase(seen[seen.length - 1]! as never);
  await a.space('s').put('k2', 'two');
  expect((await a.space('s').get('k1'))?.value).toBe('one');
  forceCloseDatabase(seen[seen.length - 1]! as never);
  await deleteDb(factory, name);
  await expect(a.space('s').put('k3', 'three')).rejects.toMatchObject({ name: 'ConcordError' });
  await a.close().catch(() => {});
}

describe('indexedDBStorage whose database the browser deleted', () => {
  it('deleted from elsewhere (versionchange): later writes fail, nothing is minted again; a reopened replica is a new one', async () => {
    const factory = new IDBFactory();
    const name = `deleted-${++n}`;
    const a = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }) });
    const id = a.replicaId;
    await a.space('s').put('k1', 'one');
    await a.space('s').put('k2', 'two');
    await deleteDb(factory, name);
    // Not acknowledged: the database it stored into is gone.
    await expect(a.space('s').put('k3', 'three')).rejects.toMatchObject({ name: 'ConcordError' });
    await expect(a.space('s').get('k1')).rejects.toMatchObject({ name: 'ConcordError' });
    await a.close().catch(() => {});
    // No dot of the old id was minted again: what the database holds now (if anything) is no write of `id`.
    const b = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }) });
    expect(b.replicaId).not.toBe(id);
    const dots: string[] = [];
    for await (const r of b.space('s').scan('')) for (const v of r.versions) dots.push(`${v.replicaId}:${v.counter}`);
    expect(dots.filter((d) => d.startsWith(`${id}:`))).toEqual([]);
    await b.close();
  });

  it('closed by the browser and deleted (close event): later writes fail; a connection merely closed goes on', async () => {
    await closedThenDeleted(new IDBFactory(), `deleted-${++n}`);
  });

  it('a database an earlier release made at version 3 (no row of its making): a lost connection is reopened and goes on', async () => {
    const factory = new IDBFactory();
    const name = `deleted-${++n}`;
    await storeLayout(factory, name, 3);
    // Deleted at last: the database made again has a row of its making, which the old one had not.
    await closedThenDeleted(factory, name);
  });
});

const restore: Array<() => void> = [];
afterEach(() => {
  while (restore.length) restore.pop()!();
});

describe('indexedDBStorage whose read transaction the browser aborts', () => {
  it('the read fails with a ConcordError and leaves no unhandled rejection (get, scan, readLog, getMeta)', async () => {
    const factory = new IDBFactory();
    const s = indexedDBStorage(`aborted-${++n}`, { indexedDB: factory, foldDelay: Infinity });
    await s.open();
    await s.transact((tx) => {
      tx.put('sp', 'a', { vs: [{ r: 'r', n: 1, t: 1, c: 0, v: '"a"' }], cc: { r: 1 }, seq: 1, h: '01' } as never);
      tx.setMeta('seq', 1);
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    restore.push(() => void process.off('unhandledRejection', onUnhandled));
    // The next request issued aborts its transaction once the code issuing it yields, as a browser aborts between tasks.
    let armed = false;
    for (const method of ['get', 'getAll', 'getAllKeys'] as const) {
      const proto = FakeStore.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
      const orig = proto[method]!;
      proto[method] = function (this: IDBObjectStore, ...args: unknown[]) {
        const out = orig.apply(this, args);
        if (armed) {
          armed = false;
          const tx = this.transaction;
          queueMicrotask(() => tx.abort());
        }
        return out;
      };
      restore.push(() => void (proto[method] = orig));
    }
    const reads: Array<() => Promise<unknown>> = [() => s.get('sp', 'a'), () => s.scan('sp', { limit: 10 }), () => s.readLog('sp', 0, 10), () => s.getMeta('seq')];
    for (const read of reads) {
      armed = true;
      await expect(read()).rejects.toMatchObject({ name: 'ConcordError' });
      expect(armed).toBe(false);
    }
    // Rejections are reported once the microtasks and the event that rejected are over.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(unhandled).toEqual([]);
    // The connection is fine: the next reads answer.
    expect((await s.get('sp', 'a'))?.seq).toBe(1);
    expect(await s.getMeta('seq')).toBe(1);
    await s.close();
  });
});

function countBatches(factory: IDBFactory, name: string): Promise<Array<{ entries: number; chars: number }>> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => {
      const db = req.result;
      const all = db.transaction('batches', 'readonly').objectStore('batches').getAll();
      all.onsuccess = () => {
        db.close();
        resolve((all.result as Array<{ e: Array<{ vs?: Array<{ v?: string }> }> }>).map((row) => ({ entries: row.e.length, chars: row.e.reduce((n, e) => n + (e.vs?.[0]?.v?.length ?? 0), 0) })));
      };
      all.onerror = () => reject(all.error);
    };
    req.onerror = () => reject(req.error);
  });
}

describe('indexedDBStorage with a group commit of many MB of values', () => {
  it('stores it in several batch rows of at most ROW_BYTES each; aborted while they are written, none is kept', async () => {
    const factory = new IDBFactory();
    const name = `huge-${++n}`;
    const s = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity });
    await s.open();
    // Nine values (more than a commit written straight into the per-key stores) of about ROW_BYTES / 3.5 (counted at
    // two bytes a character): three to a row, so three rows.
    const chars = Math.floor(ROW_BYTES / 7);
    const big = (i: number, seq: number): KeyRecord => ({ vs: [{ r: 'r', n: seq, t: seq, c: 0, v: JSON.stringify(String(i).repeat(chars)) }], cc: { r: seq }, seq, h: seq.toString(16) }) as KeyRecord;
    const write = (from: number) =>
      s.transact((tx) => {
        for (let i = 0; i < 9; i++) tx.put('sp', `k${i}`, big(i, from + i));
        tx.setMeta('seq', from + 8);
      });
    // The browser aborts the commit while its rows are written (the quota ran out at the second).
    let adds = 0;
    const proto = FakeStore.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const add = proto.add!;
    proto.add = function (this: IDBObjectStore, ...args: unknown[]) {
      const out = add.apply(this, args);
      if (++adds === 2) {
        const tx = this.transaction;
        queueMicrotask(() => tx.abort());
      }
      return out;
    };
    restore.push(() => void (proto.add = add));
    await expect(write(1)).rejects.toMatchObject({ name: 'ConcordError' });
    expect(adds).toBe(3);
    expect(await countBatches(factory, name)).toEqual([]);
    expect(await s.get('sp', 'k0')).toBeUndefined();
    expect(await s.getMeta('seq')).toBeUndefined();
    restore.pop()!();
    await write(1);
    const rows = await countBatches(factory, name);
    expect(rows.map((r) => r.entries)).toEqual([3, 3, 3]);
    for (const row of rows) expect(row.chars * 2).toBeLessThanOrEqual(ROW_BYTES);
    for (let i = 0; i < 9; i++) expect(await s.get('sp', `k${i}`)).toEqual(big(i, 1 + i));
    await s.fold();
    expect(await countBatches(factory, name)).toEqual([]);
    expect(await s.get('sp', 'k8')).toEqual(big(8, 9));
    await s.close();
  }, 60_000);
});
