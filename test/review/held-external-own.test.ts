/**
 * Two tabs on one simulated disk (durability lags the commit; test/support/sim-disk.ts). Tab B commits k and o; before
 * tab A reads B's hint, A rewrites k, and that write waits for its fsync. A's read of the log (lib/external.ts) stops
 * before k's durable record (StorageAdapter readLog), so the mark stays below o: "the rest is read at a later hint". But
 * the batch that lifts the hold is A's own, and a tab is never hinted of its own commits: before the fix no later hint
 * came, A never reported B's o (no 'change' for subscribers, and A's pending count lacked a key B's pending counted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openReplica, type Replica } from '../../lib/index.js';
import type { StoredChange } from '../../lib/core.js';
import { SimDisk } from '../support/sim-disk.js';
import { until } from '../sync/support.js';

const HELD = 1_000_000;
const open: Replica[] = [];
let release = () => {};
afterEach(async () => {
  release();
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

/** A disk on real timers whose fsyncs, and whose hints to other tabs, wait while held. */
function heldDisk() {
  let fsyncHeld = false;
  let hintsHeld = false;
  const fsyncs: Array<() => void> = [];
  const hints: Array<() => void> = [];
  const disk = new SimDisk({
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        if (ms === HELD) return void fsyncs.push(fn);
        if (ms === 0 && hintsHeld) return void hints.push(fn);
        return setTimeout(fn, ms);
      },
      clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    },
    fsyncDelay: () => (fsyncHeld ? HELD : 1), // hints go at 0 ms: told apart from fsyncs
  });
  const releaseFsyncs = () => {
    fsyncHeld = false;
    for (const fn of fsyncs.splice(0)) fn();
  };
  const releaseHints = () => {
    hintsHeld = false;
    for (const fn of hints.splice(0)) fn();
  };
  release = () => (releaseHints(), releaseFsyncs());
  return {
    disk,
    holdFsyncs: () => void (fsyncHeld = true),
    holdHints: () => void (hintsHeld = true),
    releaseFsyncs,
    releaseHints,
  };
}

describe('a tab whose read of the log was held back by its own write', () => {
  it('reads on once its write is durable: the other tab\'s commit past the hold is reported', async () => {
    const d = heldDisk();
    const a = await openReplica({ storage: d.disk.instance() });
    open.push(a);
    const b = await openReplica({ storage: d.disk.instance() });
    open.push(b);
    const heard: string[] = [];
    a.core.events.on('change', (c: StoredChange) => void (c.external && heard.push(c.key)));
    d.holdHints();
    await b.space('s').put('k', 'old');
    await b.space('s').put('o', 'other');
    d.holdFsyncs();
    const rewrite = a.space('s').put('k', 'new');
    await until(() => d.disk.pendingBatches > 0, "A's rewrite of k applied");
    d.releaseHints(); // A reads B's commits now: the read stops before k's durable record (k@1)
    await new Promise((r) => setTimeout(r, 50));
    expect(heard, 'held (sanity)').toEqual([]);
    d.releaseFsyncs();
    await rewrite;
    await until(() => heard.includes('o'), "A reported B's o", 1000).catch(() => {});
    expect(heard, "B's o, committed before A's write, is reported to A").toContain('o');
    await until(() => a.pending === 2 && b.pending === 2, 'both tabs count k and o', 1000).catch(() => {});
    expect({ a: a.pending, b: b.pending }).toEqual({ a: 2, b: 2 });
  });
});
