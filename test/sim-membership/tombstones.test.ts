/**
 * A member dead for good stays dead: its tombstone, reaped by one member while another still holds it, must not bring it
 * back. A push-pull carries every record its sender holds, tombstones included, and a dead verdict in a push-pull is
 * taken as suspicion (a member back from a partition holds everyone dead and must not spread that): about a member the
 * receiver no longer knew, that made a live suspect of the dead member — `joined`, probed, declared dead again with a
 * fresh tombstone, which the next push-pull to a member that had just reaped its own brought back in turn. With messages
 * lost and late, the tombstones of the members expire at different times, and the dead member flapped for good (a relay
 * opened a link to it and told its clients of it at each turn).
 */
import { describe, expect, it } from 'vitest';
import { localConfig } from '../../lib/membership/config.js';
import { SimCluster } from './sim-network.js';
import { seeds, withSeed } from './seed.js';

// Short tombstones and frequent push-pulls: many reaps in a short virtual run.
const config = localConfig({ tombstoneRetention: 10_000, pushPullInterval: 1_000 });

describe('tombstones', () => {
  it.each(seeds([2, 3, 5, 6, 7, 8]))('a killed member, once everyone declared it dead, never joins again (seed %i)', (seed) =>
    withSeed(seed, () => {
      const sim = new SimCluster({ seed, n: 5, config, loss: 0.1, latency: { min: 1, max: 300 } });
      sim.runFor(2_000);
      sim.kill('m0');
      expect(sim.runUntilTrue(() => sim.ids.every((id) => id === 'm0' || sim.view(id, 'm0') === 'dead'), 60_000), 'everyone declares m0 dead').toBe(true);
      const from = sim.log.length;
      // Twelve tombstone lifetimes.
      sim.runFor(120_000);
      const back = sim.log.slice(from).filter((r) => r.event.type === 'joined' && r.event.member.id === 'm0');
      expect(back.map((r) => `${r.observer} at ${r.at}`), 'm0 joined again after everyone held it dead').toEqual([]);
      expect(sim.ids.filter((id) => id !== 'm0' && (sim.view(id, 'm0') === 'alive' || sim.view(id, 'm0') === 'suspect'))).toEqual([]);
    }),
  );
});
