/**
 * One replica on a simulated disk whose durability lags the commit (test/support/sim-disk.ts). Its read of the log
 * stops before k's durable record while its rewrite of k waits for its fsync, so the storage hints it once that write
 * is durable (StorageAdapter onExternalChange: "also when the write that lifts it is that instance's own"). By the time
 * the hint is read, the replica has written x, whose fsync waits. lib/external.ts took the log's top from the storage
 * (x's seq, applied, not durable) for "every transaction up to here is durable": the index built for a new peer's
 * anti-entropy then counted x durable and its repair sent x before x was durable (crash 3232 with storage jitter: the
 * relay a sent k2 to f so; DESIGN: a dot leaves its replica only once it is durable there).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { heldDisk, releaseHeldDisks } from '../support/held-disk.js';
import { durableWaits, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  releaseHeldDisks();
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

describe('a hint of a durable write read while a later write waits for its fsync', () => {
  it('does not make the later write durable for what leaves the replica', async () => {
    const d = heldDisk();
    const a = await openReplica({ storage: d.disk.instance() });
    open.push(a);
    await a.space('s').put('k', 'old');
    await a.space('s').put('o', 'other');
    d.holdFsyncs();
    const rewrite = a.space('s').put('k', 'new');
    await until(() => d.disk.pendingBatches > 0, "a's rewrite of k applied");
    // A read of the log stops before k's durable record (o lies past it): the storage will hint a once the hold lifts.
    expect(await a.core.storage.readLog('s', 0, 10)).toEqual([]);
    d.holdHints();
    d.releaseFsyncs();
    await rewrite;
    d.holdFsyncs();
    const later = a.space('s').put('x', 'not durable yet');
    await until(() => d.disk.pendingBatches > 0, "a's write of x applied");
    d.releaseHints(); // a reads the log on: nothing past k's rewrite is durable
    await until(() => a.core.durableSeq >= 3, 'the hint read');
    await new Promise((r) => setTimeout(r, 20));
    // What the replica takes for durable (what its index, hellos and repair frames may offer) stops before x.
    expect(a.core.durableSeq, 'x (seq 4) is not durable').toBe(3);

    // A new peer, with periodic anti-entropy: a's index is built now, from what a then takes for durable. b gets k and o
    // (the log stream, then the rounds), and x only once it is durable.
    const b = await openReplica({ storage: memoryStorage() });
    open.push(b);
    b.space('s');
    let runs = 0;
    a.on('antiEntropy', () => runs++);
    b.on('antiEntropy', () => runs++);
    const waits = durableWaits(a); // a round that left x out waits for it to be durable (lib/sync/left-out.ts)
    const [ta, tb] = pairTransports();
    a.connect(ta, { antiEntropyInterval: 20 });
    b.connect(tb, { antiEntropyInterval: 20 });
    await until(async () => (await b.space('s').get('k'))?.value === 'new', 'k reaches b');
    // Two rounds (with x taken for durable, a's hello announced a log top it could not send, and none ran), or x at b.
    await until(async () => runs >= 2 || waits() || (await b.space('s').get('x')) !== undefined, 'anti-entropy rounds ran (or wait for x)');
    expect(await b.space('s').get('x'), 'x left a before it was durable').toBeUndefined();
    d.releaseFsyncs();
    await later;
    await until(async () => (await b.space('s').get('x'))?.value === 'not durable yet', 'x reaches b once durable');
  });
});
