/**
 * A storage that keeps a journal of its committed transactions, so a test can take a backup at any point
 * and later restore a replica from it (the case DESIGN.md's "restored from a backup" rule is about).
 */
import { memoryStorage } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { recordingTx, storageOf, type Write } from '../support/tx-journal.js';
import { readsOf } from '../support/delegate.js';

export interface JournaledStorage extends StorageAdapter {
  /** Number of transactions committed so far: a backup point. */
  readonly mark: number;
  /** A fresh storage holding what was committed up to `mark` (a restored backup). */
  restore(mark: number): Promise<StorageAdapter>;
}

export function journaledStorage(inner: StorageAdapter = memoryStorage()): JournaledStorage {
  const journal: Write[][] = [];
  return {
    get mark() {
      return journal.length;
    },
    restore: (mark) => storageOf(journal.slice(0, mark)),
    ...readsOf(inner),
    async transact(fn) {
      const writes: Write[] = [];
      const result = await inner.transact((tx) => fn(recordingTx(tx, writes)));
      if (writes.length) journal.push(writes);
      return result;
    },
  };
}
