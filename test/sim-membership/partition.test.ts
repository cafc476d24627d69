import { describe, expect, it } from 'vitest';
import { lanConfig } from '../../lib/membership/config.js';
import { SimCluster } from './sim-network.js';
import { measurePartition } from './sim-scenarios.js';
import { suspicionTimeout } from '../../lib/membership/timeouts.js';
import { seeds, withSeed } from './seed.js';

const config = lanConfig();
const latency = { min: 1, max: 20 };

describe('partitions heal: nobody stays dead for good', () => {
  for (const [n, isolated] of [
    [10, 1],
    [10, 5],
    [100, 1],
    [100, 50],
  ] as const) {
    it.each(seeds([1, 2]))(`N = ${n}, ${isolated} cut off past the suspicion timeout, then healed (seed %i)`, (seed) =>
      withSeed(seed, () => {
        // Long enough for a lone member to probe (and bury) everyone on the other side.
        const cutMs = (n + 2 * suspicionTimeout(config.suspicionMult, n, config.probeInterval) / config.probeInterval) * config.probeInterval;
        const r = measurePartition({ seed, n, loss: 0, config, latency, isolated, cutMs, limitMs: 10 * config.pushPullInterval });
        expect(r.restDeclaredIslandDead).toBe(true);
        expect(r.islandDeadViews).toBe(n - isolated);
        expect(r.convergedMs).toBeDefined();
      }),
    );
  }

  it.each(seeds([3]))('N = 10 with 5 % loss converges after heal too (seed %i)', (seed) =>
    withSeed(seed, () => {
      const r = measurePartition({ seed, n: 10, loss: 0.05, config, latency, isolated: 3, cutMs: 60_000, limitMs: 10 * config.pushPullInterval });
      expect(r.convergedMs).toBeDefined();
    }),
  );
});

describe('refutation and rejoin in a cluster', () => {
  it.each(seeds([1, 2, 3]))('a member cut off briefly is suspected, refutes, and is never declared dead (seed %i)', (seed) =>
    withSeed(seed, () => {
      const sim = new SimCluster({ seed, n: 10, config, latency });
      sim.runFor(5_000);
      // Cut m0 off until someone suspects it, then heal well within the suspicion timeout.
      sim.partition([['m0']]);
      const suspected = sim.runUntilTrue(() => sim.ids.some((id) => sim.view(id, 'm0') === 'suspect'), 30_000);
      expect(suspected).toBe(true);
      sim.heal();
      sim.runFor(suspicionTimeout(config.suspicionMult, 10, config.probeInterval) * 3);
      expect(sim.swim('m0').incarnation).toBeGreaterThan(0);
      expect(sim.log.some((r) => r.observer === 'm0' && r.event.type === 'refuted')).toBe(true);
      expect(sim.log.filter((r) => r.event.type === 'dead' && r.event.member.id === 'm0')).toEqual([]);
      expect(sim.converged()).toBe(true);
    }),
  );

  it.each(seeds([1, 2]))('a killed member restarted with empty state rejoins and everyone holds it alive (seed %i)', (seed) =>
    withSeed(seed, () => {
      const sim = new SimCluster({ seed, n: 10, config, latency });
      sim.runFor(5_000);
      sim.kill('m3');
      expect(sim.runUntilTrue(() => sim.ids.every((id) => id === 'm3' || sim.view(id, 'm3') === 'dead'), 60_000)).toBe(true);
      sim.restart('m3', 'm0');
      expect(sim.runUntilTrue(() => sim.converged(), 60_000)).toBe(true);
      expect(sim.swim('m3').incarnation).toBeGreaterThan(0); // it stepped past its tombstone
    }),
  );

  it.each(seeds([1]))('a member that leaves is seen as left by everyone, not dead (seed %i)', (seed) =>
    withSeed(seed, () => {
      const sim = new SimCluster({ seed, n: 100, config, latency });
      sim.runFor(5_000);
      sim.leave('m7');
      expect(sim.runUntilTrue(() => sim.ids.every((id) => id === 'm7' || sim.view(id, 'm7') === 'left'), 30_000)).toBe(true);
      expect(sim.log.filter((r) => r.event.type === 'dead')).toEqual([]);
    }),
  );

  it('the same seed replays the same run, event for event', () => {
    const run = () => {
      const sim = new SimCluster({ seed: 42, n: 20, config, loss: 0.1, latency });
      sim.runFor(20_000);
      sim.kill('m5');
      sim.runFor(30_000);
      return sim.log.map((r) => JSON.stringify(r));
    };
    const a = run();
    expect(a.length).toBeGreaterThan(0);
    expect(run()).toEqual(a);
  });
});
