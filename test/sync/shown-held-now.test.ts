/**
 * A peer's state showing our write held resolves the write's waiters at once (acks.ts `shownHeldBy`), soak seed
 * clock-skew 1742700192 (beside earlier releases).
 *
 * Relay a's write of k8 (at 5) moved to a record at 9 by a join; k8 was withheld from c and b (earlier releases: the
 * state names an epoch). d's state, joined unchanged, showed a's version held there: `elsewhere` rose to 9, but the
 * waiter waited for a's log to be acknowledged up to 9 by any peer. That came from b — which never got k8 — long after,
 * when d had been restored to a copy from before the write: the write was reported synced while no other node held it.
 * Now the shown state counts as an acknowledged frame carrying the key does, at once. Fails on the commit before.
 */
import { describe, expect, it } from 'vitest';
import { placedTracker, tick } from './support.js';

const B = 'b'.repeat(22);
const C = 'c'.repeat(22);

describe("a peer's state showing our write held", () => {
  it('resolves the waiters at or below its record at once, with our log acknowledged below it', async () => {
    const acks = placedTracker({ k: 9 });
    acks.withhold(C, 's', 'k8', 9);
    let synced = false;
    void acks.wait('s', 5, 'k8').then(() => (synced = true));
    acks.ack('s', 5, C);
    await tick();
    expect(synced, 'c acknowledged up to 5, and k8 is withheld from it').toBe(false);
    acks.shownHeldBy('s', 'k8', 9);
    await tick();
    expect(synced, "the peer's state holds the write: synced now, not at a later acknowledgement").toBe(true);
  });

  it('does not resolve a write past the record the state was shown for', async () => {
    const acks = placedTracker({ k: 12 });
    acks.withhold(B, 's', 'k8', 12);
    let synced = false;
    void acks.wait('s', 12, 'k8').then(() => (synced = true));
    acks.shownHeldBy('s', 'k8', 9);
    acks.ack('s', 12, B);
    await tick();
    expect(synced).toBe(false);
  });
});
