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
import { heldDisk, releaseHeldDisks } from '../support/held-disk.js';
import { until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  releaseHeldDisks();
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

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
