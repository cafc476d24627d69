// The simulation is reproducible: one seed, one run — the same frames at the same virtual times.
import { describe, expect, it } from 'vitest';
import { makeSchedule } from './schedule.js';
import { runSchedule } from './run-schedule.js';
import { MsgType } from '../../lib/sync/messages.js';

describe('simulated runs replay from their seed', () => {
  it.each([3, 26, 77])('seed %i runs the same twice', async (seed) => {
    const first = await runSchedule(makeSchedule(seed));
    const second = await runSchedule(makeSchedule(seed));
    expect(first.problems).toEqual([]);
    expect(second).toEqual(first);
    expect(first.bytes).toBeGreaterThan(0);
  });

  it('different seeds give different runs', async () => {
    const a = await runSchedule(makeSchedule(5));
    const b = await runSchedule(makeSchedule(6));
    expect(a.digest).not.toBe(b.digest);
  });

  it('the generator covers every topology, relays among them, and a relay schedule passes', async () => {
    const schedules = Array.from({ length: 100 }, (_, i) => makeSchedule(i + 1));
    expect(new Set(schedules.map((s) => s.topology))).toEqual(new Set(['star', 'chain', 'ring', 'mesh']));
    const relayed = schedules.find((s) => s.relay !== undefined && s.nodes.length > 2);
    expect(relayed).toBeDefined();
    const result = await runSchedule(relayed!);
    expect(result.problems).toEqual([]);
    expect(result.bytes).toBeGreaterThan(0);
  });
});

describe('document edits in the schedules', () => {
  it('half the schedules edit a document, and their runs carry deltas: LIVE frames and, under faults, NEED', async () => {
    const schedules = Array.from({ length: 40 }, (_, i) => makeSchedule(i + 1)).filter((s) => s.edits.length > 0);
    expect(schedules.length).toBeGreaterThan(10);
    const types: Record<number, number> = {};
    for (const s of schedules) {
      const r = await runSchedule(s);
      expect(r.problems, `seed ${s.seed}`).toEqual([]);
      for (const [t, n] of Object.entries(r.frameTypes)) types[Number(t)] = (types[Number(t)] ?? 0) + n;
    }
    expect(types[MsgType.Live] ?? 0).toBeGreaterThan(0);
    expect(types[MsgType.Need] ?? 0).toBeGreaterThan(0);
  });
});
