// The external stores behind concord/react, without a browser: narrow wake-ups, stable snapshots across
// StrictMode's subscribe–unsubscribe–subscribe, and keys or prefixes holding a literal '*'.
import { describe, expect, it } from 'vitest';
import { ScanStore, StoreCache, ValueStore } from '../../adapters/react/stores.js';
import { memoryStorage, openReplica } from '../../lib/index.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await tick();
}

describe('concord/react stores', () => {
  it('a value store keeps its snapshot object until its own key changes, across resubscription', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    await space.put('a*', 1);
    const store = new ValueStore<number>(space, 'a*', () => {});
    let wakes = 0;
    const off = store.subscribe(() => wakes++);
    await settle(() => !store.getSnapshot().loading);
    const first = store.getSnapshot();
    expect(first).toMatchObject({ loading: false, value: 1, error: undefined });
    // StrictMode: unsubscribe and subscribe again at once; the snapshot object survives, nothing is published.
    off();
    const off2 = store.subscribe(() => wakes++);
    await space.put('a*b', 2); // matches the pattern 'a*' but is another key
    await space.put('b', 3);
    await tick();
    expect(store.getSnapshot()).toBe(first);
    expect(wakes).toBe(1);
    await space.put('a*', 4);
    await settle(() => store.getSnapshot().value === 4);
    expect(store.getSnapshot().value).toBe(4);
    expect(wakes).toBe(2);
    off2();
    await replica.close();
  });

  it('a scan store follows a prefix holding a literal * and ignores keys outside it', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    await space.put('x*/1', 'one');
    await space.put('xy/1', 'not under the prefix');
    const store = new ScanStore<string>(space, 'x*/', () => {});
    let wakes = 0;
    store.subscribe(() => wakes++);
    await settle(() => !store.getSnapshot().loading);
    const first = store.getSnapshot();
    expect(first.entries.map((e) => e.key)).toEqual(['x*/1']);
    await space.put('xy/2', 'still not');
    await space.put('x*/0', 'zero');
    await settle(() => store.getSnapshot().entries.length === 2);
    const second = store.getSnapshot();
    expect(second.entries.map((e) => [e.key, e.value])).toEqual([['x*/0', 'zero'], ['x*/1', 'one']]);
    expect(second.entries[1]).toBe(first.entries[0]); // an unchanged entry keeps its object
    expect(wakes).toBe(2);
    await replica.close();
  });

  it('the cache hands every component the same store, and drops it after the last one left', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    const cache = new StoreCache<string, ValueStore<unknown>>((sp, key, evict) => new ValueStore(sp, key, evict));
    const a = cache.get(space, 'k');
    expect(cache.get(space, 'k')).toBe(a);
    const off = a.subscribe(() => {});
    off();
    await new Promise((r) => setTimeout(r, 1100));
    expect(cache.get(space, 'k')).not.toBe(a);
    await replica.close();
  });
});
