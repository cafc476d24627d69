/** Storages a test can open again after a close (memory, file, IndexedDB through fake-indexeddb): reopen tests. */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { fileStorage } from '../../adapters/fs/index.js';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { memoryStorage } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { tempDir } from '../fs/helpers.js';

/** A storage that can be opened again after a close: each call gives an adapter onto the same data. */
export type Place = () => StorageAdapter;

/** A fresh place of `kind`; a file place's directory is removed by the cleanup pushed onto `cleanups`. */
export async function place(kind: 'memory' | 'file' | 'indexeddb', cleanups: Array<() => Promise<void>>, label = 'place'): Promise<Place> {
  if (kind === 'memory') {
    const s = memoryStorage();
    return () => s;
  }
  if (kind === 'file') {
    const { dir, cleanup } = await tempDir(label);
    cleanups.push(cleanup);
    return () => fileStorage(dir);
  }
  const factory = new IDBFactory();
  const name = `${label}-${Math.random().toString(36).slice(2)}`;
  return () => indexedDBStorage(name, { indexedDB: factory });
}
