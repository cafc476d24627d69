/**
 * lib/sync/peer-model.ts `asking`: a key left out on a link (wire.ts LEFT OUT) is asked of the peer once, unless the
 * peer itself has told its state of the key. The context alone we send in the key's place enters the model as what the
 * peer will hold, but says nothing of the peer's own versions: it must not count as knowing them (it did, and the ask
 * was dropped whenever that context was not empty — test/review/withheld-own-sibling.test.ts, the second case).
 */
import { describe, expect, it } from 'vitest';
import { PeerModel } from '../../lib/sync/peer-model.js';

describe('the ask for a left-out key', () => {
  it('survives the context alone we sent in its place, goes once, and is not made where the peer told its state', () => {
    const m = new PeerModel();
    m.leftOut('s', 'k', { vs: [], cc: {} });
    m.sent('s', [['k', { vs: [], cc: { c: 1 } }]], new Map());
    expect(m.asking('s')).toEqual(['k']);
    expect(m.asking('s'), 'once').toEqual([]);

    m.observe('s', 'j', { vs: [{ r: 'a', n: 1, t: 1, c: 0, v: '"x"' }], cc: { a: 1 } }, true);
    m.leftOut('s', 'j', { vs: [], cc: {} });
    expect(m.asking('s'), 'the peer told its state of j').toEqual([]);
    expect(m.known('s', 'j')?.vs.map((v) => `${v.r}:${v.n}`)).toEqual(['a:1']);
  });
});
