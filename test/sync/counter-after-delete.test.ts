/**
 * A counter deleted and incremented again while a peer holding it is away. Each replica's increments live in one entry
 * of the counter, and the join keeps each entry's larger number (merges/counter.ts). The delete empties the key, so the
 * writer's first increment after it started its entry again from 0, under the key its old entry had: a peer away at the
 * delete still held the old count and incremented over it (a write concurrent with the delete, which comes back), and
 * the join kept the old entry's larger number — every increment the writer made after the delete, up to the old count,
 * was lost on every node. Now a counter a replica starts after its first write keys its entry by an incarnation (the
 * write's seq, minting.ts floor): the old entry and the new one are two entries, both counted.
 */
import { describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import type { CounterValue } from '../../lib/merges/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import type { Cluster } from '../sim/cluster.js';
import { awayAtDelete } from '../support/away-at-delete.js';

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];
const inc = (c: Cluster, n: string, by: number) => c.node(n).r.space('s').update<CounterValue>('k', (v) => merges.counter.increment(v, c.node(n).r.replicaId, by));
const read = async (c: Cluster, n: string) => merges.counter.value((await c.node(n).r.space('s').get<CounterValue>('k'))?.value);

/**
 * e increments by `before`, w gets it; w goes away; e deletes the key (`tabs`: from another tab sharing e's storage)
 * and increments `after` times by 1; w increments by 1 over the old count; w comes back. What each node reads.
 */
function deletedWhileAway(before: number, after: number, speaks?: readonly number[], tabs = false): Promise<Record<string, number>> {
  return awayAtDelete({
    seed: 5,
    speaks,
    eTabs: tabs ? 2 : 1,
    before: async (c) => void (await inc(c, 'e', before)),
    async away(c) {
      expect(await read(c, 'w')).toBe(before);
      // The other tab's delete: this one's next write reads the key in the storage they share.
      await (tabs ? c.node('e').tabs[1]! : c.node('e').r).space('s').delete('k');
      for (let i = 0; i < after; i++) await inc(c, 'e', 1);
      expect(await read(c, 'e')).toBe(after);
      await inc(c, 'w', 1);
    },
    read,
  });
}

describe('a counter deleted and incremented again while a peer holding it is away', () => {
  it('counts every increment made after the delete, at every protocol', async () => {
    for (const speaks of [undefined, [...PROTOCOL_VERSIONS], SPEAKS_10]) {
      const got = await deletedWhileAway(5, 1, speaks);
      // w's write was concurrent with the delete: its counter (the old 5 and its 1) comes back, as a plain value's
      // concurrent write does, beside e's new count.
      for (const n of ['a', 'w', 'e']) expect(got[n], `${n} speaking ${String(speaks)}`).toBe(7);
    }
  });

  it('counts them when they reach the old count (five increments after the delete, none absorbed)', async () => {
    const got = await deletedWhileAway(5, 5);
    for (const n of ['a', 'w', 'e']) expect(got[n], n).toBe(11);
  });

  it('counts them when another tab sharing the storage deleted the key', async () => {
    const got = await deletedWhileAway(5, 2, undefined, true);
    for (const n of ['a', 'w', 'e']) expect(got[n], n).toBe(8);
  });
});
