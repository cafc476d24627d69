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

/**
 * S5's floor: IndexedDB alone, no library: `n` writes of a record-sized object in strict readwrite transactions of
 * `perTx` writes each, all issued at once (IndexedDB runs them in order). `shape` says what each write costs in
 * requests: 'put' one put; 'put+log' a put and a log entry's put (2); 'get+put+log' a read first (3, Concord's
 * shape for a key it must read); 'batch' one put per transaction of all its writes as one value (an append-only
 * batch layout). Returns ms until the last transaction completed.
 */
async function idbFloor(n: number, perTx: number, shape: 'put' | 'put+log' | 'get+put+log' | 'batch' | 'put-text' | 'put+log-text'): Promise<number> {
  const name = `s5-floor-${shape}`;
  await deleteDb(name);
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('records');
      req.result.createObjectStore('log');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const rec = (i: number) => ({ vs: [{ r: 'AbCdEfGhIjKlMnOp', n: i + 1, t: 1796226728424, c: 0, v: JSON.stringify(item(i)) }], cc: { AbCdEfGhIjKlMnOp: i + 1 }, seq: i + 1, h: '0123456789abcdef' });
  const t0 = performance.now();
  const done: Promise<void>[] = [];
  for (let from = 0; from < n; from += perTx) {
    const tx = db.transaction(['records', 'log'], 'readwrite', { durability: 'strict' });
    const records = tx.objectStore('records');
    const log = tx.objectStore('log');
    const to = Math.min(n, from + perTx);
    if (shape === 'batch') {
      const all = [];
      for (let i = from; i < to; i++) all.push(['bench', `k${i}`, rec(i)]);
      log.put(all, from);
    } else {
      const text = shape === 'put-text' || shape === 'put+log-text';
      for (let i = from; i < to; i++) {
        const key = ['bench', `k${i}`];
        const write = () => {
          // The record as one string (its JSON text) instead of nested objects: what a clone costs by form.
          records.put(text ? JSON.stringify(rec(i)) : rec(i), key);
          if (shape !== 'put' && shape !== 'put-text') log.put(key, ['bench', i + 1]);
        };
        if (shape === 'get+put+log') records.get(key).onsuccess = write;
        else write();
      }
    }
    done.push(new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => reject(tx.error);
    }));
  }
  await Promise.all(done);
  const ms = performance.now() - t0;
  db.close();
  await deleteDb(name);
  return ms;
}

const bench = {
  idbFloor,

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
