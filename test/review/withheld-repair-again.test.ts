/**
 * Anti-entropy over a narrow link meets the same difference every run (issue 10, simulator seed withheld 20026): the
 * wide replica holds a key state the link cannot carry, the narrow one lacks it and asks for it each run. Each run sent
 * the state again, the wire left it out again: an empty repair frame, its acknowledgement and a VALUE_TOO_LARGE event
 * per run, for ever — with a few such links under a 1.6 s interval, the simulated network never fell quiet. A state a
 * connection could not carry is now not tried again in a repair frame while it stays the same (wire.ts LEFT OUT).
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { pairTransports, type Replica } from '../../lib/index.js';
import { until } from '../sync/support.js';
import { FRAME, replica } from './narrow-links.js';

const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE').length;

describe('a key state a narrow link cannot carry, under periodic anti-entropy', () => {
  it('is reported and left out once, not once per run; a new state of the key is tried again', async () => {
    const wide = await replica();
    const narrow = await replica(true); // takes no key in parts
    const errors: unknown[] = [];
    wide.on('error', (e) => errors.push(e));
    await wide.space('s').put('big', 'x'.repeat(30 * 1024));
    await wide.space('s').put('small', 1);
    const runs: Record<string, number> = {};
    const count = (r: Replica, name: string) => r.on('antiEntropy', (e) => void (!e.onConnect && (runs[name] = (runs[name] ?? 0) + 1)));
    count(wide, 'wide');
    count(narrow, 'narrow');
    const [tw, tn] = pairTransports({ maxFrameBytes: FRAME });
    const sentBefore = () => tw.stats.frames;
    const links = [wide.connect(tw, { antiEntropyInterval: 30 }), narrow.connect(tn, { antiEntropyInterval: 30 })];
    try {
      await until(async () => (await narrow.space('s').get('small')) !== undefined, 'small crossed');
      await until(() => (runs.wide ?? 0) + (runs.narrow ?? 0) >= 6, 'six periodic runs');
      expect(await narrow.space('s').get('big'), 'big cannot cross').toBeUndefined();
      expect(tooLarge(errors), 'big reported once on this link, not once per run').toBe(1);

      // A repair frame per run would show here too: over six more runs the wide side sends about two frames a run
      // (its turns), not four (with an empty repair frame and the acknowledgement of the narrow side's).
      const from = sentBefore();
      const at = (runs.wide ?? 0) + (runs.narrow ?? 0);
      await until(() => (runs.wide ?? 0) + (runs.narrow ?? 0) >= at + 6, 'six more runs');
      const perRun = (sentBefore() - from) / ((runs.wide ?? 0) + (runs.narrow ?? 0) - at);
      expect(perRun, 'frames the wide side sent per run').toBeLessThan(3.5);

      // The key's state changes (still too large): it is tried, and reported, again.
      await wide.space('s').put('big', 'y'.repeat(30 * 1024));
      await until(() => tooLarge(errors) >= 2, 'the new state reported');
      const after = (runs.wide ?? 0) + (runs.narrow ?? 0);
      await until(() => (runs.wide ?? 0) + (runs.narrow ?? 0) >= after + 4, 'four more runs');
      expect(tooLarge(errors), 'the new state reported once too').toBe(2);
    } finally {
      for (const l of links) l.close();
    }
  });
});
