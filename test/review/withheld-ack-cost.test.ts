/**
 * Probe (review 33): while a key of a space is withheld, every acknowledgement by any peer re-ran the pending-writes
 * map over the space and woke every parked waiter.
 *
 * `ack` (acks.ts) re-emitted the advance (pending.ts `acked` walks every pending key of the space, and tabs.ts posts
 * it to the other tabs) and re-weighed the parked waiters on each per-peer acknowledgement that was not a new maximum —
 * whether or not it bore on a withheld key. A withhold lasts until the key changes (a big value that never does:
 * forever), and a relay's clients, each a link that may have withheld it, acknowledge all the time. Now only an
 * acknowledgement that raised some withheld key's `elsewhere` (a peer whose link sent it) does so.
 */
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';

describe('acknowledgements while a key is withheld', () => {
  it('re-emit the advance only when they bear on a withheld key', () => {
    const acks = new AckTracker();
    let advances = 0;
    acks.onAdvance(() => void advances++);
    acks.withhold('old', 's', 'big');
    acks.ack('s', 10, 'current'); // held elsewhere up to 10: one advance
    expect(advances).toBe(1);
    for (let i = 1; i <= 9; i++) acks.ack('s', i, 'old'); // the withholding peer catching up: nothing new
    for (let i = 1; i <= 9; i++) acks.ack('s', i, `client-${i}`); // others below what is held already
    expect(advances, 'advances re-emitted for acknowledgements that changed nothing').toBe(1);
    acks.ack('s', 12, 'other'); // a new maximum: one advance
    expect(advances).toBe(2);
  });
});
