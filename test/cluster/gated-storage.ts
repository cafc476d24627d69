/** Storage for cluster tests whose commits a test holds (test/cluster/moved-key-count.test.ts, lost-frame-count.test.ts). */
import { memoryStorage, type StorageAdapter, type StorageTx } from '../../lib/index.js';
import { overriding } from '../support/storage-proxy.js';

/**
 * Memory storage whose commits can be held: 'all' holds every transaction, 'key' holds (before it commits) only
 * one that writes `key` in `space`; 'open' holds none. Held ones go on when the mode opens.
 */
export function gatedStorage(space: string, key: string) {
  const inner = memoryStorage();
  let mode: 'open' | 'all' | 'key' = 'open';
  let wake: (() => void) | undefined;
  let opened = Promise.resolve();
  const until = async (ok: () => boolean) => {
    while (!ok()) await opened;
  };
  const overrides: Partial<StorageAdapter> = {
    transactNow: (fn) => (mode === 'open' && inner.transactNow ? inner.transactNow(fn) : undefined),
    async transact(fn) {
      await until(() => mode !== 'all');
      return inner.transact(async (tx) => {
        let writesKey = false;
        const watched = new Proxy(tx, {
          get(t, prop) {
            if (prop === 'put') {
              return (s: string, k: string, rec: Parameters<StorageTx['put']>[2]) => {
                if (s === space && k === key) writesKey = true;
                t.put(s, k, rec);
              };
            }
            const v = Reflect.get(t, prop, t) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        });
        const v = await fn(watched);
        if (writesKey) await until(() => mode === 'open');
        return v;
      });
    },
  };
  const storage = overriding(inner, overrides);
  return {
    storage,
    set(m: 'open' | 'all' | 'key') {
      mode = m;
      wake?.();
      opened = new Promise<void>((r) => (wake = r));
    },
  };
}
