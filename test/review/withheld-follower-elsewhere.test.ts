/**
 * Probe (review 33): a follower tab counts a withheld key pending forever, though another peer of the leader holds it.
 *
 * The leader tells the other tabs of each key its links withhold ('withheld', tab-waits.ts), and a follower then keeps
 * the key pending until some peer whose link did not withhold it acknowledged past it (acks.ts `isWithheld`). But a
 * follower hears no peers: its acknowledgements come from the leader without one, so that condition never held there —
 * with a tab linked to an old-release relay (small frame) and a current one, a big write is held by the current relay
 * and cleared in the leader, while the follower that wrote it counts it pending, says 'syncing' and never resolves
 * `whenSynced()`, until the key is written again. The leader now passes on how far such peers hold the key
 * (`elsewhere`, the third element of a 'withheld' item).
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { memoryRelay, tabGroup, withShared, type Member } from '../support/tab-group.js';
import { until } from '../sync/support.js';

const FAST = { beatMs: 150, probeTimeoutMs: 150 };
const FRAME = 16 * 1024;
const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

describe('a key one link of the leader tab withholds and another delivers', () => {
  it('is synced in the follower tab too', async () => {
    const factory = new IDBFactory();
    const name = `tabs-${Math.random().toString(36).slice(2)}`;
    const group = tabGroup();
    const oldRelay = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    oldRelay.core.speaks = [5, 6, 7, 8, 9]; // a relay of an earlier release: takes no key in parts
    const relay = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    open.push(oldRelay, relay);
    const tabs: Replica[] = [];
    const members: Member[] = [];
    for (let i = 0; i < 2; i++) {
      const member = group.member(`tab${i}`);
      const r = await openReplica({
        storage: withShared(indexedDBStorage(name, { indexedDB: factory }), member),
        sharedNetwork: { ...FAST, timers: member.timers },
        maxValueBytes: 64 * 1024,
        // 10's path: without Web Locks (Node) each tab's open starts an epoch, and a storage speaking 11 tags from its
        // second open (identity.ts AT11_META), so its keys would be withheld from the earlier relay for naming one.
        speaks: SPEAKS_10,
      });
      r.space('s');
      members.push(member);
      tabs.push(r);
      open.push(r);
    }
    const errors: unknown[] = [];
    for (const t of tabs) t.on('error', (e) => errors.push(e));
    for (const t of tabs) {
      t.connect(memoryRelay(oldRelay, FRAME).transport());
      t.connect(memoryRelay(relay).transport());
    }
    await until(() => tabs.every((t) => t.status === 'synced'), 'both tabs synced');
    const leader = tabs[group.holder === 'tab0' ? 0 : 1]!;
    const follower = tabs[group.holder === 'tab0' ? 1 : 0]!;

    await follower.space('s').put('big', 'x'.repeat(30 * 1024));
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the leader reported big');
    await until(async () => (await relay.space('s').get('big')) !== undefined, 'the current relay got big');
    await until(() => leader.pending === 0, 'the leader counts big held');
    await new Promise((r) => setTimeout(r, 400));
    expect(await oldRelay.space('s').get('big'), 'the old relay holds nothing of big').toBeUndefined();
    expect.soft(follower.pending, 'the follower counts big pending though the current relay holds it').toBe(0);
    expect.soft(follower.status).toBe('synced');
    void members;
  });
});
