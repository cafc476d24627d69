/**
 * Probe (review 33): a key withheld from one peer and held by another stops counting synced once that other peer's
 * session ends.
 *
 * `isWithheld` (acks.ts) clears a withheld key only while some peer whose link did not leave it out has an
 * acknowledgement on record (`byPeer`); `forgetPeer` drops that record when the peer's session ends. The withhold by
 * the first link stays (by design, until the key changes). So after the peer that holds the key disconnects — a
 * failover, a laptop closing its lid — a `w.synced` asked then parks forever and `w.durability` says 'local', though
 * a peer stored the write and the pending count already cleared it.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/* Replicas and links: narrow-links.ts. */
describe('a withheld key held by a peer that left', () => {
  it('stays synced after the holding peer disconnects', async () => {
    const writer = await replica();
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const old = await replica(true);
    const current = await replica();
    const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    const toOld = connect(writer, old, FRAME);
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    await new Promise((r) => setTimeout(r, 50));
    for (const l of toOld) l.close();

    const toCurrent = connect(writer, current);
    await until(async () => (await current.space('s').get('big')) !== undefined, 'the current peer got big');
    await until(() => writer.pending === 0, 'big cleared by the current peer');
    for (const l of toCurrent) l.close();
    await new Promise((r) => setTimeout(r, 50));

    let synced = false;
    void big.synced.then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 100));
    expect.soft(synced, 'w.synced of big, asked after the current peer left').toBe(true);
    expect.soft(big.durability, 'big.durability').not.toBe('local');
  });
});
