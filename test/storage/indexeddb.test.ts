// The storage contract on fake-indexeddb (Node), plus what is particular to the IndexedDB adapter:
// group commit keeps each callback all-or-nothing, several instances share one database, connections lost
// or asked to close for an upgrade are handled.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { openReplica } from '../../lib/index.js';
import { DB_VERSION } from '../../adapters/indexeddb/schema.js';
import { runStorageContract, rec } from './contract.js';
import { watchingFactory } from '../support/idb-fake.js';

let n = 0;
function fresh(): { factory: IDBFactory; name: string } {
  return { factory: new IDBFactory(), name: `db-${++n}` };
}

runStorageContract('indexedDBStorage (fake-indexeddb)', async () => {
  const { factory, name } = fresh();
  return {
    storage: indexedDBStorage(name, { indexedDB: factory }),
    reopen: async () => indexedDBStorage(name, { indexedDB: factory }),
  };
});

/** An object store of the database `name`, in a transaction of its own connection (closed after). */
async function storeOf(factory: IDBFactory, name: string, store: string): Promise<IDBObjectStore> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const os = db.transaction(store, 'readonly').objectStore(store);
  db.close();
  return os;
}

/** Reads every row of a store of the database `name` (its own connection, closed after). */
async function rowsOf(factory: IDBFactory, name: string, store: string): Promise<unknown[]> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    return await new Promise<unknown[]>((resolve, reject) => {
      const req = db.transaction(store, 'readonly').objectStore(store).getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

/**
 * A replica on a fresh database types `text` into a document, then `n` one-character keystrokes (at `i * stride`),
 * each flushed; closes. Returns the database and the text typed.
 */
async function typed(text: string, n: number, stride: number): Promise<{ factory: IDBFactory; name: string; want: string }> {
  const { factory, name } = fresh();
  const r = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }) });
  const doc = await openDoc(r.space('s'), 'doc', { writeDelay: 0 });
  const t = doc.getText('body');
  t.insert(0, text);
  await flushDoc(doc);
  for (let i = 0; i < n; i++) {
    t.insert(i * stride, 'k');
    await flushDoc(doc);
  }
  const want = t.toString();
  doc.destroy();
  await r.close();
  return { factory, name, want };
}

/** The document's text as a replica opening the database reads it. */
async function reread(factory: IDBFactory, name: string): Promise<string> {
  const again = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }) });
  const got = new Y.Doc();
  Y.applyUpdate(got, (await again.space('s').get('doc'))!.value as Uint8Array);
  await again.close();
  return got.getText('body').toString();
}

describe('indexedDBStorage: deltas (schema version 2)', () => {
  it('a replica typing into a document stores each write as a small delta row after the root, and reads it back exact', async () => {
    const { factory, name, want } = await typed('the document '.repeat(3000), 20, 11);
    const deltas = (await rowsOf(factory, name, 'deltas')) as Array<{ vs: Array<{ x?: { d: Uint8Array }; v?: unknown }> }>;
    expect(deltas).toHaveLength(20);
    for (const row of deltas) {
      expect(row.vs[0]!.v).toBeUndefined();
      expect(row.vs[0]!.x!.d.length).toBeLessThan(100);
    }
    expect(await reread(factory, name)).toBe(want);
  });

  it('over a large document the chain grows past 64 rows (one per KiB of it, as in memory): 100 keystrokes, 100 rows', async () => {
    const { factory, name, want } = await typed('a larger document '.repeat(8000), 100, 13); // ~144 KB: up to 140 rows
    // Cut at 64 rows, the 65th write would have stored the document whole again and dropped the rows before it.
    expect(await rowsOf(factory, name, 'deltas')).toHaveLength(100);
    expect(await reread(factory, name)).toBe(want);
  });

  it('a new key costs no request to the deltas store; a key rewritten without a read still loses its chain', async () => {
    const { factory, name } = fresh();
    const r = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }) });
    const doc = await openDoc(r.space('s'), 'doc', { writeDelay: 0 });
    doc.getText('body').insert(0, 'the document '.repeat(3000));
    await flushDoc(doc);
    for (let i = 0; i < 3; i++) {
      doc.getText('body').insert(0, 'k');
      await flushDoc(doc);
    }
    doc.destroy();
    await r.close();
    expect(await rowsOf(factory, name, 'deltas')).toHaveLength(3);
    // Count the deletes issued to the deltas store (fake-indexeddb's object store class, patched for this test only).
    const proto = Object.getPrototypeOf(await storeOf(factory, name, 'deltas')) as { delete: (...a: unknown[]) => unknown };
    const original = proto.delete;
    let deltaDeletes = 0;
    proto.delete = function (this: { name: string }, ...a: unknown[]) {
      if (this.name === 'deltas') deltaDeletes++;
      return original.apply(this, a);
    };
    try {
      const s = indexedDBStorage(name, { indexedDB: factory });
      await s.open();
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.transact(async (tx) => {
        await tx.get('s', `new${i}`);
        tx.put('s', `new${i}`, rec(100 + i));
      })));
      // Commits write batches only; the fold moves them into the per-key stores, reading the heads it replaces.
      await s.fold();
      expect(deltaDeletes).toBe(0);
      // Written without reading it first: stored whole, so its fold drops the chain it replaces.
      await s.transact((tx) => tx.put('s', 'doc', rec(200)));
      expect((await s.get('s', 'doc'))?.seq).toBe(200);
      await s.fold();
      expect(deltaDeletes).toBe(1);
      expect(await rowsOf(factory, name, 'deltas')).toHaveLength(0);
      expect((await s.get('s', 'doc'))?.seq).toBe(200);
      await s.close();
    } finally {
      proto.delete = original;
    }
  });

  it('opens a database written by schema version 1 (no deltas store) and keeps its records', async () => {
    const { factory, name } = fresh();
    await new Promise<void>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore('heads', { keyPath: ['s', 'k'] }).createIndex('log', ['s', 'seq']);
        db.createObjectStore('states');
        db.createObjectStore('meta');
        const tx = req.transaction!;
        const { seq, h, ...state } = rec(3);
        tx.objectStore('heads').put({ s: 'sp', k: 'a', seq, h });
        tx.objectStore('states').put(state, ['sp', 'a']);
      };
      req.onsuccess = () => (req.result.close(), resolve());
      req.onerror = () => reject(req.error);
    });
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    expect(await s.get('sp', 'a')).toEqual(rec(3));
    await s.transact((tx) => tx.put('sp', 'b', rec(4)));
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a', 'b']);
    await s.close();
  });
});

describe('indexedDBStorage specifics (fake-indexeddb)', () => {
  it('a throwing callback among many in flight leaves only its own writes out', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        s.transact(async (tx) => {
          const seq = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
          tx.setMeta('seq', seq);
          tx.put('sp', `k${i}`, rec(seq));
          if (i % 3 === 1) throw new Error(`no ${i}`);
          return seq;
        }),
      ),
    );
    const kept = results.flatMap((r, i) => (r.status === 'fulfilled' ? [[i, r.value] as const] : []));
    expect(kept).toHaveLength(20);
    expect(kept.map(([, seq]) => seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await s.getMeta('seq')).toBe(20);
    for (let i = 0; i < 30; i++) {
      const r = await s.get('sp', `k${i}`);
      if (i % 3 === 1) expect(r).toBeUndefined();
      else expect(r?.seq).toBe(kept.find(([j]) => j === i)?.[1]);
    }
    await s.close();
  });

  it('callbacks in flight together see each other’s writes in call order', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    await s.transact((tx) => tx.put('sp', 'chain', rec(1, '0')));
    const seen = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        s.transact(async (tx) => {
          const cur = await tx.get('sp', 'chain');
          const next = rec(i + 2, String(i + 1));
          tx.put('sp', 'chain', next);
          if (i % 5 === 4) tx.remove('sp', 'chain');
          return cur ? JSON.parse(cur.vs[0]!.v as string) : null;
        }),
      ),
    );
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => (i > 0 && i % 5 === 0 ? null : String(i))));
    expect(await s.get('sp', 'chain')).toBeUndefined();
    await s.close();
  });

  it('first reads of many callbacks, grouped, find existing and absent keys alike', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    await s.transact((tx) => {
      for (let i = 0; i < 40; i += 2) tx.put('sp', `k${i}`, rec(i + 1));
      tx.put('other', 'k1', rec(99));
    });
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => s.transact((tx) => tx.get('sp', `k${i}`))));
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? rec(i + 1) : undefined)));
    await s.close();
  });

  it('a callback that awaits something else fails alone, with a clear error', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    const jobs = Array.from({ length: 6 }, (_, i) =>
      s.transact(async (tx) => {
        const seq = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
        if (i === 2) await new Promise((resolve) => setTimeout(resolve, 20));
        tx.setMeta('seq', seq);
        tx.put('sp', `k${i}`, rec(seq));
        await tx.get('sp', 'other');
        return seq;
      }),
    );
    const results = await Promise.allSettled(jobs);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('awaited something other') });
    expect(await s.getMeta('seq')).toBe(5);
    expect(await s.get('sp', 'k2')).toBeUndefined();
    await s.close();
  });

  it('two instances on one database serialize their transactions and hint each other', async () => {
    const { factory, name } = fresh();
    const a = indexedDBStorage(name, { indexedDB: factory });
    const b = indexedDBStorage(name, { indexedDB: factory });
    await a.open();
    await b.open();
    const hinted: string[][] = [];
    const got = new Promise<void>((resolve) =>
      b.onExternalChange((spaces) => {
        hinted.push(spaces);
        resolve();
      }),
    );
    const bump = (s: typeof a, i: number) =>
      s.transact(async (tx) => {
        const seq = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
        tx.setMeta('seq', seq);
        tx.put(i % 2 ? 's1' : 's2', `k${i}`, rec(seq));
        return seq;
      });
    const seqs = await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 ? a : b, i)));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    await got;
    expect(hinted.flat().every((s) => s === 's1' || s === 's2')).toBe(true);
    expect((await b.readLog('s1', 0, 100)).map(([k]) => k).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `k${2 * i + 1}`).sort());
    await a.close();
    await b.close();
  });

  it('without Web Locks the only instance leads, and gives the role up on close', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    const lead = s.leadership();
    expect(lead.isLeader).toBe(true);
    const seen: boolean[] = [];
    lead.onChange((v) => seen.push(v));
    await s.close();
    expect(lead.isLeader).toBe(false);
    expect(seen).toEqual([false]);
    expect(typeof (await s.persisted)).toBe('boolean');
  });

  it('leadership asked for before open starts at open', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    const lead = s.leadership();
    expect(lead.isLeader).toBe(false);
    await s.open();
    expect(lead.isLeader).toBe(true);
    await s.close();
  });

  it('closes its connection when another wants to upgrade, then reports the newer version clearly', async () => {
    const { factory, name } = fresh();
    const s = indexedDBStorage(name, { indexedDB: factory });
    await s.open();
    await s.transact((tx) => tx.put('sp', 'a', rec(1)));
    await new Promise<void>((resolve, reject) => {
      const req = factory.open(name, DB_VERSION + 1);
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('upgrade blocked by the adapter'));
    });
    await expect(s.get('sp', 'a')).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('newer version') });
    await s.close();
  });

  it('reopens a lost connection and retries', async () => {
    const { factory, name } = fresh();
    const dbs: IDBDatabase[] = [];
    const watching = watchingFactory(factory, dbs);
    const { forceCloseDatabase } = await import('fake-indexeddb');
    const s = indexedDBStorage(name, { indexedDB: watching });
    await s.open();
    await s.transact((tx) => tx.put('sp', 'a', rec(1)));
    forceCloseDatabase(dbs[0]! as never);
    await s.transact((tx) => tx.put('sp', 'b', rec(2)));
    expect(await s.get('sp', 'a')).toEqual(rec(1));
    expect(await s.get('sp', 'b')).toEqual(rec(2));
    expect(dbs.length).toBe(2);
    await s.close();
  });
});

describe('IndexedDB errors as ConcordErrors', () => {
  it('QuotaExceededError is STORAGE_FULL with a clear message; others are STORAGE_ERROR', async () => {
    const { storageError, isLostConnection } = await import('../../adapters/indexeddb/errors.js');
    expect(storageError(new DOMException('quota', 'QuotaExceededError'), 'committing a transaction')).toMatchObject({
      name: 'ConcordError',
      code: 'STORAGE_FULL',
      message: expect.stringContaining('IndexedDB is full'),
    });
    expect(storageError(new DOMException('x', 'DataError'), 'scanning')).toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('scanning') });
    expect(isLostConnection(new DOMException('closing', 'InvalidStateError'))).toBe(true);
    expect(isLostConnection(new DOMException('quota', 'QuotaExceededError'))).toBe(false);
  });
});
