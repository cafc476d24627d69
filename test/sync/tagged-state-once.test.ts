// A relay fans one write out to every session (S7, issue 14): at protocol 11 each session wrote the state through
// `writeState`, which asked again for every session whether the state's context is its versions' own (`ccIsDots`:
// the implied context built, sorted and compared). The answer depends on the state alone, so it is worked out once a
// state (wire-state.ts). Counted here through `samePoints`, the comparison that ends it for a state naming epochs.
import { describe, expect, it, vi } from 'vitest';
import { Epochs, UNTAGGED } from '../../lib/epoch-points.js';
import type { KeyState } from '../../lib/dvv.js';
import { Writer } from '../../lib/sync/codec.js';
import { EpochOut, ToldChains, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, MsgType, writeChanges } from '../../lib/sync/messages.js';

const compared = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../lib/dvv.js', async (importOriginal) => {
  const dvv = await importOriginal<typeof import('../../lib/dvv.js')>();
  return { ...dvv, samePoints: (...args: Parameters<typeof dvv.samePoints>) => (compared.n++, dvv.samePoints(...args)) };
});

const reg = new Epochs();
reg.learnChain('c', [{ e: 'C1', parent: UNTAGGED, fork: 0 }, { e: 'C2', parent: 'C1', fork: 4 }]);

/** One session's frame of `s`: its own epoch state, as each session of a relay has. */
function frame(s: KeyState): Uint8Array {
  const w = new Writer();
  w.u8(MsgType.Changes);
  writeChanges(w, { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', s]] }, undefined, new EpochOut({ id: 'me', chain: [] }, reg, new ToldChains('me', true)));
  return w.finish();
}

function decoded(f: Uint8Array): KeyState {
  const link: EpochLink = { me: { id: 'you', chain: [] }, peer: { id: 'me', chain: [] }, reg: () => reg, learn: () => undefined };
  const m = decodeMessage(f, { maxValueBytes: 1 << 20, table: ['me', 'you'], epochs: link });
  if (m.type !== MsgType.Changes) throw new Error('not a CHANGES frame');
  return m.entries[0]![1];
}

describe('a tagged state written to many sessions', () => {
  it('is judged implicit or explicit once, with the same bytes for every session', () => {
    const versions = [{ r: 'c', n: 5, t: 1, c: 0, v: '1', ep: 'C2' }];
    const implicit: KeyState = { vs: versions, cc: { c: 5 }, pts: { c: [{ e: 'C2', n: 5 }] } };
    compared.n = 0;
    const frames = Array.from({ length: 20 }, () => frame(implicit));
    expect(compared.n, 'the implied context compared once for 20 sessions').toBe(1);
    for (const f of frames) expect(f).toEqual(frames[0]);
    expect(decoded(frames[0]!)).toMatchObject({ vs: [{ r: 'c', n: 5, ep: 'C2' }], cc: { c: 5 }, pts: { c: [{ e: 'C2', n: 5 }] } });
  });

  it('judges each state on its own: the same versions under a wider context go with it written out', () => {
    const versions = [{ r: 'c', n: 5, t: 1, c: 0, v: '1', ep: 'C2' }];
    const implicit: KeyState = { vs: versions, cc: { c: 5 }, pts: { c: [{ e: 'C2', n: 5 }] } };
    const wider: KeyState = { vs: versions, cc: { c: 5 }, pts: { c: [{ e: 'C1', n: 3 }, { e: 'C2', n: 5 }] } };
    const a = frame(implicit);
    const b = frame(wider);
    expect(b.length, 'the explicit context costs bytes').toBeGreaterThan(a.length);
    expect(frame(implicit)).toEqual(a);
    expect(frame(wider)).toEqual(b);
    expect(decoded(a).pts).toEqual({ c: [{ e: 'C2', n: 5 }] });
  });
});
