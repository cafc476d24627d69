/**
 * A withhold is released per peer at a newer record (acks.ts `release`), soak seed withheld 1736400294 jittered.
 *
 * c's record of k (at 35) was withheld from b: b's link left it out. A frame to a (an earlier release: the state named
 * an epoch) read the log up to 37 and left k out too — by then k's record had moved to 36 (c's small rewrite), whose
 * change c heard only after that frame. b's link carried the record at 36. The entry kept one position for every peer,
 * 37, so hearing the change at 36 released nobody: b stayed in the entry, and every acknowledgement of b's counted k
 * withheld — c's write stayed pending for good, with b holding it durably. Fails on the commit before.
 */
import { describe, expect, it } from 'vitest';
import { placedTracker, tick } from './support.js';

const A = 'a'.repeat(22);
const B = 'b'.repeat(22);

describe('a withhold at a newer record', () => {
  it("releases the peers whose frames left out only an older record: their acknowledgements count the key", async () => {
    const at = { k: 35 };
    const acks = placedTracker(at);
    acks.withhold(B, 's', 'k', 35);
    at.k = 36;
    acks.withhold(A, 's', 'k', 37); // a's frame read the record at 36 before its change was heard, and left it out
    acks.release('s', 'k', 36);
    expect(acks.isWithheldFrom(A, 's', 'k'), 'a got no record of k: still withheld from it').toBe(true);
    expect(acks.isWithheldFrom(B, 's', 'k'), "b's link carries the record at 36").toBe(false);
    let synced = false;
    void acks.wait('s', 36, 'k').then(() => (synced = true));
    acks.ack('s', 38, B);
    await tick();
    expect(acks.isWithheld('s', 'k', 36), "b's acknowledgement counts k held").toBe(false);
    expect(synced, "the write at 36 is synced once b acknowledged past it").toBe(true);
  });

  it("counts an acknowledgement of the released peer that came before the change was heard", async () => {
    const at = { k: 35 };
    const acks = placedTracker(at);
    acks.withhold(B, 's', 'k', 35);
    at.k = 36;
    acks.withhold(A, 's', 'k', 37);
    acks.ack('s', 38, B); // b acknowledged the frame carrying the record at 36 before c heard the change
    acks.release('s', 'k', 36);
    expect(acks.isWithheld('s', 'k', 36)).toBe(false);
    let synced = false;
    void acks.wait('s', 36, 'k').then(() => (synced = true));
    await tick();
    expect(synced).toBe(true);
  });

  it('keeps a peer whose own frame left the newer record out, and one past the bound alike', async () => {
    const at = { k: 35 };
    const acks = placedTracker(at);
    acks.withhold(B, 's', 'k', 36);
    acks.withhold(A, 's', 'k', 37);
    acks.release('s', 'k', 36);
    expect(acks.isWithheldFrom(B, 's', 'k'), "b's frame at 36 read the new record and left it out").toBe(true);
    acks.ack('s', 38, B);
    await tick();
    expect(acks.isWithheld('s', 'k', 36), "b's acknowledgement does not count a key its link left out").toBe(true);
    // Past the bound (a relay's countless clients), the overflow keeps its own position as a peer does.
    acks.withhold('*', 's', 'k', 37);
    acks.release('s', 'k', 37);
    expect(acks.isWithheldFrom('c'.repeat(22), 's', 'k'), 'a peer past the bound: its frame reached 37').toBe(true);
    // A change past every frame that left it out releases the key whole.
    acks.release('s', 'k', 40);
    expect(acks.isWithheldFrom(A, 's', 'k') || acks.isWithheldFrom(B, 's', 'k')).toBe(false);
  });

  it('keeps a peer with no known position (a repair state left the key out: it may have missed the newer record)', () => {
    const acks = placedTracker({ k: 36 });
    acks.withhold(B, 's', 'k');
    acks.withhold(A, 's', 'k', 37);
    acks.release('s', 'k', 36);
    expect(acks.isWithheldFrom(B, 's', 'k')).toBe(true);
    acks.release('s', 'k', 38);
    expect(acks.isWithheldFrom(B, 's', 'k')).toBe(false);
  });
});
