// concord/react against React's rules and an app's mistakes (rev49a's leftovers): a listener that throws must not stop
// the others (nor pass for a failed read); a read that failed must not show its error until the key happens to change
// (read again at the next sync, or on retry()); and rendering usePresence must start nothing — render is pure in
// React, and a render may never be committed (StrictMode renders twice, a transition is thrown away).
import { createElement, StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import { usePresence } from '../../adapters/react/index.js';
import { PresenceStore, ScanStore, ValueStore } from '../../adapters/react/stores.js';
import { memoryStorage, openReplica, pairTransports, type Replica, type Space } from '../../lib/index.js';
import type { SyncHub } from '../../lib/sync/hub.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function settle(until: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !until(); i++) await tick();
  if (!until()) throw new Error(`timed out: ${what}`);
}

const presenceSpaces = (r: Replica) => (r as unknown as { hub: SyncHub }).hub.presence.stats.spaces;

describe('concord/react stores: listeners', () => {
  it('a listener that throws: the others are still called, and the throw goes to the replica\'s error event', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const errors: unknown[] = [];
    replica.on('error', (e) => errors.push(e));
    const space = replica.space('s');
    const value = new ValueStore<number>(space, 'k', () => {});
    const scan = new ScanStore<number>(space, '', () => {});
    const boom = new Error('a component threw');
    const called = { value: 0, scan: 0 };
    const offs = [
      value.subscribe(() => {
        throw boom;
      }),
      value.subscribe(() => void called.value++),
      scan.subscribe(() => {
        throw boom;
      }),
      scan.subscribe(() => void called.scan++),
    ];
    await space.put('k', 1);
    await settle(() => called.value > 0 && called.scan > 0, 'the second listeners called');
    expect(value.getSnapshot()).toMatchObject({ value: 1, error: undefined });
    // The scan did not take the listener's throw for a failed scan.
    expect(scan.getSnapshot()).toMatchObject({ error: undefined });
    expect(scan.getSnapshot().entries.map((e) => e.value)).toEqual([1]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e === boom)).toBe(true);
    for (const off of offs) off();
    await replica.close();
  });
});

describe('concord/react stores: a read that failed', () => {
  /** The space's next `get` fails (a storage that failed once: the read after it succeeds). */
  function failingOnce(space: Space): void {
    vi.spyOn(space, 'get').mockImplementationOnce(() => Promise.reject(new Error('a storage hiccup')));
  }

  it('is read again on retry(), without waiting for the key to change', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    await space.put('k', 1);
    failingOnce(space);
    const store = new ValueStore<number>(space, 'k', () => {});
    const off = store.subscribe(() => {});
    await settle(() => !store.getSnapshot().loading, 'first read');
    expect(store.getSnapshot().error).toMatchObject({ message: 'a storage hiccup' });
    store.getSnapshot().retry();
    await settle(() => store.getSnapshot().error === undefined, 'read again');
    expect(store.getSnapshot().value).toBe(1);
    off();
    await replica.close();
  });

  it('is read again once the replica is synced (a value and a scan), though nothing under them changed', async () => {
    const [a, b] = await Promise.all([openReplica({ storage: memoryStorage() }), openReplica({ storage: memoryStorage() })]);
    const space = a.space('s');
    b.space('s');
    await space.put('k', 1);
    await space.put('p/x', 2);
    failingOnce(space);
    const value = new ValueStore<number>(space, 'k', () => {});
    const offs = [value.subscribe(() => {})];
    await settle(() => !value.getSnapshot().loading, 'first read');
    expect(value.getSnapshot().error).toBeDefined();
    const scan = new ScanStore<number>(space, 'p/', () => {});
    vi.spyOn(space, 'scan').mockImplementationOnce(() => {
      throw new Error('a storage hiccup');
    });
    offs.push(scan.subscribe(() => {}));
    await settle(() => !scan.getSnapshot().loading, 'first scan');
    expect(scan.getSnapshot().error).toBeDefined();
    const [ta, tb] = pairTransports();
    const links = [a.connect(ta), b.connect(tb)];
    await settle(() => a.status === 'synced', 'a synced');
    await settle(() => value.getSnapshot().error === undefined && scan.getSnapshot().error === undefined, 'read again at the sync');
    expect(value.getSnapshot().value).toBe(1);
    expect(scan.getSnapshot().entries.map((e) => e.value)).toEqual([2]);
    for (const off of offs) off();
    for (const l of links) l.close();
    await Promise.all([a.close(), b.close()]);
  });
});

describe('usePresence in render', () => {
  it('starts nothing: a render never committed (StrictMode, twice) leaves no presence state nor its timer', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('room');
    let rendered: number | undefined;
    const Members = () => {
      rendered = usePresence(space).length;
      return null;
    };
    renderToString(createElement(StrictMode, null, createElement(Members)));
    expect(rendered).toBe(0);
    expect(presenceSpaces(replica)).toBe(0);
    // Its first subscribe (React's, after commit) starts it, and shows what is there.
    space.presence.set({ name: 'me' });
    const store = new PresenceStore(space, () => {});
    expect(store.getSnapshot().map((m) => m.self)).toEqual([true]);
    const off = store.subscribe(() => {});
    expect(presenceSpaces(replica)).toBe(1);
    off();
    await replica.close();
  });
});
