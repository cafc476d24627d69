/**
 * A key changed twice in one tick, big then small (simulator, withheld family seed 1289).
 *
 * The live fast path (lib/sync/outgoing.ts) gathers the changes of a tick into one frame. A key written big and then
 * small again in the same tick went in it twice: its big state (superseded already) and its small one. The frame
 * outgrew the link's limit and was split; the big state alone could not go, was reported (VALUE_TOO_LARGE) and the
 * key withheld from the peer — after the small state's change had released it. The small state went and the peer
 * held it, but the withhold stayed until the key's next change: its writes counted pending for good, the status never
 * said 'synced'. A tick's live frame now carries each key once, at its newest state (as the log holds it).
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/* Replicas and links: narrow-links.ts. */
describe('a key written big and small again in one tick', () => {
  it('goes at its small state, is not withheld, and syncs', async () => {
    const writer = await replica();
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const peer = await replica(true);
    connect(writer, peer, FRAME);
    await until(() => writer.status === 'synced', 'linked');
    const s = writer.space('s');
    const [big, small] = await Promise.all([s.put('k', 'x'.repeat(30 * 1024)), s.put('k', 'small')]);
    expect(small.seq).toBeGreaterThan(big.seq);
    await until(async () => (await peer.space('s').get('k'))?.value === 'small', 'the small state reaches the peer');
    await until(() => writer.pending === 0 && writer.status === 'synced', 'nothing pending');
    expect(writer.core.acks.isWithheldFrom(peer.replicaId, 's', 'k')).toBe(false);
    expect(errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE')).toEqual([]);
  });
});
