// A known limit, kept visible (found by an adversarial review): when a restored replica's add-wins set is re-issued
// under its new id and no sibling survived beside the version (the common case: one write superseded the restored
// copy), the re-issue cannot tell the tags the restored copy held from those minted after the restore, and moves
// them all (add-wins.ts reissue). An add is then never lost, but an item another replica removed after the backup
// comes back: Dynamo's shopping-cart trade-off, only after a restore. Telling them apart needs the tag counter the
// first write after the restore read, kept with the version. This test flips when that is done.
import { describe, expect, it } from 'vitest';
import { merges, type AddWinsSet } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { journaledCluster, restoreThenAdd } from './restore-support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 5;

const journaled = (nodes: string[], edges: Array<[string, string]>, speaks?: readonly number[]) => journaledCluster(SEED, nodes, edges, undefined, speaks);

describe(`add-wins re-issue after a restore (seed ${SEED})`, () => {
  const removeStays = async (speaks?: readonly number[]) => {
    const { c, journals } = await journaled(['a', 'b'], [['a', 'b']], speaks);
    const on = (n: string) => c.node(n).r.space('s');
    await on('a').update<AddWinsSet<string>>('list', (s) => merges.addWins.add(s, c.node('a').r.replicaId, 'x'));
    await c.settle();
    const backup = journals.get('a')!.mark;
    // A write of a's after the backup that b holds: the restore loses it, so a re-identifies when it meets b.
    await on('a').put('other', 'lost with the disk');
    // b removes x: an acknowledged write, held by b (a's copy of it is lost with a's disk).
    await on('b').update<AddWinsSet<string>>('list', (s) => merges.addWins.remove(s!, 'x'));
    await c.settle();
    expect(merges.addWins.values((await on('a').get('list'))?.value as AddWinsSet<string>)).toEqual([]);
    // The restored copy still holds x; this add is concurrent with b's remove of x, and says nothing about x.
    await restoreThenAdd(c, journals, 'a', backup, 'list', 'apple');
    // Without a restore the same history (a adds apple without having seen the remove) ends in ['apple'].
    for (const n of ['a', 'b']) expect(merges.addWins.values((await on(n).get('list'))?.value as AddWinsSet<string>), n).toEqual(['apple']);
    await c.close();
  };

  it.fails('a remove made by another replica after the backup stays removed when the restored one adds another item, at 10', () => removeStays(SPEAKS_10));

  // At protocol 11 the restored a's dots name its new epoch: none of them is suspect, so re-identification re-issues
  // nothing (dvv.ts stripOwnDots) and the set is never moved wholesale; the join judges the restored write as a sibling
  // of b's remove, and x stays removed.
  it('at protocol 11 (dots naming their epoch), that remove stays removed', () => removeStays([...PROTOCOL_VERSIONS, EPOCH_DOTS]));
});
