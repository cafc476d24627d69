/**
 * An add-wins set deleted and written again while a peer holding it is away (found attacking tr50b). Its tags were
 * minted from the stored set (merges/add-wins.ts add), which a delete of the key empties, so the writer's first add
 * after the delete took the tag its first add before it had, (e, 1). The peer away at the delete still held the old
 * set and wrote over it; the join of the two keeps one item per tag, and the add made after the delete was gone on
 * every node (the deleted item stood in its place). Now a tag goes above the writer's log seq (minting.ts), and the
 * write's dot at or above its last tag: no tag of a replica is ever minted twice, whatever the set it is minted into.
 * Both fail before that change (the first with the floor alone too, the second without the dot raised past the tags).
 */
import { describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import type { AddWinsSet } from '../../lib/merges/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];
const add = (c: Cluster, n: string, ...items: string[]) => c.node(n).r.space('s').update<AddWinsSet<string>>('k', (v) => merges.addWins.add(v, c.node(n).r.replicaId, ...items));
const read = async (c: Cluster, n: string) => merges.addWins.values((await c.node(n).r.space('s').get<AddWinsSet<string>>('k'))?.value).sort();

/** e adds `before` (one write), w gets it; w goes away; e deletes the key and adds kiwi; w adds fig; w comes back. */
async function deletedWhileAway(before: string[], speaks?: readonly number[]): Promise<Record<string, string[]>> {
  const c = await Cluster.create({
    seed: 3,
    nodes: ['a', 'e', 'w'],
    edges: [['a', 'e'], ['a', 'w']],
    relay: 'a',
    merge: { k: merges.addWins },
    link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
    ...(speaks ? { speaks: { a: speaks, e: speaks, w: speaks } } : {}),
  });
  try {
    await add(c, 'e', ...before);
    await c.settle();
    expect(await read(c, 'w')).toEqual([...before].sort());
    c.net.partition(['w']);
    await c.clock.advance(1000);
    await c.node('e').r.space('s').delete('k');
    await add(c, 'e', 'kiwi');
    await add(c, 'w', 'fig');
    await c.clock.advance(1000);
    c.net.heal();
    await c.settle();
    const out: Record<string, string[]> = {};
    for (const n of ['a', 'w', 'e']) out[n] = await read(c, n);
    return out;
  } finally {
    await c.close();
  }
}

describe('an add-wins set deleted and added to again while a peer holding it is away', () => {
  it('keeps the add made after the delete (its tag was re-minted from the emptied set), at every protocol', async () => {
    for (const speaks of [undefined, [...PROTOCOL_VERSIONS], SPEAKS_10]) {
      const got = await deletedWhileAway(['apple'], speaks);
      // The peer's write was concurrent with the delete: its set comes back beside the new one. Only the deleting
      // replica's own items, whose tags its later add counts as seen (the floor), stay deleted.
      for (const n of ['a', 'w', 'e']) expect(got[n], `${n} speaking ${String(speaks)}`).toEqual(['fig', 'kiwi']);
    }
  });

  it('keeps it when the set held several items added in one write (the dot goes past every tag the write minted)', async () => {
    const got = await deletedWhileAway(['banana', 'cherry', 'date']);
    for (const n of ['a', 'w', 'e']) expect(got[n], n).toEqual(['fig', 'kiwi']);
  });
});
