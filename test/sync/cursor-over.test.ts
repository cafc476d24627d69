/**
 * cursor-writes.ts `cursorOver`: the cursor record a join stores over the one the storage holds (read in the join's
 * transaction). Two links of one peer may both join — one closed with frames still queued behind a late join, two
 * instances on one storage — and the one that writes last must not take the cursor, or its reach, back within the
 * peer's epoch (found by test/review/live-shared-differential.test.ts, SOAK seed 126).
 */
import { describe, expect, it } from 'vitest';
import { cursorOver } from '../../lib/sync/cursor-writes.js';
import { REACH_OPEN } from '../../lib/sync/handshake.js';

describe('cursorOver: a cursor record never goes back within the peer’s epoch', () => {
  it('keeps the stored cursor and reach where they are past the one written, in the same epoch', () => {
    expect(cursorOver({ e: 'E', s: 417, re: 'E', rs: 417 }, { e: 'E', s: 386, re: 'E', rs: 386 })).toEqual({ e: 'E', s: 417, re: 'E', rs: 417 });
    // A reach left open by a repair state stays open; the cursor still moves on.
    expect(cursorOver({ e: 'E', s: 10, re: 'E', rs: REACH_OPEN }, { e: 'E', s: 20, re: 'E', rs: 20 })).toEqual({ e: 'E', s: 20, re: 'E', rs: REACH_OPEN });
    // The reach alone is past (entries held back: the cursor waits below them).
    expect(cursorOver({ e: 'E', s: 5, re: 'E', rs: 30 }, { e: 'E', s: 9, re: 'E', rs: 12 })).toEqual({ e: 'E', s: 9, re: 'E', rs: 30 });
  });

  it('writes the record as it is where it moves forward, where nothing is stored, or across epochs', () => {
    const value = { e: 'E', s: 9, re: 'E', rs: 9 };
    expect(cursorOver({ e: 'E', s: 5, re: 'E', rs: 5 }, value)).toBe(value);
    expect(cursorOver(undefined, value)).toBe(value);
    expect(cursorOver(null, value)).toBe(value);
    expect(cursorOver({ e: 'D', s: 900, re: 'D', rs: 900 }, value)).toBe(value);
    // A record written without a reach gains none (a reach kept from elsewhere could claim a restore held what it did not).
    expect(cursorOver({ e: 'E', s: 3, re: 'E', rs: 50 }, { e: 'E', s: 4 })).toEqual({ e: 'E', s: 4 });
    expect(cursorOver({ e: 'E', s: 50, re: 'E', rs: 50 }, { e: 'E', s: 4 })).toEqual({ e: 'E', s: 50 });
  });
});
