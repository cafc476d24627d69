/**
 * lib/sync/fit-state.ts withOwn: a context alone going to the writer of versions in the state carries that writer's
 * whole entry, so it must carry every version of the writer the state holds, those the link knows the peer holds too.
 * A writer of an earlier release (below 11) holds two siblings of its own (its second write made with an older read's
 * context); the relay's state of the key names an epoch (a tagged write beside them), so it goes to the writer as its
 * context alone. The relay learned of the second sibling by another path first (the writer's own frame is slow), so its
 * link knew only that the writer held the first: sent the second alone under the whole entry, the writer dropped its own
 * first write as superseded — no write had superseded it — and its state then dropped it everywhere.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/cluster.js';

const siblings = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

describe('a writer below 11 sent the context alone of a state holding two siblings of its own', () => {
  it('keeps both, though the link knew of only one', async () => {
    let slow = false;
    const c = await Cluster.create({
      seed: 11,
      nodes: ['hub', 'w', 'e'],
      edges: [['hub', 'w'], ['hub', 'e'], ['w', 'e']],
      relays: ['hub', 'e'],
      speaks: { w: [5, 6, 7, 8, 9, 10] },
      link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
      // While `slow`, what w sends the relay (and the relay w) takes far longer than the path through e.
      net: { latency: { min: 1, max: 5 }, edgeLatency: (a, b) => (slow && [a, b].includes('hub') && [a, b].includes('w') ? { min: 2_000, max: 2_000 } : undefined) },
    });
    const on = (n: string) => c.node(n).r.space('s');
    await on('w').put('k0', 'before k');
    await c.settle();
    // A context that covers none of k's versions.
    const k0 = (await on('w').get('k0'))!.context;
    await on('w').put('k', 'one');
    await c.settle();
    // e writes beside w's first write under a dot naming its epoch: k no longer goes to w whole.
    await on('e').put('k', 'tagged', { context: k0 });
    await c.settle();
    expect(await siblings(c, 'hub', 'k')).toEqual(['one', 'tagged']);
    expect(await siblings(c, 'w', 'k')).toEqual(['one']);
    const id = c.node('w').r.replicaId;

    // w's second write of k stands beside its first; it reaches the relay through e before w's own frame does.
    slow = true;
    await on('w').put('k', 'two', { context: k0 });
    await c.clock.advance(500);
    expect(await siblings(c, 'hub', 'k'), 'the relay has the second write through e').toEqual(['one', 'tagged', 'two']);
    slow = false;
    await c.settle();

    // No write superseded w's first: every replica keeps it, and w had no restore to notice.
    for (const n of ['hub', 'e']) expect(await siblings(c, n, 'k'), n).toEqual(['one', 'tagged', 'two']);
    expect(await siblings(c, 'w', 'k'), 'w').toEqual(['one', 'two']);
    expect(c.node('w').r.replicaId, 'w kept its id').toBe(id);
    await c.close();
  });
});
