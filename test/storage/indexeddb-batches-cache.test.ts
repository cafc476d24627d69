// The batch cache of one instance while another instance folds every batch it wrote (fake-indexeddb): rows folded
// elsewhere must leave this instance's memory even when no batch waits at its next load.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
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
