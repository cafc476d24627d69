/**
 * Test storages that keep what their transactions wrote (test/sim/backup.ts journals them for restores,
 * test/support/volatile-storage.ts holds them until they are durable): the writes of one transaction, a
 * transaction that records them, and a fresh memory storage made from a list of them (a backup restored, or
 * what a crash leaves).
 */
import { memoryStorage } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { readsOf } from './delegate.js';

/** One write of a transaction: a record put (or removed: `rec` null), or a meta value (a JSON copy). */
export type Write = { space: string; key: string; rec: KeyRecord | null } | { meta: string; value: unknown };

/** `tx`, noting every write in `writes` as it passes. */
export function recordingTx(tx: StorageTx, writes: Write[]): StorageTx {
  return {
    get: (space, key) => tx.get(space, key),
    getMeta: (name) => tx.getMeta(name),
    put: (space, key, rec) => (writes.push({ space, key, rec }), tx.put(space, key, rec)),
    remove: (space, key) => (writes.push({ space, key, rec: null }), tx.remove(space, key)),
    setMeta: (name, value) => (writes.push({ meta: name, value: JSON.parse(JSON.stringify(value)) }), tx.setMeta(name, value)),
  };
}

/** A fresh, closed memory storage holding these transactions, applied in order. */
export async function storageOf(transactions: readonly Write[][]): Promise<StorageAdapter> {
  const copy = memoryStorage();
  await copy.open();
  for (const writes of transactions) {
    await copy.transact((tx) => {
      for (const w of writes) {
        if ('meta' in w) tx.setMeta(w.meta, w.value);
        else if (w.rec) tx.put(w.space, w.key, w.rec);
        else tx.remove(w.space, w.key);
      }
    });
  }
  await copy.close();
  return copy;
}

/** A memory storage whose transactions' writes are all kept in `writes`, in order (what a relay stores, write by write). */
export function journaledMemory(writes: Write[]): StorageAdapter {
  const inner = memoryStorage();
  return { ...readsOf(inner), transact: (fn) => inner.transact((tx) => fn(recordingTx(tx, writes))) };
}
