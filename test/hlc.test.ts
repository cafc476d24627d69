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

  it('does not adopt a timestamp more than maxDriftMs ahead of the wall clock, and counts it', () => {
    let wall = 1_000_000;
    const c = new HybridClock(() => wall, { maxDriftMs: 60_000 });
    expect(c.observe(wall + 60_000, 3)).toBe(true);
    expect(c.tick()).toEqual({ ms: 1_060_000, logical: 4 });
    expect(c.observe(2 ** 48 - 1, 0xffff)).toBe(false);
    expect(c.observe(wall + 60_001, 0)).toBe(false);
    expect(c.ignored).toBe(2);
    expect(c.tick()).toEqual({ ms: 1_060_000, logical: 5 });
    // Once the wall clock moved on, the same timestamp is within the drift and adopted.
    wall += 10;
    expect(c.observe(wall + 60_000, 0)).toBe(true);
  });

  it('never issues a timestamp past the 48-bit wire limit: it stays at the limit', () => {
    const { c } = clockAt(2 ** 48 + 5000);
    expect(c.tick()).toEqual({ ms: 2 ** 48 - 1, logical: 0 });
    let last: Hlc = { ms: 0, logical: 0 };
    for (let i = 0; i < 0x10002; i++) last = c.tick();
    expect(last).toEqual({ ms: 2 ** 48 - 1, logical: 0xffff });
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
  it('a write after receiving a remote version carries a later HLC than it (within the allowed drift)', async () => {
    const [ahead] = await replicas(1, { now: () => 1_000_000_030_000 });
    const [behind] = await replicas(1, { now: () => 1_000_000_000_000 });
    await ahead!.space('s').put('k', 'from 30 s ahead');
    await exchange(ahead!, behind!, 's', ['k']);
    await behind!.space('s').put('k', 'reply');
    const v = (await behind!.space('s').get('k'))!.versions;
    expect(v).toHaveLength(1);
    expect(v[0]!.hlc.ms).toBe(1_000_000_030_000);
    expect(v[0]!.hlc.logical).toBe(1);
  });

  it('keeps a version from far in the future but does not adopt its timestamp', async () => {
    const [ahead] = await replicas(1, { now: () => 2_000_000_000_000 });
    const [behind] = await replicas(1, { now: () => 1_000_000_000_000 });
    await ahead!.space('s').put('k', 'from the future');
    await exchange(ahead!, behind!, 's', ['k']);
    expect((await behind!.space('s').get('k'))!.versions[0]!.hlc.ms).toBe(2_000_000_000_000);
    await behind!.space('s').put('k2', 'later, here');
    expect((await behind!.space('s').get('k2'))!.versions[0]!.hlc.ms).toBe(1_000_000_000_000);
  });
});
