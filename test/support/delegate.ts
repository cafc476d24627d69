/** The read side of a storage adapter, handed to `inner`: for test wrappers that change only how it writes. */
import type { StorageAdapter } from '../../lib/storage.js';

export function readsOf(inner: StorageAdapter): Pick<StorageAdapter, 'open' | 'get' | 'getMeta' | 'scan' | 'readLog' | 'index' | 'spaces' | 'close'> {
  return {
    open: () => inner.open(),
    get: (space, key) => inner.get(space, key),
    getMeta: (name) => inner.getMeta(name),
    scan: (space, options) => inner.scan(space, options),
    readLog: (space, after, limit) => inner.readLog(space, after, limit),
    index: (space) => inner.index(space),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
  };
}
