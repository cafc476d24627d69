// Sync's call sites judge coverage by the replica's epoch registry (issue 10, stage 2 item 5 of
// docs/design/epochs-build.md). Nothing stored or sent names an epoch yet; these drive each call site with a state
// whose context names one, and show that a version covered only through an epoch's parent counts as covered
// (with the registry that knows nothing, the epoch is judged a root and the version is not).
import { describe, expect, it } from 'vitest';
import { stateHash, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { loadHasher } from '../../lib/hash.js';
import { writeDots } from '../../lib/sync/ae-codec.js';
import { runAntiEntropy, type Side } from '../../lib/sync/antientropy.js';
import { Writer } from '../../lib/sync/codec.js';
import { MerkleTree } from '../../lib/sync/merkle.js';
import { Epochs, NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import { chainForm, unchain } from '../../lib/chain.js';
import { AddWins, addWinsType, values } from '../../lib/merges/add-wins.js';
import { textPayload } from '../../lib/payload.js';
import { dotOf, namesEpochs } from '../../lib/dvv.js';
import { forkBefore, impossibleClaim } from '../../lib/restore-claims.js';
import type { KeyRecord } from '../../lib/storage.js';
import { lastOfParts, PartStaging } from '../../lib/sync/key-parts.js';
import { MsgType, type Changes } from '../../lib/sync/messages.js';
import { PeerModel } from '../../lib/sync/peer-model.js';
import { resolveEntries } from '../../lib/sync/resolve.js';
import type { ReplicaCore } from '../../lib/core.js';
import { ccIsDots, dotsContext, sortDots } from '../../lib/sync/wire-state.js';

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

describe('anti-entropy in process', () => {
  const side = (states: Map<string, KeyState>, epochs?: EpochRegistry): Side => {
    const tree = new MerkleTree();
    for (const [k, s] of states) tree.set(k, stateHash(k, s));
    return epochs ? { tree, states, epochs } : { tree, states };
  };

  it('each side judges by its registry: a version the other saw superseded through an epoch’s parent is not asked for', async () => {
    await loadHasher();
    // a saw (a, 3) superseded (its context was read in E2 at 12); b still holds it.
    const mine = new Map([['k', { vs: [], cc: { a: 12 }, pts: { a: [{ e: 'E2', n: 12 }] } } as KeyState]]);
    const theirs = new Map([['k', { vs: [v('a', 3)], cc: { a: 3 } } as KeyState]]);
    const judged = await runAntiEntropy(side(mine, reg), side(theirs, reg));
    expect([...judged.bToA]).toEqual([]);
    expect([...judged.aToB]).toEqual(['k']);
    // Each epoch judged a root: (a, 3) looks missing on a's side, so b sends it, at every round.
    const blind = await runAntiEntropy(side(mine), side(theirs));
    expect([...blind.bToA]).toEqual(['k']);
  });

  it('the claim codec refuses a claim naming epochs for a peer speaking protocol 10 or less (epoch-wire.test.ts: 11 carries them)', () => {
    expect(() => writeDots(new Writer(), seenInE2)).toThrow(/cannot be sent to a peer speaking protocol 10 or less/);
    expect(() => writeDots(new Writer(), { vs: [v('a', 3)], cc: { a: 3 } })).not.toThrow();
  });
});

describe('restore claims', () => {
  // me: E1 opened at 0, E2 at 9 and minted up to 14 (lost); a copy taken in E1 at 5 was restored: E3 under E1 at 5.
  const mine = new Epochs();
  mine.learn('me', [
    ['E1', 0],
    ['E2', 9],
  ]);
  mine.add('me', 'E3', 'E1', 5);
  // Our state of k, read in E3 at 12: it has seen (me, E1, ≤ 5) and E3's dots, not the lost branch's (me, E2, 7).
  const held: KeyState = { vs: [], cc: { me: 12 }, pts: { me: [{ e: 'E3', n: 12 }] } };
  const lost: [string, KeyState] = ['k', { vs: [v('me', 7, 'E2')], cc: { me: 7 }, pts: { me: [{ e: 'E2', n: 7 }] } }];
  const early: [string, KeyState] = ['k', { vs: [v('me', 4, 'E1')], cc: { me: 4 }, pts: { me: [{ e: 'E1', n: 4 }] } }];

  it('a version of ours judged by whole dot against our state’s points, not by its counter', () => {
    expect(impossibleClaim([lost], 'me', 20, undefined, [held], mine)).toBe(7);
    expect(impossibleClaim([early], 'me', 20, undefined, [held], mine)).toBe(0);
    // Each epoch judged a root: E3's point does not reach E1.
    expect(impossibleClaim([early], 'me', 20, undefined, [held])).toBe(4);
  });

  it('the fork point too', () => {
    const history = [['E1', 0], ['E3', 15]] as const;
    expect(forkBefore(20, [lost], [held], 'me', history, mine)).toBe(0);
    expect(forkBefore(20, [early], [held], 'me', history, mine)).toBe(20);
    expect(forkBefore(20, [early], [held], 'me', history)).toBe(0);
  });
});

describe('wire states by whole dot', () => {
  it('a context is the versions’ own dots only when its points are theirs', () => {
    const own: KeyState = { vs: [v('a', 12, 'E2'), v('b', 2)], cc: { a: 12, b: 2 }, pts: { a: [{ e: 'E2', n: 12 }] } };
    expect(ccIsDots(own)).toBe(true);
    expect(dotsContext(own.vs)).toEqual({ cc: own.cc, pts: own.pts });
    // One point more (a's untagged dots up to 7 seen): the vector alone matches, the context is not implied.
    expect(ccIsDots({ ...own, pts: { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] } })).toBe(false);
    // Tagged dots under a plain vector: not implied either (their points would be).
    expect(ccIsDots({ vs: own.vs, cc: own.cc })).toBe(false);
    expect(ccIsDots({ vs: [v('a', 3), v('b', 2)], cc: { a: 3, b: 2 } })).toBe(true);
    expect(dotsContext([v('a', 3), v('b', 2)])).toEqual({ cc: { a: 3, b: 2 } });
  });

  it('one counter under two epochs is two dots; one dot twice is refused', () => {
    expect(sortDots([v('a', 3, 'E2'), v('a', 3, 'E1'), v('a', 3)]).map((u) => u.ep)).toEqual([undefined, 'E1', 'E2']);
    expect(() => sortDots([v('a', 3, 'E1'), v('b', 1), v('a', 3, 'E1')])).toThrow(/duplicate dot/);
    expect(() => sortDots([v('a', 3), v('a', 3)])).toThrow(/duplicate dot/);
  });

  it('a key state in parts keeps its points', () => {
    const full: Changes = { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [v('a', 7), v('a', 12, 'E2')], cc: { a: 12 }, pts: { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] } }]] } as Changes;
    const last = lastOfParts(full);
    expect(last.entries[0]![1].pts).toEqual(full.entries[0]![1].pts);
    const staging = new PartStaging(1 << 20);
    expect(staging.take({ type: MsgType.Part, space: 's', upTo: 0, entries: [['k', { vs: full.entries[0]![1].vs, cc: {} }]] } as never, 100)).toBeUndefined();
    const whole = staging.take(last, 10) as Changes;
    expect(whole.entries[0]![1]).toEqual(full.entries[0]![1]);
  });
});

describe('delta bases name their epoch', () => {
  // (b, 20) derives from (a, 12) of epoch E2; a restored branch E1′ minted another (a, 12).
  const base = v('a', 12, 'E2');
  const other = v('a', 12, 'E1');
  const derived: StoredVersion = { r: 'b', n: 20, t: 20, c: 0, v: JSON.stringify('b20'), x: { b: [dotOf(base)], d: new Uint8Array([1]), s: 3 } };
  const rec = (vs: StoredVersion[], seq: number): KeyRecord => ({ vs, cc: { a: 12, b: 20 }, seq, h: '' });

  it('a base is the whole dot', () => {
    expect(dotOf(base)).toEqual(['a', 12, 'E2']);
    expect(dotOf(v('a', 12))).toEqual(['a', 12]);
    expect(namesEpochs({ vs: [derived], cc: { b: 20 } })).toBe(true);
  });

  it('a stored chain links to the previous record only through the base’s whole dot', () => {
    expect(chainForm(rec([derived], 5), rec([base], 4)).chained).toBe(true);
    expect(chainForm(rec([derived], 5), rec([other], 4)).chained).toBe(false);
    // A version the previous record holds is referenced, and comes back with its epoch.
    const prev = rec([base], 4);
    const form = chainForm(rec([base, derived], 5), prev);
    expect(form.vs[0]).toMatchObject({ r: 'a', ep: 'E2', n: 12, p: 1 });
    const back = unchain(form.vs, prev);
    expect(back[0]).toBe(base);
    expect(() => unchain(form.vs, rec([other], 4))).toThrow(/lacks a:12@E2/);
  });

  it('the peer model sends a delta only where the peer holds the base’s whole dot', () => {
    const kindOf = (held: StoredVersion) => {
      const model = new PeerModel(() => reg);
      model.observe('s', 'k', { vs: [held], cc: { a: 12 } }, true);
      return model.forms('s', [['k', { vs: [derived], cc: { a: 12, b: 20 } }]], false).forms.get(derived)?.kind ?? 'whole';
    };
    expect(kindOf(base)).toBe('delta');
    expect(kindOf(other)).toBe('whole');
  });

  it('a received state resolves against our versions by whole dot and keeps its points', async () => {
    const core = (held: StoredVersion) => ({ replicaId: 'me', epochs: reg, storage: { get: async () => rec([held], 4) } }) as unknown as ReplicaCore;
    const sent: KeyState = { vs: [{ ...base, v: undefined, e: 1 } as StoredVersion], cc: { a: 12 }, pts: { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] } };
    const ok = await resolveEntries(core(base), 's', [['k', sent]], 1 << 20);
    expect(ok.ready).toEqual([['k', { vs: [base], cc: sent.cc, pts: sent.pts }]]);
    const lacking = await resolveEntries(core(other), 's', [['k', sent]], 1 << 20);
    expect(lacking.missing).toEqual([['k', '']]);
  });
});

describe('add-wins sets whose tags and context name epochs', () => {
  it('a tag is its whole dot: one counter under two epochs is two tags', () => {
    const x = new AddWins([['x', 'a', 12, 'E1']], { a: 12 }, { a: [{ e: 'E1', n: 12 }] });
    const y = new AddWins([['y', 'a', 12, 'E2']], { a: 12 }, { a: [{ e: 'E2', n: 12 }] });
    // E2 forked from E1 at 9: neither point covers the other's tag.
    expect(values(addWinsType.merge([x, y], reg))).toEqual(['x', 'y']);
    expect(values(addWinsType.merge([y, x], reg))).toEqual(['x', 'y']);
  });

  it('a remove covers a tag through an epoch’s parent, judged by the registry given', () => {
    const removed = new AddWins([], { a: 12 }, { a: [{ e: 'E2', n: 12 }] });
    const added = new AddWins([['milk', 'a', 3]], { a: 3 });
    expect(values(addWinsType.merge([removed, added], reg))).toEqual([]);
    // No ancestry known: E2 is judged a root, and the add wins (conservative).
    expect(values(addWinsType.merge([removed, added]))).toEqual(['milk']);
  });

  it('encodes its points and reads them back; an untagged set encodes as it always did', () => {
    const set = new AddWins([['x', 'a', 12, 'E2'], ['y', 'b', 1]], { a: 12, b: 1 }, { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] });
    const back = addWinsType.decode(addWinsType.encode(set));
    expect(back).toEqual(set);
    expect(back.pts).toEqual(set.pts);
    const plain = new AddWins([['y', 'b', 1]], { b: 1 });
    expect(addWinsType.encode(plain)).toEqual(textPayload({ e: [['y', 'b', 1]], cc: { b: 1 } }));
    expect('pts' in plain).toBe(false);
    expect(() => addWinsType.decode(textPayload({ e: [], cc: { a: 3 }, pts: { a: [{ e: '', n: 3 }] } }))).toThrow(/context/);
  });

  it('re-issue moves only untagged tags past what the base knew, and cuts only the untagged point', () => {
    // old re-identifies; its base knew its untagged tags up to 5. (y, old, 9) is suspect; (z, old, 12, E5) is not.
    const set = new AddWins([['x', 'old', 3], ['y', 'old', 9], ['z', 'old', 12, 'E5']], { old: 12 }, { old: [{ e: '', n: 9 }, { e: 'E5', n: 12 }] });
    const baseSet = new AddWins([['x', 'old', 3]], { old: 5 });
    const out = addWinsType.reissue!(set, 'old', 'new', [baseSet]);
    expect(out.e).toEqual([['x', 'old', 3], ['y', 'new', 1], ['z', 'old', 12, 'E5']]);
    expect(out.pts).toEqual({ old: [{ e: '', n: 5 }, { e: 'E5', n: 12 }] });
    expect(out.cc).toEqual({ new: 1, old: 12 });
  });
});
