import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { synced, until } from './support.js';

const DAY = 24 * 3600 * 1000;

describe('tombstone GC', () => {
  it('a replica offline longer than gcGrace reconnects and the collected key stays deleted everywhere', async () => {
    let now = Date.now();
    const clock = () => now;
    const relay = await openReplica({ storage: memoryStorage(), now: clock, collectTombstones: true, gcGrace: 30 * DAY });
    const b = await openReplica({ storage: memoryStorage(), now: clock });
    const c = await openReplica({ storage: memoryStorage(), now: clock });
    // Both ends of a pair; a departing client's relay-side link goes too, as a relay's accepted session would.
    const join = (r: Replica) => {
      const [t1, t2] = pairTransports();
      const fromRelay = relay.connect(t1, { antiEntropyInterval: 0 });
      const fromClient = r.connect(t2, { antiEntropyInterval: 0 });
      return { close: () => (fromClient.close(), fromRelay.close()) };
    };
    b.space('s');
    c.space('s');
    relay.space('s');
    join(b);
    const lc = join(c);
    await b.space('s').put('doomed', 'v1');
    await b.space('s').put('kept', 'v1');
    await synced(relay, b, c);
    expect((await c.space('s').get('doomed'))?.value).toBe('v1');

    // c goes away for 40 days; meanwhile b deletes the key, and the relay collects the tombstone.
    lc.close();
    await b.space('s').delete('doomed');
    await synced(relay, b);
    now += 40 * DAY;
    expect(await relay.collectGarbage()).toBe(1);
    // Collected: no version left, only the context of what the delete superseded.
    expect((await relay.core.storage.get('s', 'doomed'))?.vs).toEqual([]);

    // c comes back: the collected state (no versions, the delete's context) reaches it, and it drops its old
    // version as the context says.
    join(c);
    await synced(relay, c);
    await until(async () => (await c.space('s').get('doomed')) === undefined, 'c drops the collected key');
    expect(await relay.space('s').get('doomed')).toBeUndefined();
    expect((await c.space('s').get('kept'))?.value).toBe('v1');
    await synced(relay, b, c);
    expect(await b.space('s').get('doomed')).toBeUndefined();

    // A fresh write of the key afterwards is a new version and syncs as usual.
    await c.space('s').put('doomed', 'reborn');
    await until(async () => (await b.space('s').get('doomed'))?.value === 'reborn', 'a new write syncs');
    await Promise.all([relay.close(), b.close(), c.close()]);
  });

  it('keeps tombstones younger than the grace period and keys with a live sibling', async () => {
    let now = Date.now();
    const r = await openReplica({ storage: memoryStorage(), now: () => now, collectTombstones: true, gcGrace: 10 * DAY });
    const s = r.space('s');
    await s.put('young', 1);
    await s.delete('young');
    const read = await s.put('contested', 'x');
    await s.delete('contested', { context: read.context });
    await s.put('contested', 'concurrent', { context: '' });
    // A peer holds the deletes (a tombstone of ours no peer acknowledged is not collected: collect-pending-tombstone.test.ts).
    const peer = await openReplica({ storage: memoryStorage(), now: () => now });
    peer.space('s');
    const [t1, t2] = pairTransports();
    r.connect(t1, { antiEntropyInterval: 0 });
    peer.connect(t2, { antiEntropyInterval: 0 });
    await until(() => r.pending === 0, 'the peer acknowledged the writes');
    now += 5 * DAY;
    expect(await r.collectGarbage()).toBe(0);
    now += 6 * DAY;
    expect(await r.collectGarbage()).toBe(1);
    expect((await r.core.storage.get('s', 'young'))?.vs).toEqual([]);
    expect(await s.get('young')).toBeUndefined();
    // A collected key is not collected again.
    now += 20 * DAY;
    expect(await r.collectGarbage()).toBe(0);
    expect((await s.get('contested'))?.value).toBe('concurrent');
    await Promise.all([r.close(), peer.close()]);
  });
});
