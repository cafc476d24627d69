/**
 * A key withheld from a peer that comes back under a new replica id (simulator, withheld family seed 1488).
 *
 * `withhold` (acks.ts) names the peer whose link left a key out; another peer's acknowledgement past the key counts it
 * held there (`elsewhere`). In withheld 1488, f's big write k12 (f's log seq 1) was left out of the frame to c (a narrow
 * link), and c acknowledged f's log up to 1. c was then restored from a copy holding that cursor and no key of the
 * space, and opened under a new replica id. Its hello resumed f's log from the cursor
 * (f's anti-entropy run, its cursor into c's new epoch gone, found nothing to send an empty space), and the stream's
 * start acknowledged f's log up to 1 under an id the withhold did not name: k12 counted as held by a peer whose link
 * did not leave it out, and f's w.synced resolved while no other node held anything of k12. A cursor a stream
 * resumes from now counts no withheld key held (only acknowledgements of frames sent under the peer's id do).
 *
 * The schedule replays from its seed and family (test/sim/schedule.ts); should the generator change its meaning, the
 * test says so (the schedule's shape is asserted first).
 */
import { describe, expect, it } from 'vitest';
import { makeSchedule } from '../sim/schedule.js';
import { runSchedule } from '../sim/run-schedule.js';

describe('a key withheld from a peer restored under a new id', () => {
  it('is not counted synced by the cursor the restored peer resumes from (withheld 1488)', async () => {
    const s = makeSchedule(1488, { family: 'withheld', disabled: new Set() });
    expect(s.narrow).toEqual({ c: 4096, f: 8192 });
    expect(s.faults.some((f) => f.what.kind === 'restore' && f.node === 'c')).toBe(true);
    expect((await runSchedule(s, { syncedDurable: true })).problems).toEqual([]);
  }, 120_000);
});
