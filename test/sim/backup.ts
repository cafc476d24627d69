/**
 * A storage that keeps a journal of its committed transactions, so a test can take a backup at any point
 * and later restore a replica from it (the case DESIGN.md's "restored from a backup" rule is about).
 */
import { memoryStorage } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';

type Write = { space: string; key: string; rec: KeyRecord | null } | { meta: string; value: unknown };

export interface JournaledStorage extends StorageAdapter {
  /** Number of transactions committed so far: a backup point. */
  readonly mark: number;
  /** A fresh storage holding what was committed up to `mark` (a restored backup). */
  restore(mark: number): Promise<StorageAdapter>;
}

export function journaledStorage(inner: StorageAdapter = memoryStorage()): JournaledStorage {
  const journal: Write[][] = [];
  const apply = (tx: StorageTx, w: Write) => {
    if ('meta' in w) tx.setMeta(w.meta, w.value);
    else if (w.rec) tx.put(w.space, w.key, w.rec);
    else tx.remove(w.space, w.key);
  };
  return {
    get mark() {
      return journal.length;
    },
    async restore(mark) {
      const copy = memoryStorage();
      await copy.open();
      for (const writes of journal.slice(0, mark)) await copy.transact((tx) => writes.forEach((w) => apply(tx, w)));
      await copy.close();
      return copy;
    },
    open: () => inner.open(),
    async transact(fn) {
      const writes: Write[] = [];
      const result = await inner.transact((tx) =>
        fn({
          get: (space, key) => tx.get(space, key),
          getMeta: (name) => tx.getMeta(name),
          put: (space, key, rec) => (writes.push({ space, key, rec }), tx.put(space, key, rec)),
          remove: (space, key) => (writes.push({ space, key, rec: null }), tx.remove(space, key)),
          setMeta: (name, value) => (writes.push({ meta: name, value: JSON.parse(JSON.stringify(value)) }), tx.setMeta(name, value)),
        }),
      );
      if (writes.length) journal.push(writes);
      return result;
    },
    get: (space, key) => inner.get(space, key),
    getMeta: (name) => inner.getMeta(name),
    scan: (space, options) => inner.scan(space, options),
    readLog: (space, after, limit) => inner.readLog(space, after, limit),
    index: (space) => inner.index(space),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
  };
}
