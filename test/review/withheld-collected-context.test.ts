/**
 * A collected delete behind a key its narrow link cannot carry (simulator, withheld family seed 22332).
 *
 * d, a peer of an earlier release (no key parts) behind a narrow link, held b's write of k. While d was away b deleted
 * k, a wrote a big sibling of k concurrent with the delete, and b (which the big sibling cannot reach either) collected
 * its tombstone: k then lived on b as its context alone, and on a as the big sibling under a context that covers b's
 * write. Back, d never heard of it: k's state on a did not fit d's link, and the wire left it out whole — context and
 * all — so b's deleted write stayed readable on d for as long as the big sibling stood (the simulator's check: "a
 * collected delete came back"). A state left out now goes as its context alone, without the entries of its versions'
 * replicas (lib/sync/fit-state.ts): d drops what it superseded and holds nothing of the big sibling, which stays
 * withheld.
 */
import { describe, expect, it } from 'vitest';
import { collectTombstones } from '../../lib/collection.js';
import { ConcordError } from '../../lib/errors.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/* Replicas and links: narrow-links.ts. */
describe('a key whose state a narrow link cannot carry', () => {
  it('still takes its context there: a write a collected delete superseded does not stay readable', async () => {
    const a = await replica();
    const b = await replica(true);
    const d = await replica(true);
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    const toB = connect(a, b, FRAME);
    const toD = connect(a, d, FRAME);
    await (await b.space('s').put('k', 'deleted later')).synced;
    await until(async () => (await d.space('s').get('k'))?.value === 'deleted later', 'd holds b\'s write');
    const read = (await a.space('s').get('k'))!;
    for (const l of toD) l.close();

    // b deletes k; a writes a big sibling concurrent with the delete (its context covers b's write only).
    await (await b.space('s').delete('k')).synced;
    await until(async () => (await a.space('s').get('k')) === undefined, 'the delete reaches a');
    await a.space('s').put('k', 'x'.repeat(30 * 1024), { context: read.context });
    expect((await a.space('s').get('k'))?.versions.map((v) => v.deleted)).toEqual([false, true]);
    // b cannot take the big sibling either: it holds its tombstone alone, and collects it.
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'k left out on b\'s link');
    await new Promise((r) => setTimeout(r, 5));
    expect(await collectTombstones(b.core, 1)).toBe(1);
    await until(async () => (await a.space('s').get('k'))?.versions.length === 1, 'the collection reaches a');
    for (const l of toB) l.close();

    connect(a, d, FRAME);
    await (await a.space('s').put('other', 1)).synced;
    await until(async () => (await d.space('s').get('other'))?.value === 1, 'd caught up');
    expect(await d.space('s').get('k'), 'b\'s deleted write, readable on d').toBeUndefined();
    const rec = await d.core.storage.get('s', 'k');
    expect(rec?.vs ?? [], 'd holds no version of k').toEqual([]);
    // The big sibling stays withheld from d: nothing of it there, a's write of it not counted held by d.
    expect(a.core.acks.isWithheldFrom(d.replicaId, 's', 'k')).toBe(true);
    expect(a.pending).toBe(1);
  });
});
