// A relay fans one write out to every session (S7, issue 14): at protocol 11 each session wrote the state through
// `writeState`, which asked again for every session whether the state's context is its versions' own (`ccIsDots`:
// the implied context built, sorted and compared). The answer depends on the state alone, so it is worked out once a
// state (wire-state.ts). Counted here through `samePoints`, the comparison that ends it for a state naming epochs.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Epochs, UNTAGGED } from '../../lib/epoch-points.js';
import type { KeyState } from '../../lib/dvv.js';
import { Writer } from '../../lib/sync/codec.js';
import { EpochOut, ToldChains, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, MsgType, writeChanges } from '../../lib/sync/messages.js';
import { dotsContext } from '../../lib/sync/wire-state.js';

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

/** The context versions imply, from its definition (wire-state.ts dotsContext): per replica its highest counter, and for
 * a replica with a version naming an epoch, its versions' points (epoch, highest counter), sorted by epoch. */
function impliedByDefinition(vs: ReadonlyArray<{ r: string; n: number; ep?: string }>): { cc: Record<string, number>; pts?: Record<string, Array<{ e: string; n: number }>> } {
  const cc: Record<string, number> = {};
  for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
  const tagged = [...new Set(vs.filter((v) => v.ep !== undefined).map((v) => v.r))].sort();
  if (tagged.length === 0) return { cc };
  const pts: Record<string, Array<{ e: string; n: number }>> = {};
  for (const r of tagged) {
    const tops = new Map<string, number>();
    for (const v of vs) if (v.r === r) tops.set(v.ep ?? UNTAGGED, Math.max(tops.get(v.ep ?? UNTAGGED) ?? 0, v.n));
    pts[r] = [...tops].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([e, n]) => ({ e, n }));
  }
  return { cc, pts };
}

describe('the context versions imply', () => {
  // A received state without an explicit context gets it from its versions (readState), per delivery: one version,
  // the common case, takes a short way, which must give what the definition does (fast-check prints its seed).
  it('is what its definition gives, for one version or several', () => {
    const version = fc.record({ r: fc.constantFrom('a', 'b', 'c'), n: fc.integer({ min: 1, max: 50 }), ep: fc.option(fc.constantFrom('E1', 'E2', 'X'), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 5 }), (raw) => {
        const vs = raw.map((v) => ({ r: v.r, n: v.n, t: 1, c: 0, ...(v.ep !== undefined ? { ep: v.ep } : {}) }));
        expect(dotsContext(vs)).toEqual(impliedByDefinition(vs));
      }),
      { numRuns: 2000 },
    );
  });
});
