/**
 * Helpers over fake-indexeddb. `storeLayout`: databases as earlier releases left them (adapters/indexeddb/schema.ts: version 1 heads, states and meta;
 * version 2 adds deltas; version 3 adds batches), made on a fake-indexeddb factory for tests of what this release
 * opens. `fill` writes rows in the upgrade transaction.
 */
export function storeLayout(factory: IDBFactory, name: string, version: 1 | 2 | 3, fill?: (tx: IDBTransaction) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = factory.open(name, version);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore('heads', { keyPath: ['s', 'k'] }).createIndex('log', ['s', 'seq']);
      db.createObjectStore('states');
      db.createObjectStore('meta');
      if (version >= 2) db.createObjectStore('deltas');
      if (version >= 3) db.createObjectStore('batches', { keyPath: 'i', autoIncrement: true });
      fill?.(req.transaction!);
    };
    req.onsuccess = () => (req.result.close(), resolve());
    req.onerror = () => reject(req.error);
  });
}

/** A factory opening through `factory` that hands every connection it opens to `seen` (to close one as the browser would). */
export function watchingFactory(factory: IDBFactory, seen: IDBDatabase[]): IDBFactory {
  return {
    open: (dbName: string, version?: number) => {
      const req = factory.open(dbName, version);
      req.addEventListener('success', () => seen.push(req.result));
      return req;
    },
    deleteDatabase: (dbName: string) => factory.deleteDatabase(dbName),
    cmp: (x: unknown, y: unknown) => factory.cmp(x, y),
    databases: () => factory.databases(),
  } as unknown as IDBFactory;
}
