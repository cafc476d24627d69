// An adversarial read of the stores behind concord/react (adapters/react/stores.ts): what a component mounting again
// renders, a scan under fast adds and deletes with subscribers coming and going, presence of a peer that left, and a
// replica closed under a store. Randomized cases print their seed; SEED=<n> replays one.
import { describe, expect, it, vi } from 'vitest';
import { PresenceStore, ScanStore, ValueStore } from '../../adapters/react/stores.js';
import { memoryStorage, openReplica, pairTransports, type Space } from '../../lib/index.js';
import { prng, testSeed } from '../support/replicas.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function settle(until: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !until(); i++) await tick();
  if (!until()) throw new Error(`timed out: ${what}`);
}

async function scanOf(space: Space, prefix: string): Promise<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  for await (const e of space.scan(prefix)) out.push([e.key, e.value]);
  return out;
}

describe('concord/react stores under attack', () => {
  it('a store nobody listens to any more stays current through its grace: mounting again renders the new value', async () => {
    // React renders a mounting component with getSnapshot before it subscribes: a cached store must not hand it a
    // value superseded while the last component was away (with loading false, as if it were current).
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    await space.put('k', 1);
    await space.put('p/a', 1);
    const value = new ValueStore<number>(space, 'k', () => {});
    const scan = new ScanStore<number>(space, 'p/', () => {});
    const offs = [value.subscribe(() => {}), scan.subscribe(() => {})];
    await settle(() => value.getSnapshot().value === 1 && scan.getSnapshot().entries.length === 1, 'first reads');
    for (const off of offs) off();
    await space.put('k', 2);
    await space.put('p/b', 2);
    await space.delete('p/a');
    await tick(50);
    // What the next component's first render reads, before its subscribe.
    expect(value.getSnapshot()).toMatchObject({ loading: false, value: 2 });
    expect(scan.getSnapshot().entries.map((e) => [e.key, e.value])).toEqual([['p/b', 2]]);
    await replica.close();
  });

  it('StrictMode mounting (subscribe, unsubscribe, subscribe) leaks no space subscription, and the grace ends it', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    const reads = vi.spyOn(space, 'get');
    const store = new ValueStore<number>(space, 'k', () => {});
    let wakes = 0;
    store.subscribe(() => wakes++)();
    const off = store.subscribe(() => wakes++);
    await settle(() => !store.getSnapshot().loading, 'first read');
    const first = reads.mock.calls.length;
    expect(first).toBe(1); // one read for the mount, not one per subscribe
    await space.put('k', 1);
    await settle(() => store.getSnapshot().value === 1, 'the change');
    expect(reads.mock.calls.length).toBe(first + 1); // one space subscription, not two
    off();
    await tick(1200); // the grace ran out: the store stopped
    await space.put('k', 2);
    await tick(50);
    expect(reads.mock.calls.length).toBe(first + 1);
    expect(wakes).toBe(2); // loaded, then k = 1: nothing after the store stopped
    await replica.close();
  });

  it('a scan store under fast adds and deletes, with subscribers coming and going, ends equal to a fresh scan', async () => {
    const seed = testSeed();
    const random = prng(seed);
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    const store = new ScanStore<number>(space, 'p/', () => {});
    const problems: string[] = [];
    // Each subscriber (its own closure, as React's): every snapshot it is woken for is new, sorted, and holds unique
    // keys under the prefix only.
    const listener = () => {
      let last = store.getSnapshot();
      return () => {
        const s = store.getSnapshot();
        const keys = s.entries.map((e) => e.key);
        if (keys.some((k, i) => !k.startsWith('p/') || (i > 0 && keys[i - 1]! >= k))) problems.push(`unsorted or foreign keys ${JSON.stringify(keys)}`);
        if (s === last) problems.push('woken without a new snapshot');
        last = s;
      };
    };
    const offs: Array<() => void> = [];
    try {
      for (let step = 0; step < 300; step++) {
        const r = random();
        const key = (random() < 0.85 ? 'p/' : 'q/') + String.fromCharCode(97 + Math.floor(random() * 12));
        if (r < 0.45) void space.put(key, step);
        else if (r < 0.7) void space.delete(key).catch(() => {});
        else if (r < 0.82) offs.push(store.subscribe(listener()));
        else if (r < 0.92) offs.splice(Math.floor(random() * offs.length), 1)[0]?.();
        else await tick(Math.floor(random() * 3));
      }
      if (offs.length === 0) offs.push(store.subscribe(listener()));
      const want = await scanOf(space, 'p/');
      await settle(() => JSON.stringify(store.getSnapshot().entries.map((e) => [e.key, e.value])) === JSON.stringify(want), 'the store equal to a fresh scan');
      expect(problems).toEqual([]);
    } catch (e) {
      console.error(`scan store churn failed: replay with SEED=${seed}`);
      throw e;
    } finally {
      for (const off of offs) off();
      await replica.close();
    }
  });

  it('presence: a peer that leaves is dropped from the snapshot, and an unchanged list keeps its object', async () => {
    const [a, b] = await Promise.all([openReplica({ storage: memoryStorage() }), openReplica({ storage: memoryStorage() })]);
    const [ta, tb] = pairTransports();
    a.connect(ta);
    const link = b.connect(tb);
    const sa = a.space('room');
    const store = new PresenceStore(sa, () => {});
    let wakes = 0;
    const off = store.subscribe(() => wakes++);
    sa.presence.set({ name: 'a' });
    b.space('room').presence.set({ name: 'b' });
    await settle(() => store.getSnapshot().length === 2, 'both present');
    const both = store.getSnapshot();
    const before = wakes;
    sa.presence.set({ name: 'a' }); // the same meta again: nothing to publish
    await tick(20);
    expect(store.getSnapshot()).toBe(both);
    expect(wakes).toBe(before);
    b.space('room').presence.leave();
    await settle(() => store.getSnapshot().length === 1, 'b gone');
    expect(store.getSnapshot().map((m) => m.self)).toEqual([true]);
    off();
    link.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('presence: a peer whose link went away without leaving is dropped once its entry expires', async () => {
    const TTL = 300;
    const [a, c] = await Promise.all([0, 1].map(() => openReplica({ storage: memoryStorage(), presenceTtl: TTL })));
    const [ta, tc] = pairTransports();
    a!.connect(ta);
    const link = c!.connect(tc);
    const store = new PresenceStore(a!.space('room'), () => {});
    const off = store.subscribe(() => {});
    a!.space('room').presence.set({ name: 'a' });
    c!.space('room').presence.set({ name: 'c' });
    await settle(() => store.getSnapshot().length === 2, 'both present');
    link.close(); // no leave: c is only silent from here on
    await settle(() => store.getSnapshot().length === 1, 'c expired');
    expect(store.getSnapshot().map((m) => (m.meta as { name: string }).name)).toEqual(['a']);
    off();
    await Promise.all([a!.close(), c!.close()]);
  });

  it('a replica closed under a store: the next subscriber gets an error snapshot, not a throw or a loading forever', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    await space.put('k', 1);
    await replica.close();
    const value = new ValueStore<number>(space, 'k', () => {});
    const scan = new ScanStore<number>(space, '', () => {});
    const offs = [value.subscribe(() => {}), scan.subscribe(() => {})];
    await settle(() => !value.getSnapshot().loading && !scan.getSnapshot().loading, 'both settled');
    expect(value.getSnapshot().error).toMatchObject({ code: 'CLOSED' });
    expect(scan.getSnapshot().error).toMatchObject({ code: 'CLOSED' });
    for (const off of offs) off();
  });
});
