// Sync's call sites judge coverage by the replica's epoch registry (issue 10, stage 2 item 5 of
// docs/design/epochs-build.md). Nothing stored or sent names an epoch yet; these drive each call site with a state
// whose context names one, and show that a version covered only through an epoch's parent counts as covered
// (with the registry that knows nothing, the epoch is judged a root and the version is not).
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { Epochs, NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import { PeerModel } from '../../lib/sync/peer-model.js';

const v = (r: string, n: number, ep?: string): StoredVersion => ({ r, n, t: n, c: 0, v: JSON.stringify(`${r}${n}`), ...(ep !== undefined ? { ep } : {}) });

// a's dots were untagged up to 5; then E1 opened at 5 and E2 at 9.
const reg = new Epochs();
reg.learn('a', [
  ['E1', 5],
  ['E2', 9],
]);
// A context read in E2 at 12: its history holds a's untagged dots up to 5, not (a, 7).
const seenInE2: KeyState = { vs: [v('a', 12, 'E2')], cc: { a: 12 }, pts: { a: [{ e: 'E2', n: 12 }] } };

describe('the peer model', () => {
  const formsOf = (epochs: EpochRegistry, known: KeyState, sent: KeyState) => {
    const model = new PeerModel(() => epochs);
    model.observe('s', 'k', known, true);
    const { forms } = model.forms('s', [['k', sent]], false);
    return sent.vs.map((u) => forms.get(u)?.kind ?? 'whole');
  };

  it('sends held a version the peer’s context covers through an epoch’s parent', () => {
    const sent: KeyState = { vs: [v('a', 3), v('a', 7)], cc: { a: 7 } };
    expect(formsOf(reg, seenInE2, sent)).toEqual(['held', 'whole']);
    expect(formsOf(NO_EPOCHS, seenInE2, sent)).toEqual(['whole', 'whole']);
  });
});
