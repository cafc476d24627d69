import { describe, expect, it } from 'vitest';
import { prng } from '../../lib/check-merge.js';
import { logErfc, PhiDetector } from '../../lib/membership/phi.js';

/** Heartbeats every `every` ms (± jitter), `count` of them, starting at 0; returns the last arrival time. */
function feed(d: PhiDetector, every: number, count: number, jitter = 0, seed = 1): number {
  const r = prng(seed);
  let t = 0;
  for (let i = 0; i < count; i++) {
    d.heartbeat(t);
    if (i < count - 1) t += every + (r() * 2 - 1) * jitter;
  }
  return t;
}

describe('logErfc', () => {
  it.each([
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [-1, 1.8427007929497148],
  ])('erfc(%d) ≈ %d', (z, expected) => {
    expect(Math.exp(logErfc(z))).toBeCloseTo(expected, 6);
  });

  it('stays finite far in the tail', () => {
    expect(logErfc(40)).toBeLessThan(-1500);
    expect(Number.isFinite(logErfc(1e6))).toBe(true);
  });
});

describe('PhiDetector', () => {
  // Heartbeats every second with ±50 ms jitter; φ after `silence` ms since the last one.
  it.each([
    // silence, minStdDev, acceptable pause, phi lower bound, phi upper bound
    [0, 100, 0, 0, 0.5],
    [500, 100, 0, 0, 0.5],
    [1000, 100, 0, 0.2, 0.5], // on time: about even odds that the next one is still coming
    [1200, 100, 0, 1, 3],
    [1500, 100, 0, 5, 10],
    [2000, 100, 0, 20, Infinity],
    [5000, 100, 0, 300, Infinity],
    [1500, 500, 0, 0.5, 1.5], // a wider floor on σ tolerates more
    [2000, 100, 1000, 0, 0.5], // a pause of up to 1 s is acceptable
    [3500, 100, 1000, 20, Infinity],
  ])('after %i ms of silence (minStdDev %i, pause %i): %d ≤ φ ≤ %d', (silence, minStdDev, acceptableHeartbeatPause, lo, hi) => {
    const d = new PhiDetector({ windowSize: 100, minStdDev, acceptableHeartbeatPause });
    const last = feed(d, 1000, 50, 50);
    const phi = d.phi(last + silence);
    expect(phi).toBeGreaterThanOrEqual(lo);
    expect(phi).toBeLessThanOrEqual(hi);
    expect(Number.isFinite(phi)).toBe(true);
  });

  it('φ grows monotonically with silence and crosses the threshold', () => {
    const d = new PhiDetector({ minStdDev: 100 });
    const last = feed(d, 1000, 20, 30);
    let prev = -1;
    let crossed: number | undefined;
    for (let t = last; t <= last + 10_000; t += 100) {
      const phi = d.phi(t);
      expect(phi).toBeGreaterThanOrEqual(prev);
      prev = phi;
      if (crossed === undefined && !d.isAvailable(t, 8)) crossed = t - last;
    }
    expect(crossed).toBeGreaterThan(1000);
    expect(crossed).toBeLessThan(2000);
  });

  it('regular heartbeats keep it available', () => {
    const d = new PhiDetector({ minStdDev: 100 });
    const r = prng(7);
    let t = 0;
    for (let i = 0; i < 500; i++) {
      d.heartbeat(t);
      const next = t + 1000 + (r() * 2 - 1) * 100;
      for (let s = t; s < next; s += 50) expect(d.isAvailable(s, 8)).toBe(true);
      t = next;
    }
    expect(d.samples).toBe(100); // the window
  });

  it('adapts to a new rhythm once the window holds it', () => {
    const d = new PhiDetector({ windowSize: 20, minStdDev: 50 });
    let t = feed(d, 200, 30);
    expect(d.isAvailable(t + 1000, 8)).toBe(false);
    for (let i = 0; i < 20; i++) d.heartbeat((t += 1000));
    expect(d.isAvailable(t + 1000, 8)).toBe(true);
  });

  it('before any heartbeat φ is 0; after one, the first estimate stands in for the mean', () => {
    const d = new PhiDetector({ firstHeartbeatEstimate: 1000, minStdDev: 100 });
    expect(d.phi(12345)).toBe(0);
    d.heartbeat(0);
    expect(d.isAvailable(900, 8)).toBe(true);
    expect(d.isAvailable(5000, 8)).toBe(false);
  });

  it('ignores a heartbeat from the past', () => {
    const d = new PhiDetector();
    d.heartbeat(1000);
    d.heartbeat(500);
    expect(d.samples).toBe(0);
  });

  it('rejects bad options', () => {
    expect(() => new PhiDetector({ windowSize: 0 })).toThrow(RangeError);
    expect(() => new PhiDetector({ minStdDev: 0 })).toThrow(RangeError);
    expect(() => new PhiDetector({ acceptableHeartbeatPause: -1 })).toThrow(RangeError);
  });
});
