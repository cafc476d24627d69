/**
 * An add-wins set deleted and written again while a peer holding it is away (found attacking tr50b). Its tags were
 * minted from the stored set (merges/add-wins.ts add), which a delete of the key empties, so the writer's first add
 * after the delete took the tag its first add before it had, (e, 1). The peer away at the delete still held the old
 * set and wrote over it; the join of the two keeps one item per tag, and the add made after the delete was gone on
 * every node (the deleted item stood in its place). Now a tag goes above the writer's log seq (minting.ts), and the
 * write's dot at or above its last tag: no tag of a replica is ever minted twice, whatever the set it is minted into.
 * Both fail before that change; the second fails with the floor alone too (the dot not raised past the tags). The scene
 * is test/support/away-at-delete.ts, as the counter's and the document's.
 */
import { describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import type { AddWinsSet } from '../../lib/merges/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import type { Cluster } from '../sim/cluster.js';
import { awayAtDelete } from '../support/away-at-delete.js';

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];
const add = (c: Cluster, n: string, ...items: string[]) => c.node(n).r.space('s').update<AddWinsSet<string>>('k', (v) => merges.addWins.add(v, c.node(n).r.replicaId, ...items));
const read = async (c: Cluster, n: string) => merges.addWins.values((await c.node(n).r.space('s').get<AddWinsSet<string>>('k'))?.value).sort();

/** e adds `before` (one write), w gets it; w goes away; e deletes the key and adds kiwi; w adds fig; w comes back. */
function deletedWhileAway(before: string[], speaks?: readonly number[]): Promise<Record<string, string[]>> {
  return awayAtDelete({
    seed: 3,
    speaks,
    before: async (c) => void (await add(c, 'e', ...before)),
    async away(c) {
      expect(await read(c, 'w')).toEqual([...before].sort());
      await c.node('e').r.space('s').delete('k');
      await add(c, 'e', 'kiwi');
      await add(c, 'w', 'fig');
    },
    read,
  });
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
