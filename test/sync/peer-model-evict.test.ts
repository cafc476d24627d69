/**
 * lib/sync/peer-model.ts's bound: at most MAX_KEYS keys per link, the least recently used going EVICT at a time. Taking
 * the oldest key one insert at a time (`map.keys().next()` and a delete per insert) cost up to the table's size per
 * insert once the model was full: a Map iterated from its start steps over the slots of every entry deleted there
 * until the table is rebuilt (V8's ordered hash tables) — on a relay, every delivery on every link once its clients
 * had seen 4 096 keys (bench/floor/s7-live-encode.mjs past 4 096 writes). The iterations started are what is counted
 * here (no timing): one per EVICT inserts, not one per insert.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { EVICT, MAX_KEYS, PeerModel } from '../../lib/sync/peer-model.js';

const state = (i: number): KeyState => ({ vs: [{ r: 'w', n: i, t: i, c: 0, v: String(i) }], cc: { w: i } });
const send = (m: PeerModel, i: number) => m.sent('s', [[`k${i}`, state(i)]], new Map());
const held = (m: PeerModel, from: number, to: number) => {
  let n = 0;
  for (let i = from; i < to; i++) if (m.known('s', `k${i}`)) n++;
  return n;
};

afterEach(() => vi.restoreAllMocks());

describe('the peer model’s bound (MAX_KEYS)', () => {
  it('keeps at most MAX_KEYS keys, the most recent, and an observed key counts as recent', () => {
    const m = new PeerModel();
    const total = MAX_KEYS + 3 * EVICT + 5;
    for (let i = 0; i < total; i++) {
      send(m, i);
      if (i % 100 === 0) m.observe('s', 'k0', state(0), true); // k0 used all along
    }
    expect(held(m, 0, total)).toBeLessThanOrEqual(MAX_KEYS);
    expect(held(m, total - (MAX_KEYS - EVICT), total)).toBe(MAX_KEYS - EVICT);
    expect(m.known('s', 'k1')).toBeUndefined();
    expect(m.known('s', 'k0')).toBeDefined();
  });

  it('starts one iteration from the oldest key per EVICT inserts once full, not one per insert', () => {
    const m = new PeerModel();
    for (let i = 0; i < MAX_KEYS; i++) send(m, i);
    const keys = vi.spyOn(Map.prototype, 'keys');
    const more = 4 * EVICT;
    for (let i = MAX_KEYS; i < MAX_KEYS + more; i++) send(m, i);
    expect(keys.mock.calls.length).toBeLessThanOrEqual(more / EVICT + 1);
    expect(held(m, MAX_KEYS, MAX_KEYS + more)).toBe(more);
  });
});
