/**
 * Review of p188b (lib/sync/fit-state.ts `withOwn`, wire.ts `alone`): below 11 the context alone going to the writer of
 * versions in the state carries the writer's own versions, whole where the link does not know the peer holds them.
 * A writer at [5..10] sends a key state over the frame limit in parts (key-parts.ts: each version fits, two siblings
 * of its own together do not); a context alone never goes in parts. So once the link no longer knows the writer holds
 * its own versions (a new session), the context alone carrying them does not fit a frame, and nothing goes (wire.ts
 * encode: `withContexts` undefined, the frame goes without the key; a repair's asLeftOut → `tellContexts` returns
 * false, unread; VALUE_TOO_LARGE's path sends an empty frame instead). Before p188 the bare context went: here d's old
 * version, which e's tagged write superseded, was dropped on w. Now w keeps it, and with no anti-entropy nothing ever tells it (with
 * anti-entropy on, its turn asks w for the left-out key, the link then knows w holds both, and the plain context goes).
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/cluster.js';

// Values shown short: a long one as its first letter and length.
const short = (v: unknown) => (typeof v === 'string' && v.length > 20 ? `${v[0]}×${v.length}` : v);
const siblings = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.map(short).sort();

describe('a context alone carrying the writer\'s own big version', () => {
  // it.fails: defect of p188b (wire.ts `alone` → fit-state.ts `withOwn`): the context alone carrying the writer's own
  // versions does not fit a frame, and no fallback sends the context without them; passes on bc592b1 (before p188).
  it.fails('still tells the writer what the state superseded when its own versions do not fit a frame', async () => {
    // Two siblings of w's own, each under the frame limit, together over it.
    const big1 = 'x'.repeat(1_200);
    const big2 = 'y'.repeat(1_200);
    const c = await Cluster.create({
      seed: 3,
      nodes: ['hub', 'w', 'd', 'e'],
      edges: [['hub', 'w'], ['hub', 'd'], ['hub', 'e']],
      relay: 'hub',
      speaks: { w: [5, 6, 7, 8, 9, 10], d: [5, 6, 7, 8, 9, 10] },
      link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
      net: { maxFrameBytes: 2_048 },
    });
    const on = (n: string) => c.node(n).r.space('s');
    await on('w').put('k0', 'before k');
    await c.settle();
    const none = (await on('w').get('k0'))!.context; // covers none of k's versions
    await on('d').put('k', 'old');
    await c.settle();
    const eRead = (await on('e').get('k'))!.context; // covers d's version only
    // w's two big writes stand beside d's (an older read's context); the state reaches the relay in parts.
    await on('w').put('k', big1, { context: none });
    await on('w').put('k', big2, { context: none });
    await c.settle();
    expect((await siblings(c, 'hub', 'k'))?.length).toBe(3);
    // A new session: the relay's link no longer knows that w holds its big version.
    c.net.isolate('w');
    await c.clock.advance(1_000);
    c.net.rejoin('w');
    await c.settle();
    // e supersedes d's version (not w's) under a dot naming its epoch: the relay's state of k cannot go to w whole.
    await on('e').put('k', 'tagged', { context: eRead });
    await c.settle();
    expect(await siblings(c, 'hub', 'k')).toEqual(['tagged', 'x×1200', 'y×1200'].sort());
    expect(await siblings(c, 'w', 'k'), 'w drops d\'s version, which e\'s write superseded').toEqual(['x×1200', 'y×1200']);
    expect(c.net.violations).toEqual([]);
    await c.close();
  });
});
