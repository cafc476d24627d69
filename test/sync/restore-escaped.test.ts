/**
 * Restored writers whose only witness (their relay) was restored too (issue 10). A replica's dots count across its
 * keys (its log's seq), so after a restore its new writes take counters its lost writes took for other keys, and a
 * new write's context then covers a lost write of its own key that it never saw: where the lost write's only copy
 * meets that context, the join drops it. Neither a witness's word nor a counter past the log's top shows such a
 * restore: the lost counters are counters the replica has minted again.
 *
 * What does show it: a lost write of ours coming back as a *version* of a key whose state here has not seen that dot
 * (restore-claims.ts). A dot is minted for one key, into that key's state, so our state of the key always covers it —
 * unless the write belongs to a history this storage lost. The first test is that case: the lost write of another
 * key reaches the restored writer before its own write of the key leaves, and it re-identifies in time.
 *
 * The second is the limit that stays (an expected failure, so it stays visible): when the restored writer's write
 * of the key reaches the relay before any lost write comes back, the relay's join drops the lost write there and
 * then everywhere. Closing it needs a context able to say which fork of a replica's history it covers: a version's
 * dot carrying the epoch it was minted in, and a context entry that splits per epoch where two histories of one
 * replica diverge. Counting dots per key (Dynamo's and Riak's vector clocks) does not do it alone: the restored
 * writer's second write of the key would cover the lost write's per-key counter just the same (Riak's KV679).
 * A storage that tells where it lives closes it from the other end: the file storage's copy opens under a new
 * replicaId before its first write (test/storage/fs-copy.test.ts runs this limit on real directories). The
 * simulated storages here cannot tell a copy, as IndexedDB cannot.
 */
import { describe, expect, it } from 'vitest';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import type { Cluster } from '../sim/cluster.js';
import { journaledCluster } from './restore-support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const valueOn = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

/**
 * a writes k0; copies of a and of the relay are taken; a writes x and then k1 (d and the relay hold both); d goes
 * away; a and the relay are restored from their copies, a cut off. The restored a takes the lost counters again
 * for y0 and y1, then writes k1 above them. `reconnect` brings a and d back.
 */
async function restoredWriter(reconnect: (c: Cluster) => Promise<void>, speaks?: readonly number[]): Promise<{ c: Cluster; after: { synced: Promise<unknown> } }> {
  const { c, journals } = await journaledCluster(7, ['hub', 'a', 'd'], [['hub', 'a'], ['hub', 'd']], 'hub', speaks);
  const on = (n: string) => c.node(n).r.space('s');
  await on('a').put('k0', 'before the copies');
  await c.settle();
  const backupA = journals.get('a')!.mark;
  const backupHub = journals.get('hub')!.mark;
  await on('a').put('x', 'lost too');
  const lost = await on('a').put('k1', 'lost with the copies');
  await c.settle();
  await lost.synced;
  expect(await valueOn(c, 'd', 'k1')).toEqual(['lost with the copies']);
  await c.stop('d');
  c.net.partition(['a']);
  await c.replaceStorage('a', await journals.get('a')!.restore(backupA));
  await c.replaceStorage('hub', await journals.get('hub')!.restore(backupHub));
  await on('a').put('y0', 'after the restore');
  await on('a').put('y1', 'after the restore');
  const after = await on('a').put('k1', 'after the restore');
  await reconnect(c);
  await c.settle();
  await after.synced;
  return { c, after };
}

describe('a write lost with a restore, whose counter the restored writer took again for another key', () => {
  it('survives when a lost write of ours comes back to the restored writer before its write of the key leaves', async () => {
    const { c } = await restoredWriter(async (c) => {
      c.net.heal();
      await c.start('d');
    });
    for (const n of ['a', 'd', 'hub']) expect(await valueOn(c, n, 'k1'), n).toEqual(['after the restore', 'lost with the copies']);
    expect(await valueOn(c, 'a', 'x')).toEqual(['lost too']);
    await c.close();
  });

  const theLimit = async (speaks?: readonly number[]) => {
    const { c } = await restoredWriter(async (c) => {
      c.net.heal();
      await c.clock.advance(20_000);
      expect(await valueOn(c, 'hub', 'k1')).toEqual(['after the restore']);
      await c.start('d');
    }, speaks);
    for (const n of ['a', 'd', 'hub']) expect(await valueOn(c, n, 'k1'), n).toEqual(['after the restore', 'lost with the copies']);
    await c.close();
  };

  it.fails('survives when the restored writer\'s write of the key reaches the relay first (the limit), at 10', () => theLimit(SPEAKS_10));

  // Every node speaking protocol 11 tags its dots with the epoch of the open that minted them (identity.ts): the
  // restored a's k1 is (a, its new epoch, n), another dot than the lost (a, old epoch, n), and the context of the lost
  // branch's k1 does not cover it — nor the new one the lost write. The limit above, closed (fails with tagging off).
  it('survives at protocol 11, where dots name their epoch, when the restored writer\'s write reaches the relay first', () => theLimit([...PROTOCOL_VERSIONS, EPOCH_DOTS]));
});
