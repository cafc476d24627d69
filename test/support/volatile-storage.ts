/**
 * A storage with the durability semantics of file storage, for crash tests: a transaction's writes are
 * visible to reads (get, scan, index, getMeta) as soon as it commits, but `transact()` resolves only once
 * the transaction is durable — here, when the test calls `flush()` (or at once while `autoFlush` is on).
 * `readLog` returns durable records only, as the storage contract demands. `crashed()` returns what a crash
 * leaves behind: a fresh storage holding the durable transactions only.
 */
import { memoryStorage } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';

type Write = { space: string; key: string; rec: KeyRecord | null } | { meta: string; value: unknown };

export interface VolatileStorage extends StorageAdapter {
  /** Resolve transactions as soon as they commit (default true). */
  autoFlush: boolean;
  /** Makes every committed transaction durable (resolving its `transact`). */
  flush(): void;
  /** Transactions committed and not yet durable. */
  readonly unflushed: number;
  /** The storage a crash right now leaves: only durable transactions. */
  crashed(): Promise<StorageAdapter>;
}

export function volatileStorage(): VolatileStorage {
  const inner = memoryStorage();
  const durable: Write[][] = [];
  const waiting: Array<{ writes: Write[]; done: () => void }> = [];
  let durableSeq = 0;
  const apply = (tx: StorageTx, w: Write) => {
    if ('meta' in w) tx.setMeta(w.meta, w.value);
    else if (w.rec) tx.put(w.space, w.key, w.rec);
    else tx.remove(w.space, w.key);
  };
  const self: VolatileStorage = {
    autoFlush: true,
    flush() {
      for (const { writes, done } of waiting.splice(0)) {
        durable.push(writes);
        for (const w of writes) if ('meta' in w && w.meta === 'seq') durableSeq = Math.max(durableSeq, w.value as number);
        done();
      }
    },
    get unflushed() {
      return waiting.length;
    },
    async crashed() {
      const copy = memoryStorage();
      await copy.open();
      for (const writes of durable) await copy.transact((tx) => writes.forEach((w) => apply(tx, w)));
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
      if (writes.length === 0) return result;
      await new Promise<void>((done) => {
        waiting.push({ writes, done });
        if (self.autoFlush) self.flush();
      });
      return result;
    },
    get: (space, key) => inner.get(space, key),
    getMeta: (name) => inner.getMeta(name),
    scan: (space, options) => inner.scan(space, options),
    readLog: async (space, after, limit) => (await inner.readLog(space, after, limit)).filter(([, rec]) => rec.seq <= durableSeq),
    index: (space) => inner.index(space),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
  };
  return self;
}
