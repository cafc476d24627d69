/** A storage whose commits fail on demand (a full disk, a quota): for the write-failure paths of bindings. */
import { memoryStorage, type StorageAdapter } from '../../lib/index.js';

/**
 * `inner` (default: memory storage) whose commits fail while `fail.on` is set — each throws ENOSPC, nothing of it
 * kept; `fail.count` counts them.
 */
export function failingCommits(inner: StorageAdapter = memoryStorage()): { storage: StorageAdapter; fail: { on: boolean; count: number } } {
  const fail = { on: false, count: 0 };
  const refuse = () => {
    fail.count++;
    return Object.assign(new Error('ENOSPC: no space left on device (test)'), { code: 'ENOSPC' });
  };
  const storage: StorageAdapter = Object.create(inner) as StorageAdapter;
  storage.transact = (fn) => (fail.on ? Promise.reject(refuse()) : inner.transact(fn));
  if (inner.transactNow) {
    storage.transactNow = (fn) => {
      if (fail.on) throw refuse();
      return inner.transactNow!(fn);
    };
  }
  return { storage, fail };
}
