/**
 * A chain a protocol 11 frame tells of a third replica's epoch, from a sender not believed about it (lib/sync/
 * epoch-widen.ts; docs/design/epochs-build.md, "Records that never arrive"): not learned — a record is fixed once
 * learned and judges every space — but it widens the frame's contexts into the explicit points its sender could have
 * claimed itself, so the receiver drops what a replica holding the record drops, and keeps nothing of the chain.
 */
import { describe, expect, it } from 'vitest';
import { joinWith, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { Epochs, UNTAGGED } from '../../lib/epoch-points.js';
import { exchange } from '../../lib/sync/antientropy.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MAX_WIDENED, ToldChains, widenCausal } from '../../lib/sync/epoch-widen.js';
import { MsgType, PROTOCOL_VERSIONS, type Message } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';
import { carry, THIRD } from './epoch-frames.js';

const version = (r: string, n: number, ep: string, d = false): StoredVersion => ({ r, n, t: n, c: 0, v: d ? undefined : String(n), ep, ...(d ? { d: 1 as const } : {}) });
const tagged = (v: StoredVersion): KeyState => ({ vs: [v], cc: { [v.r]: v.n }, pts: { [v.r]: [{ e: v.ep!, n: v.n }] } });

/** THIRD's true history: T1 forks from the untagged root at 0, T2 (a later open) from T1 at 5. */
const truth = () => {
  const reg = new Epochs();
  reg.learn(THIRD, [
    ['T1', 0],
    ['T2', 5],
  ]);
  return reg;
};

describe('a told chain not believed widens the contexts of its frame', () => {
  // THIRD wrote k at T1:4, then (after an open) again at T2:7 with a context that saw T1:4: that write supersedes it.
  const old = tagged(version(THIRD, 4, 'T1'));
  const newer = tagged(version(THIRD, 7, 'T2'));

  it("a receiver that does not believe the sender about THIRD drops THIRD's superseded version, as one holding the record does, and learns nothing", () => {
    const reg = new Epochs();
    const [m] = carry(truth(), { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', newer]] }, reg, { mine: [], theirs: [] });
    const got = (m as { entries: Array<readonly [string, KeyState]> }).entries[0]![1];
    expect(reg.knows(THIRD, 'T2'), 'the chain is not learned').toBe(false);
    expect(got.pts?.[THIRD]).toEqual([
      { e: 'T1', n: 5 },
      { e: 'T2', n: 7 },
    ]);
    expect(got.cc[THIRD], 'the vector entry stays').toBe(7);
    // Joined with what the receiver held: T1:4 goes, as under THIRD's records (without the widening it stayed beside T2:7).
    expect(joinWith(reg, old, got).vs.map((v) => `${v.ep}:${v.n}`)).toEqual(['T2:7']);
    expect(joinWith(truth(), old, newer).vs.map((v) => `${v.ep}:${v.n}`)).toEqual(['T2:7']);
    // THIRD's true record is still taken later (nothing fixed from the sender's chain).
    expect(reg.learnChain(THIRD, [{ e: 'T1', parent: UNTAGGED, fork: 0 }, { e: 'T2', parent: 'T1', fork: 5 }])).toBeUndefined();
  });

  it('anti-entropy claims are widened too: the receiver does not take a version the claim superseded for one its peer lacks', () => {
    const reg = new Epochs();
    const [m] = carry(truth(), { type: MsgType.AntiEntropy, space: 's', run: 1, top: 0, items: [{ kind: 'keys', keys: [['k', newer]] }], want: [], final: false }, reg, { mine: [], theirs: [] });
    const item = (m as { items: Array<{ kind: string; keys: Array<readonly [string, KeyState]> }> }).items[0]!;
    expect(item.keys[0]![1].pts?.[THIRD]?.map((p) => `${p.e}:${p.n}`)).toEqual(['T1:5', 'T2:7']);
  });

  it('a believed sender (a trusted relay) teaches the records instead: nothing is widened', () => {
    const reg = new Epochs();
    const [m] = carry(truth(), { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', newer]] }, reg, { mine: [], theirs: [], others: true });
    expect(reg.parentOf(THIRD, 'T2')).toEqual({ parent: 'T1', fork: 5 });
    expect((m as { entries: Array<readonly [string, KeyState]> }).entries[0]![1].pts?.[THIRD]).toEqual([{ e: 'T2', n: 7 }]);
  });

  it('a forged chain does no more than a forged context, in its frame only: the registry keeps nothing, the true chain is taken', () => {
    // The sender claims T2 forks from T1 at 100: a context that covers T1 up to 7.
    const forged = new Epochs();
    forged.learn(THIRD, [
      ['T1', 0],
      ['T2', 100],
    ]);
    const reg = new Epochs();
    const [m] = carry(forged, { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', newer]] }, reg, { mine: [], theirs: [] });
    expect((m as { entries: Array<readonly [string, KeyState]> }).entries[0]![1].pts?.[THIRD]?.map((p) => `${p.e}:${p.n}`)).toEqual(['T1:7', 'T2:7']);
    expect(reg.knows(THIRD, 'T1') || reg.knows(THIRD, 'T2')).toBe(false);
    expect(reg.learnChain(THIRD, [{ e: 'T1', parent: UNTAGGED, fork: 0 }, { e: 'T2', parent: 'T1', fork: 5 }]), 'no conflict: nothing was kept').toBeUndefined();
    // A later frame of the same sender naming T2 without its chain widens nothing more.
    const later = { ...newer, pts: { [THIRD]: [{ e: 'T2', n: 8 }] }, cc: { [THIRD]: 8 } };
    expect(widenCausal(reg, new ToldChains(), later)).toBe(later);
  });

  it('the registry places what it knows: widening stops at an epoch it places, and widens nothing it can place', () => {
    const reg = new Epochs();
    reg.learnChain(THIRD, [{ e: 'T1', parent: UNTAGGED, fork: 0 }]);
    const told = new ToldChains();
    told.add(THIRD, [
      { e: 'T1', parent: 'X', fork: 3 }, // contradicts the registry: not used, the registry places T1
      { e: 'T2', parent: 'T1', fork: 5 },
    ]);
    expect(widenCausal(reg, told, newer).pts?.[THIRD]?.map((p) => `${p.e}:${p.n}`)).toEqual(['T1:5', 'T2:7']);
    reg.learnChain(THIRD, [{ e: 'T2', parent: 'T1', fork: 5 }]);
    expect(widenCausal(reg, told, newer)).toBe(newer);
  });

  it(`a chain adds at most ${MAX_WIDENED} points to one replica's context, none at counter 0, and a loop ends`, () => {
    const told = new ToldChains();
    const records = Array.from({ length: 200 }, (_, i) => ({ e: `w${i + 1}`, parent: i === 0 ? UNTAGGED : `w${i}`, fork: i + 1 }));
    told.add(THIRD, records);
    const deep = tagged(version(THIRD, 500, 'w200'));
    const points = widenCausal(new Epochs(), told, deep).pts![THIRD]!;
    expect(points.length).toBe(MAX_WIDENED + 1);
    const zero = new ToldChains();
    zero.add(THIRD, [{ e: 'T1', parent: UNTAGGED, fork: 0 }]);
    expect(widenCausal(new Epochs(), zero, tagged(version(THIRD, 3, 'T1'))).pts![THIRD]).toEqual([{ e: 'T1', n: 3 }]);
    const loop = new ToldChains();
    loop.add(THIRD, [
      { e: 'A', parent: 'B', fork: 4 },
      { e: 'B', parent: 'A', fork: 2 },
    ]);
    expect(widenCausal(new Epochs(), loop, tagged(version(THIRD, 9, 'A'))).pts![THIRD]!.map((p) => `${p.e}:${p.n}`)).toEqual(['A:9', 'B:4']);
  });
});

describe('a state judged without a record', () => {
  it('is re-judged by the next exchange once the record arrives: no version is dropped by joining it with itself', () => {
    // Stored while T2 was unknown (a root): T1:4 kept beside T2:7, both points maximal.
    const kept: KeyState = {
      vs: [version(THIRD, 4, 'T1'), version(THIRD, 7, 'T2')],
      cc: { [THIRD]: 7 },
      pts: { [THIRD]: [{ e: 'T1', n: 4 }, { e: 'T2', n: 7 }] },
    };
    const theirs = tagged(version(THIRD, 7, 'T2'));
    const reg = new Epochs();
    expect(exchange(kept, theirs, reg).want, 'no record: nothing to ask').toBe(false);
    const placed = truth();
    // Joined with itself under the record, the state keeps both versions (which write superseded which is not in it).
    expect(joinWith(placed, kept, kept).vs.length).toBe(2);
    // The exchange with a replica that judged with the record asks for its state, and the join drops T1:4.
    expect(exchange(kept, theirs, placed).want).toBe(true);
    expect(joinWith(placed, kept, theirs).vs.map((v) => `${v.ep}:${v.n}`)).toEqual(['T2:7']);
  });
});

describe('records a relay cannot learn from its client', () => {
  it("a relay behind a client that saw a writer's later epoch first-hand drops the version that epoch superseded", async () => {
    // w and c are peers (a mesh link), c a client of the relay; w never reaches the relay. w writes k, reopens (a new
    // epoch), writes k again over it. c learns w's records from w; the relay may not learn them from c (a client could
    // fix a false record of any replica's epoch), so before the widening it judged w's new epoch a root and kept both.
    const speaks = [...PROTOCOL_VERSIONS, EPOCH_DOTS];
    const c = await Cluster.create({
      seed: 5,
      nodes: ['relay', 'c', 'w'],
      edges: [
        ['relay', 'c'],
        ['c', 'w'],
      ],
      relay: 'relay',
      speaks: { relay: speaks, c: speaks, w: speaks },
      link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
    });
    try {
      const on = (n: string) => c.node(n).r.space('s');
      await on('w').put('k', 'one');
      await c.settle();
      for (const n of ['relay', 'c']) expect((await on(n).get('k'))?.siblings, n).toEqual(['one']);
      await c.restart('w');
      const epoch = c.node('w').r.core.epoch;
      await on('w').put('k', 'two');
      await c.settle();
      const w = c.node('w').r.replicaId;
      expect(c.node('c').r.core.epochs.parentOf(w, epoch), 'c learned it first-hand').toBeDefined();
      expect(c.node('relay').r.core.epochs.knows(w, epoch), 'the relay learned nothing of w from c').toBe(false);
      for (const n of ['w', 'c', 'relay']) expect((await on(n).get('k'))?.siblings, n).toEqual(['two']);
    } finally {
      await c.close();
    }
  });
});
