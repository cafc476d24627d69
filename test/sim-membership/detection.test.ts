import { describe, expect, it } from 'vitest';
import { lanConfig } from '../../lib/membership/config.js';
import { measureDetection } from './sim-scenarios.js';
import { seeds, withSeed } from './seed.js';

const config = lanConfig();
const latency = { min: 1, max: 20 };

describe('a killed member is suspected, declared dead within the suspicion timeout, and everyone learns it', () => {
  for (const n of [10, 100]) {
    for (const loss of [0, 0.05]) {
      it.each(seeds([1, 2, 3]))(`N = ${n}, loss ${loss * 100} %, seed %i`, (seed) =>
        withSeed(seed, () => {
          const r = measureDetection({ seed, n, loss, config, latency, victim: `m${seed % n}` });
          expect(r.firstSuspicionMs).toBeDefined();
          expect(r.suspicionToDeadMs).toBeDefined();
          expect(r.suspicionToDeadMs).toBeLessThanOrEqual(r.timeoutMs);
          expect(r.allDeadMs).toBeDefined();
          if (loss === 0) expect(r.collateralDead).toBe(0);
        }),
      );
    }
  }

  // Time to the first probe of a dead member is about exponential (≈ one prober per period), plus the
  // period that probe takes: median ≈ 1.7 periods, so a sample of a few is noisy; 31 keep it honest.
  it('first suspicion: median within 2 probe periods over 31 failures (N = 100)', () => {
    const times = seeds(Array.from({ length: 31 }, (_, i) => 100 + i)).map((seed) =>
      withSeed(seed, () => measureDetection({ seed, n: 100, loss: 0, config, latency, victim: `m${seed % 100}` }).firstSuspicionMs ?? Infinity),
    );
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] as number;
    expect(median).toBeLessThanOrEqual(2 * config.probeInterval);
  });
});
