import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareHlc, HybridClock, type Hlc } from '../lib/hlc.js';
import { exchange, replicas } from './support/replicas.js';

function clockAt(start: number) {
  let t = start;
  const c = new HybridClock(() => t);
  return { c, set: (ms: number) => void (t = ms) };
}

describe('HybridClock', () => {
  it('follows the wall clock when it moves forward, with logical 0', () => {
    const { c, set } = clockAt(1000);
    expect(c.tick()).toEqual({ ms: 1000, logical: 0 });
    set(1005);
    expect(c.tick()).toEqual({ ms: 1005, logical: 0 });
  });

  it('counts logically while the wall clock stands still', () => {
    const { c } = clockAt(1000);
    expect([c.tick(), c.tick(), c.tick()]).toEqual([
      { ms: 1000, logical: 0 },
      { ms: 1000, logical: 1 },
      { ms: 1000, logical: 2 },
    ]);
  });

  it('stays monotonic when the wall clock goes backwards', () => {
    const { c, set } = clockAt(5000);
    const a = c.tick();
    set(1000);
    const b = c.tick();
    expect(b).toEqual({ ms: 5000, logical: 1 });
    expect(compareHlc(b, a)).toBeGreaterThan(0);
    set(5001);
    expect(c.tick()).toEqual({ ms: 5001, logical: 0 });
  });

  it('orders a local event after an observed remote timestamp, even one ahead of the wall clock', () => {
    const { c } = clockAt(1000);
    c.tick();
    c.observe(9000, 7);
    const t = c.tick();
    expect(t).toEqual({ ms: 9000, logical: 8 });
    // Observing an older timestamp changes nothing.
    c.observe(10, 0);
    expect(c.tick()).toEqual({ ms: 9000, logical: 9 });
  });

  it('borrows the next millisecond when the logical counter would overflow 16 bits', () => {
    const { c } = clockAt(1000);
    let last: Hlc = c.tick();
    for (let i = 0; i < 0xffff; i++) last = c.tick();
    expect(last).toEqual({ ms: 1000, logical: 0xffff });
    const next = c.tick();
    expect(next).toEqual({ ms: 1001, logical: 0 });
    // The wall clock catching up does not repeat the borrowed timestamp.
    const after = c.tick();
    expect(compareHlc(after, next)).toBeGreaterThan(0);
    expect(after).toEqual({ ms: 1001, logical: 1 });
  });

  it('observing a maxed-out counter still yields a greater timestamp', () => {
    const { c } = clockAt(1000);
    c.observe(2000, 0xffff);
    expect(c.tick()).toEqual({ ms: 2001, logical: 0 });
  });

  it('property: timestamps strictly increase and exceed every observed one, whatever the wall clock does', () => {
    const step = fc.oneof(
      fc.record({ wall: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ observe: fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 0xffff })) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { c, set } = clockAt(1500);
        let last: Hlc = { ms: -1, logical: 0 };
        let seen: Hlc = { ms: -1, logical: 0 };
        for (const s of steps) {
          if ('wall' in s) set(s.wall);
          else {
            c.observe(s.observe[0], s.observe[1]);
            if (compareHlc({ ms: s.observe[0], logical: s.observe[1] }, seen) > 0) seen = { ms: s.observe[0], logical: s.observe[1] };
          }
          const t = c.tick();
          expect(compareHlc(t, last)).toBeGreaterThan(0);
          expect(compareHlc(t, seen)).toBeGreaterThan(0);
          expect(t.logical).toBeLessThanOrEqual(0xffff);
          expect(Number.isInteger(t.ms) && Number.isInteger(t.logical)).toBe(true);
          last = t;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('HLC through a replica', () => {
  it('a write after receiving a remote version carries a later HLC than it', async () => {
    const [ahead] = await replicas(1, { now: () => 2_000_000_000_000 });
    const [behind] = await replicas(1, { now: () => 1_000_000_000_000 });
    await ahead!.space('s').put('k', 'from the future');
    await exchange(ahead!, behind!, 's', ['k']);
    await behind!.space('s').put('k', 'reply');
    const v = (await behind!.space('s').get('k'))!.versions;
    expect(v).toHaveLength(1);
    expect(v[0]!.hlc.ms).toBe(2_000_000_000_000);
    expect(v[0]!.hlc.logical).toBe(1);
  });
});
