import { describe, expect, it } from 'vitest';
import { retransmitLimit, suspicionTimeout } from '../../lib/membership/timeouts.js';

describe('suspicionTimeout(mult, n, interval)', () => {
  // mult × max(1, log10 n) × interval: flat below 10 members, then one more `mult × interval` per decade.
  it.each([
    [4, 0, 1000, 4000],
    [4, 1, 1000, 4000],
    [4, 3, 1000, 4000],
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 1000, 12000],
    [4, 10000, 1000, 16000],
    [4, 50, 1000, 6796],
    [3, 100, 100, 600],
    [5, 10, 200, 1000],
  ])('mult %i, n %i, interval %i → %i ms', (mult, n, interval, expected) => {
    expect(suspicionTimeout(mult, n, interval)).toBe(expected);
  });

  it('never shrinks as the cluster grows', () => {
    let prev = 0;
    for (let n = 1; n <= 5000; n++) {
      const t = suspicionTimeout(4, n, 1000);
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
  });
});

describe('retransmitLimit(mult, n)', () => {
  // mult × ceil(log10(n + 1))
  it.each([
    [4, 0, 0],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 1000, 16],
    [3, 500, 9],
  ])('mult %i, n %i → %i transmissions', (mult, n, expected) => {
    expect(retransmitLimit(mult, n)).toBe(expected);
  });
});
