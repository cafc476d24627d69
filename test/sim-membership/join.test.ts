import { describe, expect, it } from 'vitest';
import { lanConfig } from '../../lib/membership/config.js';
import { measureJoin } from './sim-scenarios.js';
import { seeds, withSeed } from './seed.js';

const config = lanConfig();
const latency = { min: 1, max: 20 };

describe('a join reaches every member within log2(N) + 3 rounds', () => {
  for (const n of [10, 100]) {
    for (const loss of [0, 0.05, 0.1]) {
      it.each(seeds([1, 2, 3]))(`N = ${n}, loss ${loss * 100} %, seed %i`, (seed) =>
        withSeed(seed, () => {
          const r = measureJoin({ seed, n, loss, config, latency });
          expect(r.reachedAll).toBe(true);
          expect(r.rounds).toBeLessThanOrEqual(Math.log2(n) + 3);
        }),
      );
    }
  }
});
