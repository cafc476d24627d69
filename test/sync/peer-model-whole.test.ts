/**
 * lib/sync/peer-model.ts `sent` and the "send whole" flag a NEED sets: it clears once a state of the key went whole,
 * and not for a state with no version — the empty answer need-answers.ts gives a peer below 11 for a key whose state
 * names an epoch, or the context alone the wire sends in place of a state it left out. Such a state says nothing the
 * peer can resolve a delta against. The flag outlives the key's entry in the model (at most MAX_KEYS, 4096, keys are
 * kept; the flag is kept apart), and a key the model no longer knows takes a delta on the guess that the peer holds
 * what lay below our stream's start: the peer that asked for the key whole was sent a delta again, to NEED again.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { PeerModel } from '../../lib/sync/peer-model.js';

const base: StoredVersion = { r: 'a', n: 3, t: 3, c: 0, v: JSON.stringify('a3') };
/** A version of a derived from a:3, which lay at seq 5 of our log. */
const derived: StoredVersion = { r: 'a', n: 4, t: 4, c: 0, v: JSON.stringify('a4'), x: { b: [['a', 3]], d: new Uint8Array([1]), s: 5 } };
const later: KeyState = { vs: [derived], cc: { a: 4 } };

/** A model whose stream to the peer started past seq 5, asked for k whole; `answer` went; then 4 096 other keys, so k's entry is gone. */
function askedWhole(answer: KeyState): PeerModel {
  const m = new PeerModel();
  m.streamFrom('s', 10);
  m.needWhole('s', 'k', '');
  m.sent('s', [['k', answer]], new Map());
  for (let i = 0; i < 4096; i++) m.sent('s', [[`other${i}`, { vs: [{ r: 'b', n: i + 1, t: 1, c: 0, v: '1' }], cc: { b: i + 1 } }]], new Map());
  expect(m.known('s', 'k'), "k's entry went (MAX_KEYS)").toBeUndefined();
  return m;
}

const formOf = (m: PeerModel) => m.forms('s', [['k', later]], false).forms.get(derived)?.kind ?? 'whole';

describe('the "send whole" flag a NEED sets', () => {
  it('stays after a state with no version went in its place (an empty answer, a context alone): the next version goes whole', () => {
    expect(formOf(askedWhole(EMPTY_STATE))).toBe('whole');
    expect(formOf(askedWhole({ vs: [], cc: { a: 3, c: 2 } }))).toBe('whole');
  });

  it('clears once a state with a version went whole', () => {
    const sent: KeyState = { vs: [base], cc: { a: 3 } };
    expect(formOf(askedWhole(sent))).toBe('delta');
  });
});
