/**
 * A storage with the durability semantics of file storage, for crash tests: a transaction's writes are
 * visible to reads (get, scan, index, getMeta) as soon as it commits, but `transact()` resolves only once
 * the transaction is durable — here, when the test calls `flush()` (or at once while `autoFlush` is on).
 * `readLog` returns durable records only, as the storage contract demands. `crashed()` returns what a crash
 * leaves behind: a fresh storage holding the durable transactions only.
 */
import { memoryStorage } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { recordingTx, storageOf, type Write } from './tx-journal.js';

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
  /** space → key → the seq of its durable record. */
  const durableAt = new Map<string, Map<string, number>>();
  const self: VolatileStorage = {
    autoFlush: true,
    flush() {
      for (const { writes, done } of waiting.splice(0)) {
        durable.push(writes);
        for (const w of writes) {
          if ('meta' in w) {
            if (w.meta === 'seq') durableSeq = Math.max(durableSeq, w.value as number);
          } else if (w.rec === null) durableAt.get(w.space)?.delete(w.key);
          else (durableAt.get(w.space) ?? durableAt.set(w.space, new Map()).get(w.space)!).set(w.key, w.rec.seq);
        }
        done();
      }
    },
    get unflushed() {
      return waiting.length;
    },
    crashed: () => storageOf(durable),
    open: () => inner.open(),
    async transact(fn) {
      const writes: Write[] = [];
      const result = await inner.transact((tx) => fn(recordingTx(tx, writes)));
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
    readLog: async (space, after, limit) => {
      // Where a key's durable record sits while a write not flushed yet replaced or removed it: a crash brings it back
      // there, so the log stops before it (StorageAdapter readLog).
      let held = Infinity;
      for (const { writes } of waiting) {
        for (const w of writes) {
          const seq = 'key' in w && w.space === space ? durableAt.get(space)?.get(w.key) : undefined;
          if (seq !== undefined && seq > after && seq < held) held = seq;
        }
      }
      const page = await inner.readLog(space, after, limit);
      const stop = page.findIndex(([, rec]) => rec.seq > durableSeq || rec.seq >= held);
      return stop < 0 ? page : page.slice(0, stop);
    },
    index: (space) => inner.index(space),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
  };
  return self;
}
