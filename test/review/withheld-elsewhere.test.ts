/**
 * Probe (review 32): a withheld key is held by another peer, yet stays pending forever.
 *
 * `withhold` (acks.ts) is per key, not per peer or per session: a frame to a peer of an earlier release (no key parts)
 * leaves a key over that link's frame limit out, and from then on no acknowledgement by anyone counts the key — until its
 * record changes (`release`, on the change event). So once another peer holds the write (a peer of this release, the
 * old one upgraded, …), nothing ever clears it: `replica.pending` stays 1, the status never says 'synced',
 * `whenSynced()` never resolves, and a `w.synced` asked after the acknowledgement parks forever.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/* Replicas and links: narrow-links.ts. */
describe('a key withheld from one peer and held by another', () => {
  it('is synced once a peer that takes key parts acknowledged it (writer moved from an old-release peer with a small frame limit to a current one)', async () => {
    const writer = await replica();
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const old = await replica(true);
    const current = await replica();
    const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    const toOld = connect(writer, old, FRAME);
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    await new Promise((r) => setTimeout(r, 50));
    expect(await old.space('s').get('big')).toBeUndefined();
    for (const l of toOld) l.close();

    connect(writer, current);
    await until(async () => (await current.space('s').get('big')) !== undefined, 'the current peer got big');
    await new Promise((r) => setTimeout(r, 100));
    let synced = false;
    void big.synced.then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 100));
    expect.soft(synced, 'w.synced of big, held by the current peer').toBe(true);
    expect.soft(writer.pending, 'nothing pending: the current peer acknowledged a frame that carried big').toBe(0);
    expect.soft(writer.status).toBe('synced');
  });

  it('is synced on a hub once a client of this release acknowledged it, though an old-release client cannot take it', async () => {
    const hub = await replica();
    const errors: unknown[] = [];
    hub.on('error', (e) => errors.push(e));
    const old = await replica(true);
    const current = await replica();
    connect(hub, old, FRAME);
    connect(hub, current);
    await until(() => hub.status === 'synced' && old.status === 'synced' && current.status === 'synced', 'linked');
    const big = await hub.space('s').put('big', 'x'.repeat(30 * 1024));
    await until(async () => (await current.space('s').get('big')) !== undefined, 'the current client got big');
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report for the old client');
    await new Promise((r) => setTimeout(r, 100));
    let synced = false;
    void big.synced.then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 100));
    expect.soft(synced, 'w.synced of big, held by the current client').toBe(true);
    expect.soft(hub.pending, 'the hub counts big pending though a client holds it').toBe(0);
    expect.soft(hub.status).toBe('synced');
  });
});
