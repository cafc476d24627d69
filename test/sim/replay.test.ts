// The simulation is reproducible: one seed, one run — the same frames at the same virtual times.
import { describe, expect, it } from 'vitest';
import { pendingFeatures } from './pending.js';
import { makeSchedule } from './schedule.js';
import { runSchedule } from './run-schedule.js';

describe('simulated runs replay from their seed', () => {
  it.each([3, 26, 77])('seed %i runs the same twice', async (seed) => {
    const first = await runSchedule(makeSchedule(seed, { disabled: pendingFeatures() }));
    const second = await runSchedule(makeSchedule(seed, { disabled: pendingFeatures() }));
    expect(first.problems).toEqual([]);
    expect(second).toEqual(first);
    expect(first.bytes).toBeGreaterThan(0);
  });

  it('different seeds give different runs', async () => {
    const a = await runSchedule(makeSchedule(5, { disabled: pendingFeatures() }));
    const b = await runSchedule(makeSchedule(6, { disabled: pendingFeatures() }));
    expect(a.digest).not.toBe(b.digest);
  });

  it('the generator covers every topology, relays among them, and a relay schedule passes', async () => {
    const schedules = Array.from({ length: 100 }, (_, i) => makeSchedule(i + 1, { disabled: pendingFeatures() }));
    expect(new Set(schedules.map((s) => s.topology))).toEqual(new Set(['star', 'chain', 'ring', 'mesh', 'hub']));
    const relayed = schedules.find((s) => s.relays.length > 0 && s.nodes.length > 2);
    expect(relayed).toBeDefined();
    const result = await runSchedule(relayed!);
    expect(result.problems).toEqual([]);
    expect(result.bytes).toBeGreaterThan(0);
  });
});
