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
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { SimDisk } from '../support/sim-disk.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { until } from '../sync/support.js';
import { connect, FRAME, replica } from './narrow-links.js';

/**
 * The writer's instance writes big (over the old peer's frame limit) and small; the holder's instance, on the same
 * storage, links to the old peer, which takes small and acknowledges past big; the holder closes and the writer links
 * to the peer again: it resumes from its cursor, past big. `failRead`: the writer's reads of the stored withholds fail
 * from then on. Whether big's w.synced resolved.
 */
async function takeOver(failRead = false) {
  const disk = new SimDisk({ timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) } });
  const storage = disk.instance();
  const writer = await replica(false, SPEAKS_10, storage);
  const holder = await replica(false, SPEAKS_10, disk.instance());
  const errors: unknown[] = [];
  holder.on('error', (e) => errors.push(e));
  const old = await replica(true);

  const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
  let synced = false;
  void big.synced.then(() => (synced = true));
  await writer.space('s').put('small', 1);
  await until(() => holder.pending === 2, 'the holder heard both writes');
  const first = connect(holder, old, FRAME);
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
  await until(async () => (await old.space('s').get('small')) !== undefined, 'the peer got small');
  await until(() => holder.pending === 1, 'the holder keeps big pending');
  for (const l of first) l.close();
  await holder.close();

  if (failRead) {
    const getMeta = storage.getMeta.bind(storage);
    storage.getMeta = (<T>(key: string) => (key === 'withheld' ? Promise.reject(new Error('read failed')) : getMeta<T>(key))) as typeof storage.getMeta;
  }
  connect(writer, old, FRAME); // the writer takes the links: the peer resumes from its cursor, past big
  await until(() => old.status === 'synced', 'linked again');
  await new Promise((r) => setTimeout(r, 200));
  expect(await old.space('s').get('big'), 'the peer still lacks big').toBeUndefined();
  return { writer, synced: () => synced };
}

describe('a withheld key when another instance on the storage takes the links', () => {
  it('stays pending there: the resumed cursor of the peer that could not take it does not count it', async () => {
    const { writer, synced } = await takeOver();
    expect.soft(synced(), "big's w.synced resolved while the peer holds nothing of it").toBe(false);
    expect.soft(writer.pending, 'big still pending').toBeGreaterThanOrEqual(1);
    expect.soft(writer.status).not.toBe('synced');
  });

  it('stays pending when the stored withholds cannot be read: the resumed cursor counts nothing then', async () => {
    const { writer, synced } = await takeOver(true);
    expect.soft(synced(), "big's w.synced resolved while the peer holds nothing of it").toBe(false);
    expect.soft(writer.pending, 'big still pending').toBeGreaterThanOrEqual(1);
  });
});
