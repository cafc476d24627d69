/**
 * The page S5/S6 run in (headless Chromium, bundled by esbuild): Concord over indexedDBStorage and Yjs over
 * y-indexeddb, side by side in one page. Exposes `window.bench`. Data: key `k<i>`,
 * value `{ title: 'item <i>', done: i % 2 === 0, n: i }`.
 *
 * "Persisted" for y-indexeddb: it stores each update in its own transaction as the update happens; a
 * strict-durability readwrite transaction over its store, created after the last write, completes only
 * after every earlier one committed (IndexedDB orders overlapping readwrite transactions), and its flush
 * covers theirs. Concord's `put` resolves only once its own strict transaction committed.
 */
import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { openReplica } from '../../lib/index.js';

const item = (i: number) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

async function concordFill(name: string, n: number, inFlight: number): Promise<number> {
  await deleteDb(name);
  const replica = await openReplica({ storage: indexedDBStorage(name) });
  const sp = replica.space('bench');
  const t0 = performance.now();
  for (let from = 0; from < n; from += inFlight) {
    const to = Math.min(n, from + inFlight);
    const puts: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) puts.push(sp.put(`k${i}`, item(i)));
    await Promise.all(puts);
  }
  const ms = performance.now() - t0;
  await replica.close();
  return ms;
}

async function yjsPersisted(p: IndexeddbPersistence): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tx = p.db!.transaction(['updates'], 'readwrite', { durability: 'strict' });
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

const bench = {
  /** Concord: n durable writes, one key per write, all in flight. Returns ms. */
  concordWrites: (n: number) => concordFill('s5-concord', n, n),

  /** Concord: n writes one after another, each awaited. Returns ms. */
  async concordSequential(n: number): Promise<number> {
    await deleteDb('s5-concord-seq');
    const replica = await openReplica({ storage: indexedDBStorage('s5-concord-seq') });
    const sp = replica.space('bench');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await sp.put(`k${i}`, item(i));
    const ms = performance.now() - t0;
    await replica.close();
    return ms;
  },

  /** Yjs + y-indexeddb: n Y.Map sets (one update each), until persisted. Returns ms. */
  async yjsWrites(n: number): Promise<number> {
    await deleteDb('s5-yjs');
    const doc = new Y.Doc();
    const p = new IndexeddbPersistence('s5-yjs', doc);
    await p.whenSynced;
    const map = doc.getMap('bench');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) map.set(`k${i}`, item(i));
    await yjsPersisted(p);
    const ms = performance.now() - t0;
    await p.destroy();
    doc.destroy();
    return ms;
  },

  /** Stores n keys in Concord (database `s6-concord-<n>`), to be reopened. */
  concordPrepare: (n: number) => concordFill(`s6-concord-${n}`, n, 5000),

  /** Reopens the Concord replica: ms until a get answers, and until the space's whole index has been read. */
  async concordReopen(n: number): Promise<{ get: number; index: number }> {
    const t0 = performance.now();
    const storage = indexedDBStorage(`s6-concord-${n}`);
    const replica = await openReplica({ storage });
    const got = await replica.space('bench').get('k7');
    const get = performance.now() - t0;
    const entries = await storage.index('bench');
    const index = performance.now() - t0;
    if ((got?.value as { n?: number } | undefined)?.n !== 7 || entries.length !== n) throw new Error('concord reopen: wrong data');
    await replica.close();
    return { get, index };
  },

  /** Stores n keys in Yjs + y-indexeddb (one transaction), to be reopened. */
  async yjsPrepare(n: number): Promise<void> {
    const name = `s6-yjs-${n}`;
    await deleteDb(name);
    const doc = new Y.Doc();
    const p = new IndexeddbPersistence(name, doc);
    await p.whenSynced;
    const map = doc.getMap('bench');
    doc.transact(() => {
      for (let i = 0; i < n; i++) map.set(`k${i}`, item(i));
    });
    await yjsPersisted(p);
    await p.destroy();
    doc.destroy();
  },

  /** Reopens the Yjs document from y-indexeddb: ms until a get answers. */
  async yjsReopen(n: number): Promise<number> {
    const t0 = performance.now();
    const doc = new Y.Doc();
    const p = new IndexeddbPersistence(`s6-yjs-${n}`, doc);
    await p.whenSynced;
    const got = doc.getMap('bench').get('k7') as { n?: number } | undefined;
    const ms = performance.now() - t0;
    if (got?.n !== 7 || doc.getMap('bench').size !== n) throw new Error('yjs reopen: wrong data');
    await p.destroy();
    doc.destroy();
    return ms;
  },
};

(globalThis as { bench?: typeof bench }).bench = bench;
export type Bench = typeof bench;
