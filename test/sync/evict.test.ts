/**
 * lib/evict.ts: bounded recency Maps and Sets shed their oldest entries a batch at a time. Taking the oldest entry one
 * insert at a time (`keys().next()` and a delete) cost up to the table's size per insert once full: V8's ordered hash
 * tables keep a deleted entry's slot until the table is rebuilt, and an iteration from the start steps over each.
 * The iterations started are what is counted here (no timing).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AckTracker, MAX_SHOWN_HELD, SHOWN_HELD_EVICT } from '../../lib/acks.js';
import { dropOldest } from '../../lib/evict.js';

afterEach(() => vi.restoreAllMocks());

describe('dropOldest', () => {
  it('drops the first `count` entries of a Map or Set, in order, telling each', () => {
    const m = new Map([1, 2, 3, 4, 5].map((i) => [i, `v${i}`]));
    const told: number[] = [];
    dropOldest(m, 2, (k) => told.push(k));
    expect([...m.keys()]).toEqual([3, 4, 5]);
    expect(told).toEqual([1, 2]);
    const s = new Set(['a', 'b', 'c']);
    dropOldest(s, 5);
    expect(s.size).toBe(0);
    const t = new Set(['a']);
    dropOldest(t, 0);
    dropOldest(t, -3);
    expect([...t]).toEqual(['a']);
  });
});

describe('the keys shown held by a peer (acks.ts shownHeldBy): bounded, a batch at a time', () => {
  // A key withheld after a peer's state showed it held counts held up to the seq shown: how what is remembered is seen.
  const remembered = (acks: AckTracker, i: number) => {
    acks.withhold('relay', 's', `k${i}`);
    const held = !acks.isWithheld('s', `k${i}`, 1);
    acks.release('s', `k${i}`);
    return held;
  };

  it('keeps at most MAX_SHOWN_HELD keys, the most recent, and a key shown again counts as recent', () => {
    const acks = new AckTracker();
    const total = MAX_SHOWN_HELD + 3 * SHOWN_HELD_EVICT + 5;
    for (let i = 0; i < total; i++) {
      acks.shownHeldBy('s', `k${i}`, 1);
      if (i % 100 === 0) acks.shownHeldBy('s', 'k0', 1 + i); // k0 shown again and again, higher each time
    }
    let kept = 0;
    for (let i = 0; i < total; i++) if (remembered(acks, i)) kept++;
    expect(kept).toBeLessThanOrEqual(MAX_SHOWN_HELD);
    expect(kept).toBeGreaterThanOrEqual(MAX_SHOWN_HELD - SHOWN_HELD_EVICT);
    expect(remembered(acks, 0)).toBe(true);
    expect(remembered(acks, 1)).toBe(false);
    expect(remembered(acks, total - 1)).toBe(true);
  });

  it('starts one iteration from the oldest per SHOWN_HELD_EVICT inserts once full, not one per insert', () => {
    const acks = new AckTracker();
    for (let i = 0; i < MAX_SHOWN_HELD; i++) acks.shownHeldBy('s', `k${i}`, 1);
    const keys = vi.spyOn(Map.prototype, 'keys');
    const more = 4 * SHOWN_HELD_EVICT;
    for (let i = MAX_SHOWN_HELD; i < MAX_SHOWN_HELD + more; i++) acks.shownHeldBy('s', `k${i}`, 1);
    expect(keys.mock.calls.length).toBeLessThanOrEqual(more / SHOWN_HELD_EVICT + 1);
  });
});
