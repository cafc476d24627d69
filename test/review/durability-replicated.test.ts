/**
 * Review probe: cb89fa8 made w.replicated(n) wait for the report covering where the write's key is now; w.durability
 * said 'replicated' from a report past the write's own seq (write-result.ts: replicatedCount(space, seq) >= 2), the
 * very case news.test.ts shows for the promise. It now says so only once the check replicated(2) makes (where the
 * key's record is) passed. Failed on 96a0b44 (an `it.fails` until then).
 */
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';
import type { ReplicaCore } from '../../lib/core.js';
import { WriteResult } from '../../lib/write-result.js';

describe('w.durability and relay reports', () => {
  it('says no more than replicated(2) would: not replicated while the key sits past the report', async () => {
    const acks = new AckTracker();
    const at = new Map([['k', 9]]); // k written at 5, and again at 9 before any relay held 5
    acks.where = async (_space, key) => at.get(key);
    acks.locate = (_space, key) => at.get(key);
    const w = new WriteResult({ acks } as unknown as ReplicaCore, 's', 'k', 5, {});
    acks.replicated('s', 6, 2);
    expect(w.durability, 'two relays reported holding the log up to 6, k sits at 9').not.toBe('replicated');
    await new Promise((r) => setTimeout(r, 10));
    expect(w.durability, 'still not, after the check read where k is').not.toBe('replicated');
    acks.replicated('s', 9, 2);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.durability, 'two relays hold the log past k\'s record').toBe('replicated');
  });
});
