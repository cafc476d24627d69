// The relink family (relink-faults.ts) does at run time what its schedules say: links closed by the application are
// connected again, and spare edges carry second links and moved clients — and such runs pass every check.
import { describe, expect, it } from 'vitest';
import { makeSchedule } from './schedule.js';
import { runSchedule } from './run-schedule.js';

describe('the relink family at run time', () => {
  it('closed links connect again, and second links and moves run over their spare edges', async () => {
    const seeds = Array.from({ length: 100 }, (_, i) => i + 1).map((seed) => makeSchedule(seed, { family: 'relink' }));
    const has = (kind: string) => (s: (typeof seeds)[number]) => s.faults.some((f) => f.what.kind === kind);
    const move = seeds.find(has('move'));
    const twin = seeds.find((s) => has('twin')(s) && s !== move);
    const withSpares = [move!, twin!];
    expect(move && twin).toBeTruthy();
    for (const s of withSpares) {
      let spareConnections = 0;
      let relinks = { closed: 0, linked: 0 };
      let unlinkedAtEnd = 0;
      const r = await runSchedule(s, {
        inspect: (cluster) => {
          for (const name of cluster.names) for (const t of cluster.sparesOf(name)) spareConnections += t.stats.connections;
          relinks = { ...cluster.relinks };
          for (const n of cluster.nodes.values()) unlinkedAtEnd += n.unlinked.size;
        },
      });
      expect(r.problems, `relink ${s.seed}`).toEqual([]);
      expect(spareConnections, `relink ${s.seed}`).toBeGreaterThan(0);
      expect(relinks.closed, `relink ${s.seed}`).toBeGreaterThan(0);
      expect(relinks.linked, `relink ${s.seed}`).toBeGreaterThan(0);
      expect(unlinkedAtEnd).toBe(0);
    }
  }, 300_000);
});
