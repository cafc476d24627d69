/**
 * `concord/indexeddb`: browser storage over IndexedDB (with `idb`), shared by all tabs of an origin.
 *
 *   import { indexedDBStorage } from 'concord/indexeddb';
 *   const replica = await openReplica({ storage: indexedDBStorage('my-app') });
 *
 * Every tab opening the same name shares one replica (one replicaId, one sequence minted inside
 * transactions); other tabs' commits arrive as `onExternalChange` hints and are read from the change log;
 * `leadership()` elects one tab (Web Locks) to hold the network links. No Node imports here.
 */
import { IDBStorage, type IndexedDBStorage, type IndexedDBStorageOptions } from './storage.js';

export type { IndexedDBStorage, IndexedDBStorageOptions };

export function indexedDBStorage(name: string, options?: IndexedDBStorageOptions): IndexedDBStorage {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('indexedDBStorage(name): name must be a non-empty string');
  }
  return new IDBStorage(name, options);
}
