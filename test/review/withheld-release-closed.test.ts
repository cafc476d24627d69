/**
 * A withheld write's `w.synced` as its replica closes (simulator, withheld family seed 1289).
 *
 * Relay a's big write k2 (its log seq 1) was left out of the frames to every client (narrow links: withheld), which
 * acknowledged a's log up to 1. A peer's state of k2 joined in just as a closed (its disk was going away): the join
 * moved k2's record up and its change event released the withhold, waking the write's parked waiter. A closed
 * replica places a waiter by its pending-writes map (acks.ts recordNow), and the change handler released the withhold
 * before telling the map: the map still placed k2 at 1, under the acknowledgement, and w.synced resolved while no
 * other node held anything of the write. The map now hears of the change first.
 *
 * The schedule replays from its seed and family (test/sim/schedule.ts); its shape is asserted first.
 */
import { describe, expect, it } from 'vitest';
import { makeSchedule } from '../sim/schedule.js';
import { runSchedule } from '../sim/run-schedule.js';

describe('a withheld write whose key changes as its replica closes', () => {
  it('is not reported synced by the stale place of its key (withheld 1289)', async () => {
    const s = makeSchedule(1289, { family: 'withheld', disabled: new Set() });
    expect(s.relays).toEqual(['a']);
    expect(s.faults.some((f) => f.what.kind === 'wipe' && f.node === 'a')).toBe(true);
    const { problems } = await runSchedule(s, { syncedDurable: true });
    expect(problems.filter((p) => / was reported synced | said /.test(p))).toEqual([]);
  }, 120_000);
});
