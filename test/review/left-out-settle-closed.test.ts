/**
 * disk-full 1743300025 (test/sim, found by the disk-full family): an anti-entropy run waits before its next turn for a
 * record it left out to be durable (repair.ts settle, left-out.ts) and the replica closes meanwhile. core.whenDurable
 * answers at once once the core is closed, the key is still left out of the tree (no record became durable), and each
 * round of settle's loop left it out again (sendStates reads the index, which names it) — a loop of microtasks only,
 * which held the event loop for good: the close (waiting for the storage, which waits for its fsync) never finished, nor
 * did anything else in the process. The loop now ends once the run is over or its session closed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { durableWaits, until } from '../sync/support.js';
import { VirtualClock } from '../sim/clock.js';
import { SimDisk, type SimDiskOptions } from '../support/sim-disk.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

describe('a run waiting for a left-out record when its replica closes', () => {
  it('ends: the close finishes, and the wait does not spin', async () => {
    // Durable at once until the fsyncs start to wait on a clock nothing steps (the close, as file storage's, waits for
    // what was applied to be durable: the storage stays open while the run waits).
    const clock = new VirtualClock();
    const options: SimDiskOptions = { timers: clock };
    const disk = new SimDisk(options).instance();
    const a: Replica = await openReplica({ storage: disk });
    const b = await openReplica({ storage: memoryStorage() });
    undo.push(() => b.close());
    for (let i = 0; i < 20; i++) await a.space('s').put(`k${i}`, i);
    b.space('s');
    const [ta, tb] = pairTransports();
    const links: Link[] = [a.connect(ta, { antiEntropyInterval: 20 }), b.connect(tb, { antiEntropyInterval: 20 })];
    undo.push(async () => links.forEach((l) => l.close()));
    await until(async () => (await b.space('s').get('k19')) !== undefined && a.status === 'synced' && b.status === 'synced', 'met and synced');
    const waits = durableWaits(a, 's');
    options.fsyncDelay = () => 1;
    void a.space('s').put('k3', 'new').catch(() => {}); // applied, not durable until the clock steps
    // The space's tree is dropped (as an idle index is, hub.ts evict): the next run builds it again and leaves k3 out
    // (hub.ts `unsettled`), and waits for its record before its next turn.
    const hub = (a as unknown as { hub: { indexes: Map<string, unknown>; built: Map<string, unknown> } }).hub;
    hub.indexes.delete('s');
    hub.built.delete('s');
    await until(() => waits(), 'a periodic run waits for a left-out record to be durable');
    // Reads of the storage from here on; past a bound they fail (else a spinning loop would hold this test for good).
    let reads = 0;
    const get = disk.get.bind(disk);
    disk.get = (space, key) => (++reads > 5000 ? Promise.reject(new Error('still reading: the wait spins')) : get(space, key));
    const closing = a.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(reads, 'storage reads after the close began').toBeLessThan(50);
    await clock.advance(1);
    await closing;
  });
});
