/**
 * A withhold made before its key's change was heard (issue 10, simulator seed withheld 42012, jittered). A frame reads
 * the log once a record is durable, which can be before the transaction that wrote it resolves and its change reaches
 * pending.ts. A link that left the key out then found it not counted yet, so pending.ts stored no withhold: the link held
 * no frame back, the peer stored a cursor past the key, and after a restart (clean or not) the peer's resumed cursor
 * cleared the key — `replica.pending` 0 while no other replica held the write. The withhold now counts the newest record
 * applied here, heard or not (pending.ts `entryOf`), and its store starts at the withhold, so the link holds the frame
 * that left the key out back until it is durable (as withheld-crash.test.ts checks for a key counted already).
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { openReplica, pairTransports } from '../../lib/index.js';
import { until } from '../sync/support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import type { VolatileStorage } from '../support/volatile-storage.js';
import { crashWithheld, FRAME, holding, replica, restartWithheld, track, withholdDisk } from './narrow-links.js';

/**
 * A writer whose put of a 30 KiB `big` is durable but not resolved (its fsync returned, the process not told yet)
 * while a narrow link to an old peer is made: the link's catch-up reads big from the log and leaves it out. Then the
 * put resolves. `onWithholdStore` is called at each store of the withheld keys (it may hold the disk's durability back).
 */
async function leftOutUnheard(onWithholdStore: (disk: VolatileStorage) => void) {
  const disk = holding(withholdDisk(onWithholdStore));
  const writer = await openReplica({ storage: disk, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  const s = writer.space('s');
  const errors: unknown[] = [];
  writer.on('error', (e) => errors.push(e));
  const old = await replica(true); // takes no key in parts: big cannot cross the narrow link

  const { release, durable } = disk.holdNext();
  const put = s.put('big', 'x'.repeat(30 * 1024));
  await until(durable, 'big durable');
  expect(writer.pending, 'its change not heard yet').toBe(0);

  const [tw, to] = pairTransports({ maxFrameBytes: FRAME });
  track(old.connect(to, { antiEntropyInterval: 0, backoff: { base: 10, max: 50 } }));
  const link = writer.connect(tw, { antiEntropyInterval: 0 });
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
  release();
  await put;
  return { disk, writer, old, tw, link };
}

describe('a withheld key whose change was not heard yet', () => {
  it('stays pending after a restart when the link left it out before the write resolved', async () => {
    const { disk, writer, old, tw, link } = await leftOutUnheard(() => {});
    await until(() => old.status === 'synced', 'the peer caught up');
    await new Promise((r) => setTimeout(r, 100)); // the peer's acknowledgement past big has come by now
    expect(writer.pending, 'big pending while linked').toBe(1);

    // Power loss with everything durable (a clean close lost the same: the withhold was never stored).
    const after = await disk.crashed();
    link.close();
    await writer.close();
    const again = await restartWithheld(after, tw, old);
    expect(again.status).not.toBe('synced');
  });

  it('stays pending when a crash took the store of that withhold', async () => {
    // The store of the withhold, and every transaction after it, never gets durable before the crash: the frame that
    // left big out must not have gone (the peer would store a cursor past big on it).
    const { disk, writer, old, tw, link } = await leftOutUnheard((d) => (d.autoFlush = false));
    await until(() => !disk.autoFlush, 'the withhold being stored');
    await new Promise((r) => setTimeout(r, 100)); // a frame past big would be acknowledged by now
    expect(writer.pending).toBe(1);

    await crashWithheld(disk, writer, link, tw, old);
  });
});
