// Review of epochs2 (d9b4942, merges/add-wins: a set's context may hold points). A set whose context holds points
// for a replica (decodeSet accepts them from any payload; a restored replica's sets will hold them once tags name
// epochs) and that replica adding to it: `add` mints an untagged tag above cc[r] and raised cc[r], but left r's
// points as they were. The set then (1) did not cover its own new tag (coverage reads the points), so a remove of
// the item by the same replica was undone by the join with the set before it, and (2) encoded a context whose
// vector entry is not its points' top, which decodeSet refuses: the replica wrote a value it cannot read back.
import { describe, expect, it } from 'vitest';
import { add, AddWins, addWinsType, remove, values } from '../../lib/merges/add-wins.js';

const ME = 'meReplica0000001';

/** A set as decoded from a payload: ME's context is an untagged point at 3 and a point of epoch "EpochX" at 5. */
function withPoints(): AddWins<string> {
  const set = new AddWins<string>([['tea', ME, 2]], { [ME]: 5 }, { [ME]: [{ e: '', n: 3 }, { e: 'EpochX', n: 5 }] });
  return addWinsType.decode(addWinsType.encode(set as AddWins)) as AddWins<string>;
}

describe('epochs2 review: add to a set whose context holds points of the adding replica', () => {
  it('its own new tag is covered by its context: a later remove sticks through a join with the earlier set', () => {
    const added = add(withPoints(), ME, 'milk');
    const removed = remove(added, 'milk');
    expect(values(addWinsType.merge([added, removed]) as AddWins<string>)).toEqual(['tea']);
  });

  it('what add returns encodes to a set that decodes (to the same set)', () => {
    const added = add(withPoints(), ME, 'milk');
    const back = addWinsType.decode(addWinsType.encode(added as AddWins));
    expect(addWinsType.encode(back)).toEqual(addWinsType.encode(added as AddWins));
  });
});

describe('epochs2 review: a decoded set covers the tags naming epochs it holds', () => {
  // A tag naming an epoch is covered only by a point naming an epoch (an untagged point covers untagged dots
  // only), so a set holding one with no points for its replica does not cover its own tag: no remove, here or
  // anywhere its context travels, would ever drop it. decodeSet took such a payload.
  it('decodeSet refuses a tag naming an epoch whose replica has no points in the set', () => {
    const text = JSON.stringify({ e: [['tea', ME, 2, 'EpochX']], cc: { [ME]: 2 } });
    expect(() => addWinsType.decode(new TextEncoder().encode(text))).toThrow(TypeError);
  });
});
