/**
 * KNOWN, not fixed yet (it.fails): the closing note of the stop that added it says what the fix needs.
 * Probe (review 32): the floor an acknowledgement raises passes the own version of a key it kept pending.
 *
 * pending.ts `acked` keeps a withheld key (or one whose newer record waits for its fsync) and raises the floor to
 * `min(upTo, kept - 1)`, `kept` being the lowest kept key's *record seq*. But the floor is compared with our versions'
 * counters (`ownAbove`: v.n > floor), and a key's record can sit above its own version's counter: a join of a peer's
 * concurrent write moves the record up (a new seq) keeping our version at its old counter. The open's scan minds this
 * (`minOwn = min(own.min, rec.seq)`); `acked` does not. The floor, stored at close, then passes our version: the reopened
 * replica counts nothing pending and says 'synced' while the peer holds nothing of our write.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { until } from '../sync/support.js';

const FRAME = 16 * 1024;
const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

describe('the floor past a withheld key', () => {
  it.fails('a key kept pending by a withhold, whose record a join moved up, is still pending after a reopen', async () => {
    const factory = new IDBFactory();
    const name = `floor-${Math.random().toString(36).slice(2)}`;
    const writer = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }), maxValueBytes: 64 * 1024 });
    writer.space('s');
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const old = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    old.core.speaks = [5, 6, 7, 8, 9]; // takes no key in parts
    old.space('s');
    open.push(old);
    // Our write (own counter 1) and the peer's concurrent one: the join moves big's record up, our version stays at 1.
    await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    await old.space('s').put('big', 'theirs');
    const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
    links.push(writer.connect(ta, { antiEntropyInterval: 0 }), old.connect(tb, { antiEntropyInterval: 0 }));
    await until(async () => (await writer.space('s').get('big'))?.siblings.length === 2, "the writer joined the peer's write");
    const moved = (await writer.core.storage.get('s', 'big'))!;
    expect(moved.seq, 'the join moved big up').toBeGreaterThan(moved.vs.find((v) => v.r === writer.replicaId)!.n);
    await until(() => writer.core.acks.ackedUpTo('s') >= moved.seq, 'the peer acknowledged the log past big');
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    await new Promise((r) => setTimeout(r, 100));
    expect((await old.space('s').get('big'))?.siblings, 'the peer holds its own write of big alone').toEqual(['theirs']);
    expect(writer.pending, 'big kept pending while linked').toBe(1);
    expect(writer.status).not.toBe('synced');
    for (const l of links.splice(0)) l.close();
    await writer.close();
    const again = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory }), maxValueBytes: 64 * 1024 });
    open.push(again);
    expect(again.pending, 'big pending after the reopen (the stored floor passed our version of it)').toBe(1);
  });
});
