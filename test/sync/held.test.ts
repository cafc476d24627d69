/**
 * A key saved faster than acknowledgements come back (a document being typed in): the peer's acknowledgements always
 * sit below the key's newest record, so a write of it that waits for "an acknowledgement past where the key is now"
 * waits as long as the saves go on. What the peer does hold is known from the log frames that carried the key
 * (AckTracker `sentFrame`, `held`); c1664b5 used that for `w.synced` in the instance that hears the peer. Here: the
 * same for `w.replicated(n)` (relays report how far n of them hold our log), and for a write made in a tab that does
 * not hold the network role (the leader tells it: lib/sync/tab-waits.ts; the whole path with two tabs is
 * tabs.test.ts, "a document typed in the follower"). Each fails on the commit before.
 */
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';
import { TabWaits } from '../../lib/sync/tab-waits.js';

const PEER = 'p'.repeat(22);
const tick = () => new Promise((r) => setTimeout(r, 5));

/** A tracker whose key k's stored record sits at `at.k` (moved on by every save). */
function tracker() {
  const acks = new AckTracker();
  const at = { k: 5 };
  acks.where = async () => at.k;
  acks.locate = () => at.k;
  return { acks, at };
}

describe('what a peer holds of a hot key', () => {
  it('w.replicated(2) resolves once two relays hold the log past a frame that carried the key, though the key moved on', async () => {
    const { acks, at } = tracker();
    let done = false;
    void acks.waitReplicated('s', 5, 2, 'k').then(() => (done = true));
    for (let save = 6; save <= 30; save += 3) {
      at.k = save; // saved again
      acks.sentFrame(PEER, 's', save, [['k']]); // the stream carries it
      at.k = save + 1; // and again before the acknowledgement comes back
      acks.ack('s', save, PEER);
      acks.replicated('s', save, 2);
      await tick();
    }
    expect(done, 'replicated(2) of the first save, two relays holding frames that carried later saves').toBe(true);
  });

  it('does not resolve from a frame that carried the key before the write, nor from a count below n', async () => {
    const { acks, at } = tracker();
    acks.sentFrame(PEER, 's', 4, [['k']]);
    let done = false;
    at.k = 7;
    void acks.waitReplicated('s', 7, 2, 'k').then(() => (done = true));
    acks.ack('s', 4, PEER);
    acks.replicated('s', 4, 2);
    at.k = 9;
    acks.sentFrame(PEER, 's', 9, [['k']]);
    acks.ack('s', 9, PEER);
    acks.replicated('s', 9, 1);
    await tick();
    at.k = 12;
    expect(done).toBe(false);
    acks.replicated('s', 9, 2);
    await tick();
    expect(done).toBe(true);
  });

  it('a follower instance: the leader notes the keys it waits on, and tells it what the peer holds of them', async () => {
    const leader = tracker();
    const follower = tracker();
    // The follower's waits reach the leader; what the leader finds held reaches the follower (tab-waits.ts).
    follower.acks.onWait((space, key) => leader.acks.remoteWait(space, [key]));
    leader.acks.onHeld((space, key, upTo) => follower.acks.held(space, key, upTo));
    let done = false;
    void follower.acks.wait('s', 5, 'k').then(() => (done = true));
    for (let save = 6; save <= 30; save += 3) {
      leader.at.k = follower.at.k = save;
      leader.acks.sentFrame(PEER, 's', save, [['k'], ['other']]);
      leader.at.k = follower.at.k = save + 1;
      leader.acks.ack('s', save, PEER);
      follower.acks.ack('s', save); // acknowledgements reach followers as they do now
      await tick();
    }
    expect(done, 'the follower\'s write of a key the leader streamed and had acknowledged').toBe(true);
  });
});

describe('tab-waits: the messages between a follower and the leader', () => {
  it('a write still waited on after the leader told an earlier answer is asked for again, and resolves', async () => {
    const leader = tracker();
    const follower = tracker();
    // Two instances' TabWaits over a channel delivering each message to the other, as the SharedInstances port does.
    const toLeader: Array<(m: unknown) => void> = [];
    const toFollower: Array<(m: unknown) => void> = [];
    const l = new TabWaits(leader.acks, (m) => queueMicrotask(() => toFollower.forEach((f) => f(m))), () => true);
    const f = new TabWaits(follower.acks, (m) => queueMicrotask(() => toLeader.forEach((g) => g(m))), () => false);
    toLeader.push((m) => l.receive(m as Parameters<typeof l.receive>[0]));
    toFollower.push((m) => f.receive(m as Parameters<typeof f.receive>[0]));
    const done: number[] = [];
    void follower.acks.wait('s', 5, 'k').then(() => done.push(5));
    void follower.acks.wait('s', 9, 'k').then(() => done.push(9));
    await tick(); // the waits reach the leader
    for (let save = 6; save <= 30; save += 4) {
      leader.at.k = follower.at.k = save;
      leader.acks.sentFrame(PEER, 's', save, [['k']]);
      leader.at.k = follower.at.k = save + 1;
      leader.acks.ack('s', save, PEER);
      follower.acks.ack('s', save);
      await tick();
    }
    expect(done).toEqual([5, 9]);
    l.close();
    f.close();
  });
});
