import { describe, expect, it } from 'vitest';
import { lanConfig } from '../../lib/membership/config.js';
import { measureHealthy } from './sim-scenarios.js';
import { seeds, withSeed } from './seed.js';

const config = lanConfig();
const latency = { min: 1, max: 20 };
const TEN_MINUTES = 10 * 60_000;

describe('a healthy cluster: no false declarations', () => {
  for (const n of [10, 100]) {
    it.each(seeds([1]))(`N = ${n}, 0 % loss, 10 simulated minutes: no suspicion, no dead verdict (seed %i)`, (seed) =>
      withSeed(seed, () => {
        const r = measureHealthy({ seed, n, loss: 0, config, latency, durationMs: TEN_MINUTES });
        expect(r.rounds).toBe(600);
        expect(r.falseSuspicions).toBe(0);
        expect(r.falseDead).toBe(0);
      }),
    );
  }

  it.each(seeds([1, 2]))('N = 100, 10 % loss: suspicions happen and are refuted before anyone is declared dead (seed %i)', (seed) =>
    withSeed(seed, () => {
      const r = measureHealthy({ seed, n: 100, loss: 0.1, config, latency, durationMs: 2 * 60_000 });
      expect(r.falseSuspicions).toBeGreaterThan(0);
      expect(r.refutations).toBeGreaterThan(0);
      expect(r.falseDead).toBe(0);
    }),
  );
});
