/** A storage that answers with `overrides` where it has them and is `inner` everywhere else (methods bound to `inner`). */
import type { StorageAdapter } from '../../lib/index.js';

export function overriding(inner: StorageAdapter, overrides: Partial<StorageAdapter>): StorageAdapter {
  return new Proxy(inner, {
    get(t, prop) {
      if (prop in overrides) return overrides[prop as keyof StorageAdapter];
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
