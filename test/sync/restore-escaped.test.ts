/**
 * A known limit of restore recovery (issue 10, the class the soak still finds): a replica's dots count across its
 * keys (its log's seq), so after a restore its new writes take counters its lost writes took for other keys, and a
 * new write's context then covers a lost write of its own key that it never saw. Where the lost write's only copy
 * meets that context, the join drops it. Nothing tells the restored replica in time when its only witness (its
 * relay) was restored too: the lost counters are counters it has minted again, so neither a witness's word nor the
 * data's claims (restore-claims.ts) show the restore.
 *
 * Kept as an expected failure so the limit stays visible: it passes, and the marker must go, once a context can
 * say that it covers a fork of a replica's history and not the other: a version's dot carrying the epoch it was
 * minted in, and a context entry that splits per epoch where two histories of one replica diverge. Counting dots per
 * key (Dynamo's and Riak's vector clocks) does not fix it alone: the restored writer's second write of the key
 * would cover the lost write's per-key counter just the same (Riak's KV679).
 */
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../sim/cluster.js';
import { journaledCluster } from './restore-support.js';

const valueOn = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

describe('a write lost with a restore, whose counter the restored writer took again for another key', () => {
  it.fails('survives where its only copy meets the restored writer\'s later write of its key', async () => {
    const { c, journals } = await journaledCluster(7, ['hub', 'a', 'd'], [['hub', 'a'], ['hub', 'd']], 'hub');
    const on = (n: string) => c.node(n).r.space('s');
    await on('a').put('k0', 'before the copies');
    await c.settle();
    const backupA = journals.get('a')!.mark;
    const backupHub = journals.get('hub')!.mark;
    // After both copies: a writes another key, then k1; d and the relay hold both.
    await on('a').put('x', 'lost too');
    const lost = await on('a').put('k1', 'lost with the copies');
    await c.settle();
    await lost.synced;
    expect(await valueOn(c, 'd', 'k1')).toEqual(['lost with the copies']);
    await c.stop('d');
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backupA));
    await c.replaceStorage('hub', await journals.get('hub')!.restore(backupHub));
    // The restored a takes the lost counters again for two other keys, then writes k1 above them.
    await on('a').put('y0', 'after the restore');
    await on('a').put('y1', 'after the restore');
    const after = await on('a').put('k1', 'after the restore');
    c.net.heal();
    await c.start('d');
    await c.settle();
    await after.synced;
    for (const n of ['a', 'd', 'hub']) expect(await valueOn(c, n, 'k1'), n).toEqual(['after the restore', 'lost with the copies']);
    await c.close();
  });
});
