/**
 * `concord/indexeddb`: browser storage over IndexedDB (with `idb`), shared by all tabs of an origin.
 *
 *   import { indexedDBStorage } from 'concord/indexeddb';
 *   const replica = await openReplica({ storage: indexedDBStorage('my-app') });
 *
 * Every tab opening the same name shares one replica (one replicaId, one sequence minted inside
 * transactions); other tabs' commits arrive as `onExternalChange` hints and are read from the change log.
 * `replica.connect(...)` may run in every tab: `shared()` elects one tab (Web Locks) to hold the network links
 * for all, hands the role over when it closes, freezes or stalls, and carries its status, acknowledgements and
 * presence to the others (BroadcastChannel). No Node imports here.
 */
import { IDBStorage, type IndexedDBStorage, type IndexedDBStorageOptions } from './storage.js';

export type { IndexedDBStorage, IndexedDBStorageOptions };

export function indexedDBStorage(name: string, options?: IndexedDBStorageOptions): IndexedDBStorage {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('indexedDBStorage(name): name must be a non-empty string');
  }
  return new IDBStorage(name, options);
}
