/**
 * Tab B opens on a simulated disk (durability lags the commit; test/support/sim-disk.ts) while tab A rewrites k. B's open
 * counts the pending writes by reading the log after the stored floor (lib/pending.ts scan), and takes a short page for
 * the log's end. The rewrite, applied after B's open read the log's top and before its scan, holds the read before k's
 * durable record (StorageAdapter readLog): the scan stopped there and never read o, durable past it; nothing at or
 * below the top at B's open is reported as an external change later, so B never counted o (A counted k and o).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openReplica, type Replica } from '../../lib/index.js';
import { heldDisk, releaseHeldDisks } from '../support/held-disk.js';
import { until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  releaseHeldDisks();
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

describe("a tab's open count of pending writes while another tab's rewrite waits for its fsync", () => {
  it('reads the log past the held record once it is durable: every pending key is counted', async () => {
    const d = heldDisk();
    const a = await openReplica({ storage: d.disk.instance() });
    open.push(a);
    await a.space('s').put('k', 'old');
    await a.space('s').put('o', 'other');
    const storage = d.disk.instance();
    const readLog = storage.readLog.bind(storage);
    let rewrite: Promise<unknown> | undefined;
    let reads = 0;
    storage.readLog = async (space, after, limit) => {
      if (reads++ === 0) {
        // B's first read of the log (its pending scan): A's rewrite of k is applied just before it, not durable yet
        d.holdFsyncs();
        rewrite = a.space('s').put('k', 'new');
        await until(() => d.disk.pendingBatches > 0, "A's rewrite of k applied");
      }
      return readLog(space, after, limit);
    };
    const opening = openReplica({ storage });
    await until(() => rewrite !== undefined, "B's scan began", 2000);
    await new Promise((r) => setTimeout(r, 50));
    d.releaseFsyncs();
    await rewrite;
    const b = await opening;
    open.push(b);
    await until(() => a.pending === 2 && b.pending === 2, 'both tabs count k and o', 1000).catch(() => {});
    expect({ a: a.pending, b: b.pending }).toEqual({ a: 2, b: 2 });
  });

  // The scan once stopped when a read after its wait added nothing: a rewrite applied between the wait and that read
  // (of another key whose durable record lies below the open's top) held the read again, and the keys past it were
  // lost as before. It now reads on to the space's own top at or below the open's (pending.ts spaceTop).
  it('a second rewrite, applied between the wait and the read after it, no longer hides the keys past it', async () => {
    const d = heldDisk();
    const a = await openReplica({ storage: d.disk.instance() });
    open.push(a);
    await a.space('s').put('k', 'old');
    await a.space('s').put('j', 'old');
    await a.space('s').put('o', 'other');
    const storage = d.disk.instance();
    const readLog = storage.readLog.bind(storage);
    const rewrites: Array<Promise<unknown>> = [];
    let reads = 0;
    storage.readLog = async (space, after, limit) => {
      const n = reads++;
      if (n === 0 || n === 1) {
        // the scan's first read, and its read after the wait: a rewrite of k, then of j, applied just before each
        d.holdFsyncs();
        rewrites.push(a.space('s').put(n === 0 ? 'k' : 'j', 'new'));
        await until(() => d.disk.pendingBatches > 0, 'the rewrite applied');
        if (n === 0) setTimeout(() => d.releaseFsyncs(), 50);
      }
      return readLog(space, after, limit);
    };
    const opening = openReplica({ storage });
    await until(() => rewrites.length === 2, "B's read after the wait", 2000);
    await new Promise((r) => setTimeout(r, 50));
    d.releaseFsyncs();
    await Promise.all(rewrites);
    const b = await opening;
    open.push(b);
    await until(() => a.pending === 3 && b.pending === 3, 'both tabs count k, j and o', 1000).catch(() => {});
    expect({ a: a.pending, b: b.pending }).toEqual({ a: 3, b: 3 });
  });
});
