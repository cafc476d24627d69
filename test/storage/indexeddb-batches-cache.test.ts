// The batch cache of one instance while another instance folds every batch it wrote (fake-indexeddb): rows folded
// elsewhere must leave this instance's memory even when no batch waits at its next load.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBObjectStore as FakeStore } from 'fake-indexeddb';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexedDBStorage, type IndexedDBStorage } from '../../adapters/indexeddb/index.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from './contract.js';

function cachedRows(s: IndexedDBStorage): number {
  return (s as unknown as { cache: { rows: Map<number, unknown> } }).cache.rows.size;
}

describe('indexedDBStorage batch cache (fake-indexeddb)', () => {
  beforeAll(loadHasher);

  it('rows another instance folded are dropped from this instance’s cache though its next load sees no batch', async () => {
    const factory = new IDBFactory();
    const a = indexedDBStorage('cache-1', { indexedDB: factory, foldDelay: Infinity });
    const b = indexedDBStorage('cache-1', { indexedDB: factory, foldDelay: Infinity });
    await a.open();
    await b.open();
    let seq = 0;
    const ROUNDS = 20;
    for (let round = 0; round < ROUNDS; round++) {
      // A burst (more keys than a direct commit takes): one batch row, cached by `a`.
      await a.transact((tx) => {
        for (let i = 0; i < 12; i++) tx.put('sp', `k${i}`, rec(++seq, `r${round}`));
        tx.setMeta('seq', seq);
      });
      // The other tab folds it (as its idle fold would).
      await b.fold();
    }
    // Every batch is folded: a load that sees none holds none.
    expect(await a.get('sp', 'k0')).toEqual(rec(seq - 11, `r${ROUNDS - 1}`));
    expect(cachedRows(a)).toBe(0);
    await a.close();
    await b.close();
  });
});

// Chromium refuses a value whose serialized form passes 133 169 152 bytes (measured in Chromium 156: one put of
// 160 MB failed with "UnknownError: The serialized keys and/or value are too large", two puts of 80 MB passed).
// fake-indexeddb has no bound: the test gives its object store Chromium's, counting strings at two bytes a code unit.
const CHROMIUM_MAX_VALUE = 133_169_152;
function valueBytes(v: unknown): number {
  if (typeof v === 'string') return v.length * 2;
  if (v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + valueBytes(x), 0);
  if (v !== null && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + valueBytes(x), 0);
  return 8;
}

describe('indexedDBStorage: a group commit of many large values (fake-indexeddb bounded as Chromium)', () => {
  beforeAll(loadHasher);

  it('commits twelve 12 MB values written together, as it would one by one, and reads them back', async () => {
    const proto = FakeStore.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const origAdd = proto.add!;
    const origPut = proto.put!;
    const bounded = (orig: (...args: unknown[]) => unknown) =>
      function (this: unknown, ...args: unknown[]) {
        if (valueBytes(args[0]) > CHROMIUM_MAX_VALUE) throw new DOMException('The serialized keys and/or value are too large', 'UnknownError');
        return orig.apply(this, args);
      };
    proto.add = bounded(origAdd);
    proto.put = bounded(origPut);
    try {
      const factory = new IDBFactory();
      const s = indexedDBStorage('big-1', { indexedDB: factory, foldDelay: Infinity });
      await s.open();
      const big = (i: number) => String.fromCharCode(97 + i).repeat(6_000_000);
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          s.transact(async (tx) => {
            const seq = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
            tx.setMeta('seq', seq);
            tx.put('sp', `k${i}`, rec(seq, big(i)));
          }),
        ),
      );
      const got = await s.scan('sp', { limit: 100 });
      expect(got.length).toBe(12);
      for (const [key, r] of got) expect(JSON.parse(r.vs[0]!.v as string)).toBe(big(Number(key.slice(1))));
      await s.fold();
      expect((await s.get('sp', 'k3'))?.vs[0]?.v).toBe(JSON.stringify(big(3)));
      await s.close();
    } finally {
      proto.add = origAdd;
      proto.put = origPut;
    }
  });
});

describe('indexedDBStorage: an older library opening a version 3 database (fake-indexeddb)', () => {
  beforeAll(loadHasher);

  it('is refused with VersionError (the old code reports it as a newer app elsewhere) and nothing is lost', async () => {
    const factory = new IDBFactory();
    const s = indexedDBStorage('down-1', { indexedDB: factory, foldDelay: Infinity });
    await s.open();
    await s.transact((tx) => {
      for (let i = 0; i < 12; i++) tx.put('sp', `k${i}`, rec(i + 1));
      tx.setMeta('seq', 12);
    });
    // Unfolded: the records sit in a batches row only. An older library opens at version 2.
    const err = await new Promise<DOMException | null>((resolve) => {
      const req = factory.open('down-1', 2);
      req.onsuccess = () => {
        req.result.close();
        resolve(null);
      };
      req.onerror = () => resolve(req.error);
    });
    expect(err?.name).toBe('VersionError');
    // Our connection stayed (no versionchange was fired): the records read back, and after a fold too.
    expect((await s.scan('sp', { limit: 100 })).length).toBe(12);
    await s.close();
    const again = indexedDBStorage('down-1', { indexedDB: factory, foldDelay: Infinity });
    await again.open();
    expect(await again.readLog('sp', 0, 100)).toEqual(Array.from({ length: 12 }, (_, i) => [`k${i}`, rec(i + 1)]));
    await again.close();
  });
});

describe('indexedDBStorage: what an instance holds for unfolded batches of large values (fake-indexeddb)', () => {
  beforeAll(loadHasher);

  it('stays bounded in bytes (a fold runs before a commit past 64 MiB), not only in entries', async () => {
    const factory = new IDBFactory();
    // Never idle (foldDelay Infinity), as under a steady stream of commits: only the bounds before a commit fold.
    const s = indexedDBStorage('bytes-1', { indexedDB: factory, foldDelay: Infinity });
    await s.open();
    const cache = (s as unknown as { cache: { rows: Map<number, unknown> } }).cache;
    let seq = 0;
    let most = 0;
    for (let round = 0; round < 24; round++) {
      // Nine 1 MB values (two bytes a code unit): a batch row of ~9 MB, far under every entry or batch count bound.
      await s.transact((tx) => {
        for (let i = 0; i < 9; i++) tx.put('sp', `k${round}-${i}`, rec(++seq, String.fromCharCode(97 + i).repeat(500_000)));
        tx.setMeta('seq', seq);
      });
      most = Math.max(most, valueBytes([...cache.rows.values()]));
    }
    expect(most).toBeLessThan(64 * 1024 * 1024 + 10_000_000);
    expect((await s.scan('sp', { limit: 1000 })).length).toBe(24 * 9);
    await s.close();
  });
});
