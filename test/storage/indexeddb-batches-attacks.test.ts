// Attacks on the IndexedDB batch layout (schema version 3) on fake-indexeddb: two instances committing and folding at
// once, an instance whose connection dies mid-fold, readers during folds, an upgrade blocked by an old connection and a
// version change from elsewhere, failing commits and folds, and a removal then a re-write of one key in one batch.
import 'fake-indexeddb/auto';
import { forceCloseDatabase, IDBFactory, IDBObjectStore as FakeStore } from 'fake-indexeddb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexedDBStorage, type IndexedDBStorage } from '../../adapters/indexeddb/index.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord } from '../../lib/storage.js';
import { rec } from './contract.js';

let n = 0;
function fresh(): { factory: IDBFactory; name: string } {
  return { factory: new IDBFactory(), name: `attacks-${++n}` };
}

function rawOpen(factory: IDBFactory, name: string, version?: number, onUpgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = version === undefined ? factory.open(name) : factory.open(name, version);
    req.onupgradeneeded = () => onUpgrade?.(req.result);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function countRows(factory: IDBFactory, name: string, store: string): Promise<number> {
  const db = await rawOpen(factory, name);
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = db.transaction(store, 'readonly').objectStore(store).count();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

async function opened(factory: IDBFactory, name: string, extra: Parameters<typeof indexedDBStorage>[1] = {}): Promise<IndexedDBStorage> {
  const s = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity, ...extra });
  await s.open();
  return s;
}

/** Every record of `space` as `s` reads it, three ways, each checked against `want`. */
async function expectAll(s: IndexedDBStorage, space: string, want: Map<string, KeyRecord>): Promise<void> {
  const byKey = [...want].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const bySeq = [...want].sort((a, b) => a[1].seq - b[1].seq);
  const [scan, log, index] = await Promise.all([s.scan(space, { limit: 100_000 }), s.readLog(space, 0, 100_000), s.index(space)]);
  expect(scan).toEqual(byKey);
  expect(log).toEqual(bySeq);
  expect(index.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual(byKey.map(([key, r]) => ({ key, seq: r.seq, h: r.h })));
}

type Patch = () => void;
const patches: Patch[] = [];
afterEach(() => {
  while (patches.length) patches.pop()!();
});
/** Replaces a method of fake-indexeddb's object store for the test's duration. */
function patchStore<K extends 'add' | 'delete' | 'put'>(method: K, impl: (orig: IDBObjectStore[K], store: IDBObjectStore, args: unknown[]) => unknown): void {
  const proto = FakeStore.prototype as unknown as Record<string, unknown>;
  const orig = proto[method] as IDBObjectStore[K];
  proto[method] = function (this: IDBObjectStore, ...args: unknown[]) {
    return impl(orig, this, args);
  };
  patches.push(() => void (proto[method] = orig));
}

describe('indexedDBStorage batches under attack (fake-indexeddb)', () => {
  beforeAll(loadHasher);

  it('two instances commit and fold at once: every record read back, ordered log, nothing left in batches after close', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name, { maxUnfolded: 3 });
    const b = await opened(factory, name, { maxUnfolded: 3 });
    const want = new Map<string, KeyRecord>();
    let seq = 0;
    const write = (s: IndexedDBStorage, key: string) =>
      s.transact(async (tx) => {
        const next = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
        tx.setMeta('seq', next);
        const r = rec(next, `${key}@${next}`);
        tx.put('sp', key, r);
        return [key, r] as const;
      });
    for (let round = 0; round < 8; round++) {
      const ops: Array<Promise<unknown>> = [];
      for (let i = 0; i < 12; i++) {
        ops.push(write(i % 2 ? a : b, `k${(round * 7 + i) % 15}`));
        if (i % 4 === 0) ops.push((i % 8 ? a : b).fold());
      }
      const results = await Promise.all(ops);
      const written = results.filter((x): x is readonly [string, KeyRecord] => Array.isArray(x)).sort((x, y) => x[1].seq - y[1].seq);
      for (const [key, r] of written) want.set(key, r);
      seq += written.length;
      // Seqs were minted in transactions: none reused.
      expect(new Set(written.map(([, r]) => r.seq)).size).toBe(written.length);
      await expectAll(round % 2 ? a : b, 'sp', want);
    }
    expect(seq).toBe(96);
    await a.close();
    await b.close();
    expect(await countRows(factory, name, 'batches')).toBe(0);
    const c = await opened(factory, name);
    await expectAll(c, 'sp', want);
    await c.close();
  });

  it('a connection that dies mid-fold leaves every record readable; the next instance folds them', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name);
    const want = new Map<string, KeyRecord>();
    await Promise.all(Array.from({ length: 40 }, (_, i) => a.transact((tx) => tx.put('sp', `k${i}`, rec(i + 1)))));
    for (let i = 0; i < 40; i++) want.set(`k${i}`, rec(i + 1));
    // The fold's transaction is under way (its first write to the per-key stores issued) when the connection dies.
    let killed = false;
    patchStore('delete', (orig, store, args) => {
      const out = orig.apply(store, args as never);
      if (!killed && store.name === 'heads') {
        killed = true;
        // fake-indexeddb's forced close lets running transactions finish: abort ours first, as a killed tab's is.
        store.transaction.abort();
        forceCloseDatabase(store.transaction.db as never);
      }
      return out;
    });
    patchStore('put', (orig, store, args) => {
      const out = orig.apply(store, args as never);
      if (!killed && store.name === 'heads') {
        killed = true;
        // fake-indexeddb's forced close lets running transactions finish: abort ours first, as a killed tab's is.
        store.transaction.abort();
        forceCloseDatabase(store.transaction.db as never);
      }
      return out;
    });
    await expect(a.fold()).rejects.toThrow();
    expect(killed).toBe(true);
    while (patches.length) patches.pop()!();
    expect(await countRows(factory, name, 'heads')).toBe(0);
    // The same instance reopens its connection on next use, and another instance reads the same.
    const b = await opened(factory, name);
    await expectAll(b, 'sp', want);
    await expectAll(a, 'sp', want);
    await b.fold();
    expect(await countRows(factory, name, 'batches')).toBe(0);
    expect(await countRows(factory, name, 'heads')).toBe(40);
    await expectAll(a, 'sp', want);
    await a.close();
    await b.close();
  });

  it('readers during folds and commits see each record once, and the log in seq order', async () => {
    const { factory, name } = fresh();
    const w = await opened(factory, name);
    const r = await opened(factory, name);
    const want = new Map<string, KeyRecord>();
    let seq = 0;
    for (let round = 0; round < 6; round++) {
      const batch: Array<[string, KeyRecord]> = Array.from({ length: 25 }, (_, i) => [`k${(round * 11 + i) % 60}`, rec(++seq)]);
      await Promise.all(batch.map(([k, v]) => w.transact((tx) => tx.put('sp', k, v))));
      for (const [k, v] of batch) want.set(k, v);
      const snapshot = new Map(want);
      // Folds (from either instance) and reads interleaved.
      const reads = Array.from({ length: 6 }, () => expectAll(r, 'sp', snapshot));
      await Promise.all([w.fold(), ...reads, r.fold(), expectAll(w, 'sp', snapshot)]);
    }
    await w.close();
    await r.close();
  });

  it('a failed fold does not stall the transactions queued behind it', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name);
    // A burst (one batch row: small commits with no batch waiting go straight to the per-key stores).
    await Promise.all([a.transact((tx) => tx.put('sp', 'k0', rec(1))), ...Array.from({ length: 10 }, (_, i) => a.transact((tx) => tx.put('sp', `x${i}`, rec(100 + i))))]);
    expect(await countRows(factory, name, 'batches')).toBe(1);
    // A write arrives while the fold step runs (queued behind it), then the fold fails.
    let writing: Promise<void> | undefined;
    patchStore('put', (orig, store, args) => {
      if (store.name === 'heads') {
        writing ??= a.transact((tx) => tx.put('sp', 'k1', rec(2)));
        throw new DOMException('disk full', 'QuotaExceededError');
      }
      return orig.apply(store, args as never);
    });
    const folding = a.fold();
    await expect(folding).rejects.toMatchObject({ code: 'STORAGE_FULL' });
    expect(writing).toBeDefined();
    const settled = await Promise.race([writing!.then(() => 'done'), new Promise((res) => setTimeout(() => res('stalled'), 500))]);
    expect(settled).toBe('done');
    while (patches.length) patches.pop()!();
    expect(await a.get('sp', 'k0')).toEqual(rec(1));
    expect(await a.get('sp', 'k1')).toEqual(rec(2));
    await a.close();
    expect(await countRows(factory, name, 'batches')).toBe(0);
  });

  it('a commit refused for quota (the batch row) or aborted is rejected with a clear error and loses nothing stored', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name);
    await a.transact((tx) => tx.put('sp', 'k0', rec(1)));
    await a.transact((tx) => {
      tx.put('sp', 'k1', rec(2));
      tx.setMeta('seq', 2);
    });
    await a.fold();
    await a.transact((tx) => tx.put('sp', 'k2', rec(3))); // left in a batch
    // Refused synchronously for quota, the batch row or a per-key row (a small commit with no batch waiting).
    const refuse = (method: 'add' | 'put') =>
      patchStore(method, (orig, store, args) => {
        if (store.name !== 'meta') throw new DOMException('quota', 'QuotaExceededError');
        return orig.apply(store, args as never);
      });
    refuse('add');
    refuse('put');
    const refused = Promise.all([
      a.transact((tx) => {
        tx.put('sp', 'k0', rec(4));
        tx.setMeta('seq', 4);
      }),
      a.transact((tx) => tx.remove('sp', 'k1')),
    ]);
    await expect(refused).rejects.toMatchObject({ code: 'STORAGE_FULL', message: expect.stringMatching(/full/) });
    while (patches.length) patches.pop()!();
    // The request fails asynchronously: the transaction aborts.
    const abortAfter = (method: 'add' | 'put') =>
      patchStore(method, (orig, store, args) => {
        const req = orig.apply(store, args as never) as IDBRequest;
        if (store.name !== 'meta') {
          queueMicrotask(() => {
            try {
              store.transaction.abort();
            } catch {
              // Aborted already (another write of the same commit).
            }
          });
        }
        return req;
      });
    abortAfter('add');
    abortAfter('put');
    await expect(a.transact((tx) => tx.put('sp', 'k2', rec(5)))).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/committing/) });
    while (patches.length) patches.pop()!();
    const want = new Map([
      ['k0', rec(1)],
      ['k1', rec(2)],
      ['k2', rec(3)],
    ]);
    await expectAll(a, 'sp', want);
    expect(await a.getMeta('seq')).toBe(2);
    // Works again afterwards.
    await a.transact((tx) => tx.put('sp', 'k3', rec(6)));
    want.set('k3', rec(6));
    await a.close();
    const b = await opened(factory, name);
    await expectAll(b, 'sp', want);
    await b.close();
  });

  it('a removal then a re-write of the same key in one batch (and across unfolded batches) reads back and folds right', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name, { maxBatch: 1000 });
    // k has a chained record folded (root + deltas rows).
    const v1 = rec(1, 'one');
    const v2: KeyRecord = { ...rec(2, 'two'), vs: [rec(2, 'two').vs[0]!, v1.vs[0]!], cc: { replicaA: 2 } };
    await a.transact((tx) => tx.put('sp', 'k', v1));
    await a.transact(async (tx) => {
      await tx.get('sp', 'k');
      tx.put('sp', 'k', v2);
    });
    await a.fold();
    // One group commit: remove k, then write it again after reading it (absent), keeping v1's version (a join
    // bringing it back), then another key beside.
    const v3: KeyRecord = { vs: [rec(3, 'three').vs[0]!, v1.vs[0]!], cc: { replicaA: 3 }, seq: 3, h: rec(3).h };
    const seen: Array<KeyRecord | undefined> = [];
    await Promise.all([
      a.transact(async (tx) => {
        await tx.get('sp', 'k');
        tx.remove('sp', 'k');
      }),
      a.transact(async (tx) => {
        seen.push(await tx.get('sp', 'k'));
        tx.put('sp', 'k', v3);
      }),
      a.transact((tx) => tx.put('sp', 'other', rec(4))),
    ]);
    expect(seen).toEqual([undefined]);
    expect(await a.get('sp', 'k')).toEqual(v3);
    // Across batches: a removal, then a write without a read, then a chained write, all unfolded.
    await a.transact((tx) => tx.remove('sp', 'k'));
    expect(await a.get('sp', 'k')).toBeUndefined();
    const v5 = rec(5, 'five');
    await a.transact((tx) => tx.put('sp', 'k', v5));
    const v6: KeyRecord = { vs: [rec(6, 'six').vs[0]!, v5.vs[0]!], cc: { replicaA: 6 }, seq: 6, h: rec(6).h };
    await a.transact(async (tx) => {
      expect(await tx.get('sp', 'k')).toEqual(v5);
      tx.put('sp', 'k', v6);
    });
    await expectAll(a, 'sp', new Map([['k', v6], ['other', rec(4)]]));
    await a.fold();
    await expectAll(a, 'sp', new Map([['k', v6], ['other', rec(4)]]));
    // The removal then re-write in one batch, and a removal last: gone after the fold.
    await Promise.all([a.transact((tx) => tx.remove('sp', 'other')), a.transact((tx) => tx.put('sp', 'other', rec(7))), a.transact((tx) => tx.remove('sp', 'other'))]);
    expect(await a.get('sp', 'other')).toBeUndefined();
    await a.close();
    const b = await opened(factory, name);
    await expectAll(b, 'sp', new Map([['k', v6]]));
    expect(await countRows(factory, name, 'deltas')).toBe(1);
    await b.close();
  });

  it('an upgrade blocked by an old connection waits (onBlocked) and proceeds once it closes; a version change from elsewhere closes ours with a clear error after', async () => {
    const { factory, name } = fresh();
    // An old tab holding a version 2 connection that does not close on versionchange at first.
    const old = await rawOpen(factory, name, 2, (db) => {
      db.createObjectStore('heads', { keyPath: ['s', 'k'] }).createIndex('log', ['s', 'seq']);
      db.createObjectStore('states');
      db.createObjectStore('meta');
      db.createObjectStore('deltas');
    });
    let blocked = 0;
    const s = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity, onBlocked: () => void blocked++ });
    const opening = s.open();
    await new Promise((res) => setTimeout(res, 20));
    expect(blocked).toBe(1);
    old.close();
    await opening;
    await s.transact((tx) => tx.put('sp', 'k', rec(1)));
    // Another tab upgrades to version 4: ours steps aside at once (the upgrade is not blocked)...
    let otherBlocked = false;
    const newer = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 4);
      req.onblocked = () => void (otherBlocked = true);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    expect(otherBlocked).toBe(false);
    newer.close();
    // ...and our next use says why it cannot go on.
    await expect(s.get('sp', 'k')).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/upgraded by a newer version/) });
    await expect(s.transact((tx) => tx.put('sp', 'k2', rec(2)))).rejects.toMatchObject({ message: expect.stringMatching(/upgraded by a newer version/) });
    await s.close();
    // The record written before is still there for the newer code to read.
    expect((await countRows(factory, name, 'batches')) + (await countRows(factory, name, 'heads'))).toBe(1);
  });

  it('small commits while no batch waits go straight into the per-key stores; a burst goes to a batch; both read back alike', async () => {
    const { factory, name } = fresh();
    const a = await opened(factory, name);
    const b = await opened(factory, name);
    const v1 = rec(1, 'one');
    const v2: KeyRecord = { ...rec(2, 'two'), vs: [rec(2, 'two').vs[0]!, v1.vs[0]!], cc: { replicaA: 2 } };
    await a.transact((tx) => tx.put('sp', 'k', v1));
    await a.transact(async (tx) => {
      await tx.get('sp', 'k');
      tx.put('sp', 'k', v2); // chained: a deltas row
    });
    expect(await countRows(factory, name, 'batches')).toBe(0);
    expect(await countRows(factory, name, 'deltas')).toBe(1);
    expect(await b.get('sp', 'k')).toEqual(v2);
    // Written without a read: whole, the old chain row gone.
    const v3 = rec(3, 'three');
    await b.transact((tx) => tx.put('sp', 'k', v3));
    expect(await countRows(factory, name, 'deltas')).toBe(0);
    expect(await a.get('sp', 'k')).toEqual(v3);
    // A burst: one batch row; a small commit after it goes to a batch too (the key is in the overlay).
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.transact((tx) => tx.put('sp', `b${i}`, rec(10 + i)))));
    await b.transact((tx) => tx.remove('sp', 'b3'));
    expect(await countRows(factory, name, 'batches')).toBe(2);
    await b.fold();
    // A removal of a key written without a read, straight away.
    await a.transact((tx) => tx.remove('sp', 'b4'));
    expect(await countRows(factory, name, 'batches')).toBe(0);
    const want = new Map<string, KeyRecord>([['k', v3]]);
    for (let i = 0; i < 20; i++) if (i !== 3 && i !== 4) want.set(`b${i}`, rec(10 + i));
    await expectAll(a, 'sp', want);
    await expectAll(b, 'sp', want);
    await a.close();
    await b.close();
  });
});
