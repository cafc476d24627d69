/**
 * Soak seed mixed 1734003284: a withhold lost when another instance on the same storage takes over the links.
 *
 * Two instances (tabs) share one storage with no message port between them (the manual `leadership()` mode the
 * simulator uses): only the one holding the links hears peers. Instance B held the links; its link to a peer of an
 * earlier release left A's big write out (the peer takes no key in parts) and the peer's cursor passed it. B stored that
 * withhold (pending.ts, meta 'withheld'), but A had read the stored withholds only at its open. B closed, A took the
 * links, and the peer's resumed hello cursor counted in A as an acknowledgement of the big write: `w.synced` resolved and
 * nothing was pending, while the peer held nothing of it. Now a resumed cursor counts only after the instance read the
 * withholds stored by others (acks.ts `storedWithholds`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { SimDisk } from '../support/sim-disk.js';
import { until } from '../sync/support.js';

const FRAME = 16 * 1024;
const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

function connect(a: Replica, b: Replica): Link[] {
  const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
  const pair = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  links.push(...pair);
  return pair;
}

describe('a withheld key when another instance on the storage takes the links', () => {
  it('stays pending there: the resumed cursor of the peer that could not take it does not count it', async () => {
    const disk = new SimDisk({ timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) } });
    const writer = await openReplica({ storage: disk.instance(), maxValueBytes: 64 * 1024 });
    const holder = await openReplica({ storage: disk.instance(), maxValueBytes: 64 * 1024 });
    open.push(writer, holder);
    writer.space('s');
    holder.space('s');
    const errors: unknown[] = [];
    holder.on('error', (e) => errors.push(e));
    const old = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    old.core.speaks = [5, 6, 7, 8, 9]; // an earlier release: takes no key in parts
    old.space('s');
    open.push(old);

    const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    let synced = false;
    void big.synced.then(() => (synced = true));
    await writer.space('s').put('small', 1);
    await until(() => holder.pending === 2, 'the holder heard both writes');
    const first = connect(holder, old);
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    await until(async () => (await old.space('s').get('small')) !== undefined, 'the peer got small');
    await until(() => holder.pending === 1, 'the holder keeps big pending');
    for (const l of first) l.close();
    await holder.close();

    connect(writer, old); // the writer takes the links: the peer resumes from its cursor, past big
    await until(() => old.status === 'synced', 'linked again');
    await new Promise((r) => setTimeout(r, 200));
    expect(await old.space('s').get('big'), 'the peer still lacks big').toBeUndefined();
    expect.soft(synced, "big's w.synced resolved while the peer holds nothing of it").toBe(false);
    expect.soft(writer.pending, 'big still pending').toBeGreaterThanOrEqual(1);
    expect.soft(writer.status).not.toBe('synced');
  });
});
