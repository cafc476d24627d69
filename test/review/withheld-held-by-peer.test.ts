/**
 * A key withheld from every link of the writer, though a peer holds every write of the writer in it (the soak at the
 * announced default, withheld 1736100077: c's record of k1 — its own version beside an earlier release's — no longer
 * crossed its link to relay a, nor went to b below 11; relay a, restored from a copy, held c's version, and in every
 * anti-entropy run sent c its state of k1, covering c's version; c counted k1 pending for good).
 *
 * A link that leaves a key out counts nothing of it held by that peer's acknowledgements (acks.ts `withhold`), so the
 * count waited for a peer whose link carries the record. A peer's state is durable where it comes from: one that
 * holds or covers every version of ours in our record, joined and leaving it unchanged, says the peer holds our writes
 * there (core.ts join, acks.ts `heldElsewhere`).
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { stateOf } from '../../lib/dvv.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

describe('a key withheld from the writer\'s only link, held there anyway', () => {
  it('counts as synced once the peer\'s state shows it holds the writer\'s version', async () => {
    const writer = await replica();
    const peer = await replica(true); // takes no key in parts: a record over the link's frame limit is left out
    const other = await replica();
    const w = await writer.space('s').put('k', 'small');
    let synced = false;
    void w.synced.then(() => (synced = true));
    // The peer holds the writer's version (it came another way: here, joined directly), the writer does not know it.
    await peer.core.join('s', [['k', stateOf((await writer.core.storage.get('s', 'k'))!)]]);
    // A concurrent sibling from another replica, too big for the link: the writer's record of k no longer crosses it.
    await other.space('s').put('k', 'o'.repeat(30 * 1024));
    await writer.core.join('s', [['k', stateOf((await other.core.storage.get('s', 'k'))!)]]);
    expect(writer.pending).toBe(1);
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    connect(writer, peer, FRAME);
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'k left out on the link');
    await until(() => writer.pending === 0 && synced, 'the writer\'s write of k counted held by the peer');
    expect(writer.status).toBe('synced');
    const held = await peer.space('s').get('k');
    expect(held?.siblings ?? [held?.value], 'the peer holds the writer\'s version').toContain('small');
  });

  it('stays pending while the peer\'s state lacks the writer\'s version', async () => {
    const writer = await replica();
    const peer = await replica(true);
    const other = await replica();
    await peer.space('s').put('k', 'theirs'); // the peer holds a version of k, not the writer's
    await writer.space('s').put('k', 'small');
    await other.space('s').put('k', 'o'.repeat(30 * 1024));
    await writer.core.join('s', [['k', stateOf((await other.core.storage.get('s', 'k'))!)]]);
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    connect(writer, peer, FRAME);
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'k left out on the link');
    await new Promise((r) => setTimeout(r, 300));
    expect(await peer.space('s').get('k').then((v) => v?.siblings ?? [v?.value]), 'the peer lacks the writer\'s version').not.toContain('small');
    expect(writer.pending, 'no peer holds the writer\'s write').toBe(1);
  });
});
