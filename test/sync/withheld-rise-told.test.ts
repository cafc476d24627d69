/**
 * A withhold whose log position rose is told again (acks.ts `withhold`), part of soak seed mixed 1734003284.
 *
 * The leader tab withheld k from a peer up to 10 and told the follower (tab-waits.ts 'withheld'); the follower's copy
 * carries no position, so the follower's own write of k at 12 released it there. The leader read that record before
 * hearing its change and left k out again at 12: its entry outlives the change (`release` keeps a withhold whose frames
 * reached the record), but `withhold` returned early on the existing entry, so nothing was posted (nor stored again).
 * The peer's acknowledgement past 12, passed on to the follower, then counted the follower's write synced while the
 * peer never got it. Fails on the commit before.
 */
import { describe, expect, it } from 'vitest';
import { placedTracker, tick } from './support.js';
import { TabWaits } from '../../lib/sync/tab-waits.js';

const PEER = 'p'.repeat(22);

describe('a withhold whose position rises', () => {
  it('is told to the other instances again: a follower that released its copy withholds the key once more', async () => {
    const at = { k: 5 };
    const leader = placedTracker(at);
    const follower = placedTracker(at);
    const l = new TabWaits(leader, (m) => queueMicrotask(() => f.receive(m)), () => true);
    const f = new TabWaits(follower, (m) => queueMicrotask(() => l.receive(m)), () => false);
    const fresh: boolean[] = [];
    leader.onWithhold((_p, _s, _k, _e, isFresh) => void (isFresh && fresh.push(true)));

    leader.withhold(PEER, 's', 'k', 10);
    await tick();
    expect(follower.isWithheldFrom(PEER, 's', 'k'), 'the follower was told').toBe(true);

    // The follower writes k again at 12: its copy (no position) goes with the change.
    at.k = 12;
    follower.release('s', 'k', 12);
    let synced = false;
    void follower.wait('s', 12, 'k').then(() => (synced = true));
    // The leader's frame read that record and left k out again, then the leader heard the change (its entry stays).
    leader.withhold(PEER, 's', 'k', 12);
    leader.release('s', 'k', 12);
    expect(leader.isWithheldFrom(PEER, 's', 'k')).toBe(true);
    await tick();
    // The peer acknowledges past 12 (the leader passes it on without the peer, tabs.ts 'acks').
    leader.ack('s', 14, PEER);
    follower.ack('s', 14);
    await tick();
    expect.soft(fresh.length, 'the rise was told as news (pending.ts stores the list again on it)').toBe(2);
    expect.soft(follower.isWithheldFrom(PEER, 's', 'k'), 'the follower withholds k again').toBe(true);
    expect(synced, "the follower's write counted synced by the peer that never got it").toBe(false);
    l.close();
    f.close();
  });

  it('a frame leaving the key out again at a position it already reached tells nothing', () => {
    const leader = placedTracker({ k: 5 });
    let told = 0;
    leader.onWithhold(() => void told++);
    leader.withhold(PEER, 's', 'k', 10);
    leader.withhold(PEER, 's', 'k', 10);
    leader.withhold(PEER, 's', 'k', 8);
    expect(told).toBe(1);
  });
});
