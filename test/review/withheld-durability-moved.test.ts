/**
 * `w.durability` of a withheld write whose key's record moved (simulator, withheld family seeds 40 and 190).
 *
 * A key left out of a frame is withheld (acks.ts) until its record changes. When a peer's state of the key joins in, the
 * record moves up and the withhold is released; the next frame to each narrow peer leaves the key out again, and the
 * new withhold starts from what the other peers acknowledged so far (`elsewhere`: their acknowledgements hold the
 * key's record below there). Those acknowledgements passed the first write's own seq. `isSynced` (`w.durability`)
 * weighed the withhold at the write's own seq, not at where its key's record is now: it found the key not withheld
 * there, the record under the acknowledgement, and said 'synced' while neither peer held anything of the big write.
 * (`w.synced` weighs the withhold at the record's seq, and stays pending: the two disagreed.)
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/* Replicas and links: narrow-links.ts. */
describe('a withheld write whose key a peer wrote too', () => {
  it("is not 'synced' by its durability while no peer holds it", async () => {
    const writer = await replica();
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const one = await replica(true);
    const two = await replica(true);
    connect(writer, one, FRAME);
    connect(writer, two, FRAME);
    await until(() => writer.status === 'synced', 'linked');
    const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    // Both peers acknowledge the log past big's seq (the frames left big out).
    await (await writer.space('s').put('other', 1)).synced;
    await until(() => writer.core.acks.ackedBy(one.replicaId, 's') > big.seq && writer.core.acks.ackedBy(two.replicaId, 's') > big.seq, 'both acknowledged past big');
    expect(errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE')).toBe(true);
    // A peer writes the key: its state joins in at the writer, the record moves up, the key goes out again (left out).
    await one.space('s').put('big', 'small, concurrent');
    await until(async () => (await writer.space('s').get('big'))?.siblings.length === 2, 'the peer\'s state joined');
    await (await writer.space('s').put('after', 2)).synced; // both acknowledged past the moved record
    await new Promise((r) => setTimeout(r, 50));
    expect((await one.space('s').get('big'))?.siblings).toEqual(['small, concurrent']);
    expect(await two.space('s').get('big')).toBeUndefined();
    let synced = false;
    void big.synced.then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(synced, 'w.synced').toBe(false);
    expect(big.durability, 'w.durability').toBe('local');
    expect(writer.pending).toBeGreaterThan(0);
  });
});
