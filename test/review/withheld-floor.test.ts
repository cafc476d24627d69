/**
 * Probe (review 32), fixed: the floor an acknowledgement raised passed our version of a key kept pending, so a reopen
 * counted nothing pending while the peer held nothing of our write.
 *
 * The cause was not the withhold: the peer acknowledged our log up to 1 (a frame read after the join had moved big's
 * record to 2) and pending.ts `acked` raised the floor to 1, skipping big because its entry (2) lay past the
 * acknowledgement — but our version in it has counter 1. The floor is compared with our versions' counters
 * (`ownAbove`: v.n > floor), so the stored floor then hid big from the reopened replica's count (and the key's next
 * change would drop it too, without a reopen). pending.ts now keeps the lowest counter of ours of a counted key whose
 * record sits above it (`lows`), and the floor does not pass it.
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
  it('a key kept pending by a withhold, whose record a join moved up, is still pending after a reopen', async () => {
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
