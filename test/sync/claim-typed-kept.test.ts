/**
 * Far-future 1749200046 at the default, under tr49b's claim joins (a peer's anti-entropy claim of a key joined as its
 * context alone wherever it superseded a version of ours): relay a, re-identified, held e's add-wins set0 at e:3
 * ({apple, pear}); e, cut off meanwhile, had added to it (e:13, whose merge holds apple and pear too). Back, with no
 * stream between them (e's cursor of a's log no longer valid), e opened an anti-entropy run whose claim of set0@13 a
 * answered before e's state came: a dropped e:3 on the claim's word and told the drop on; then e lost its disk, and with
 * it set0@13, the one version still holding apple and pear. The claim was honest (e wrote 13 over its own 3): what
 * dropped the adds is a join on a state's dots where the state itself could still come. Now a claim is joined only
 * where our state of the key does not cross the link (space-ports.ts superseded), and never drops a typed version of
 * ours beside a live claimed one (fit-state.ts claimedContext).
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { merges } from '../../lib/index.js';
import type { AddWinsSet } from '../../lib/merges/index.js';
import { claimedContext } from '../../lib/sync/fit-state.js';
import { decodeMessage, MsgType } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import { encodeValue } from '../../lib/values.js';
import { Cluster, type ClusterOptions } from '../sim/cluster.js';
import type { SimDisk } from '../support/sim-disk.js';

/** Whether `frame` is an anti-entropy turn naming `key` among its claims (`table`: the session's, the sender's id first). */
function claims(frame: Frame, key: string, table: string[]): boolean {
  if (typeof frame === 'string' || frame[0] !== MsgType.AntiEntropy) return false;
  const m = decodeMessage(frame, { maxValueBytes: 1 << 20, table });
  return m.type === MsgType.AntiEntropy && m.items.some((it) => it.kind === 'range' && it.keys.some(([k]) => k === key));
}

interface Kind {
  typed: boolean;
  write(c: Cluster, node: string, what: string): Promise<unknown>;
  read(c: Cluster, node: string): Promise<unknown>;
}
const set: Kind = {
  typed: true,
  write: (c, n, item) => c.node(n).r.space('s').update<AddWinsSet<string>>('k', (v) => merges.addWins.add(v, c.node(n).r.replicaId, item)),
  read: async (c, n) => merges.addWins.values((await c.node(n).r.space('s').get<AddWinsSet<string>>('k'))?.value).sort(),
};
const plain: Kind = {
  typed: false,
  write: (c, n, v) => c.node(n).r.space('s').put('k', v),
  read: async (c, n) => (await c.node(n).r.space('s').get<string>('k'))?.value,
};

/** Relay a (of an earlier release, [5, 6]) with clients e and w; `k` an add-wins set where `typed`. */
const relayOfTwo = (seed: number, typed: boolean, net: NonNullable<ClusterOptions['net']>) =>
  Cluster.create({
    seed,
    nodes: ['a', 'e', 'w'],
    edges: [['a', 'e'], ['a', 'w']],
    relay: 'a',
    speaks: { a: [5, 6] },
    merge: typed ? { k: merges.addWins } : {},
    link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
    net,
  });

/**
 * e writes k twice (`before`), a copy of relay a is taken, w's writes move a's log past it; e, cut off, writes k once
 * more; a is restored to its copy (e's cursor of a's log goes with it: the two repair by anti-entropy, e opening).
 * When a handles e's run claiming k, e's links drop, and e's disk is lost before anything else of k goes. Returns what
 * each node reads of k once settled.
 */
async function claimThenLoss(kind: Kind, before: [string, string], after: string): Promise<unknown[]> {
  let armed = false;
  let claimed = false;
  const box: { c?: Cluster } = {};
  const c = await relayOfTwo(2, kind.typed, {
    delivered: (from, to, frame) => {
      if (!armed || from !== 'e' || to !== 'a' || !claims(frame, 'k', [box.c!.node('e').r.replicaId, box.c!.node('a').r.replicaId])) return;
      armed = false;
      claimed = true;
      box.c!.net.crash('e');
    },
  });
  box.c = c;
  const dotsAt = async (n: string) => (await c.node(n).r.core.storage.get('s', 'k'))?.vs.map((v) => `${v.r === c.node('e').r.replicaId ? 'e' : v.r}:${v.n}`);
  for (const x of before) await kind.write(c, 'e', x);
  await c.settle();
  const copy = (c.node('a').disk as SimDisk).copy();
  for (let i = 0; i < 3; i++) await c.node('w').r.space('s').put(`w${i}`, i); // a's log moves past its copy
  await c.settle();
  c.net.partition(['e']);
  await c.clock.advance(1000);
  await kind.write(c, 'e', after);
  await c.replaceStorage('a', copy, { restored: true });
  await c.clock.advance(1000);
  expect(await dotsAt('a'), 'a holds e\'s k at 2').toEqual(['e:2']);
  armed = true;
  c.net.heal();
  for (let i = 0; i < 50 && !claimed; i++) await c.clock.advance(100);
  expect(claimed, 'e\'s run claimed k at a').toBe(true);
  expect(await dotsAt('a'), 'nothing of e\'s k at 3 reached a').not.toContain('e:3');
  await c.crash('e');
  await c.replaceStorage('e'); // e's disk is lost: its write at 3 with it
  await c.settle();
  const out = [];
  for (const n of ['a', 'w', 'e']) out.push(await kind.read(c, n));
  await c.close();
  return out;
}

describe('a claim whose state never came (its claimant lost its disk first)', () => {
  it('dropped no add of an add-wins set (far-future 1749200046 under tr49b)', async () => {
    expect(await claimThenLoss(set, ['apple', 'pear'], 'kiwi')).toEqual([['apple', 'pear'], ['apple', 'pear'], ['apple', 'pear']]);
  });

  // a's state of k crosses the link: e learns a's versions from it, and e's state comes whole (or as its context alone
  // lowered to them). Joined on the claim alone, a's k emptied everywhere when e's write never came: no node had
  // deleted it.
  it('left a plain value standing where the relay\'s state crosses the link', async () => {
    expect(await claimThenLoss(plain, ['one', 'two'], 'three')).toEqual(['two', 'two', 'two']);
  });
});

describe('claimedContext: a claim drops a typed version of ours only beside no live claimed version', () => {
  const A = 'A'.repeat(16);
  const B = 'B'.repeat(16);
  const M = 'M'.repeat(16);
  const typed = encodeValue(merges.addWins.add(undefined, A, 'apple'));
  const ours: KeyState = { vs: [{ r: A, n: 3, t: 1, c: 0, v: typed }, { r: B, n: 2, t: 1, c: 0, v: typed }], cc: { [A]: 3, [B]: 2 } };
  it('a live claimed version holds what ours held only in its merge: nothing is dropped on its dots', () => {
    expect(claimedContext(ours, { vs: [{ r: A, n: 17, t: 0, c: 0 }], cc: { [A]: 17, [B]: 2 } }, M)).toBeUndefined();
  });
  it('a claimed delete holds nothing of what it superseded: ours goes as the delete\'s join would drop it', () => {
    expect(claimedContext(ours, { vs: [{ r: A, n: 17, t: 0, c: 0, d: 1 }], cc: { [A]: 17, [B]: 2 } }, M)).toEqual({ vs: [], cc: { [A]: 3, [B]: 2 } });
    expect(claimedContext(ours, { vs: [], cc: { [A]: 17, [B]: 2 } }, M), 'collected').toEqual({ vs: [], cc: { [A]: 17, [B]: 2 } });
  });
});

// Noticed beside it, not fixed (main fails it the same): where e's set grows past the link's frame limit, its state
// goes to relay a as its context alone (fit-state.ts contextAlone: below 11 a typed state that names no epoch tells its
// context), which drops a's e:2 — apple and pear then live only in e's big set, and go with e's disk.
describe('a big typed state told as its context alone, its holder\'s disk lost', () => {
  it.fails('keeps the adds its context superseded elsewhere (the context alone of an untagged typed state)', async () => {
    const FRAME = 16 * 1024;
    const c = await relayOfTwo(5, true, { edgeFrameBytes: (x: string, y: string) => (x === 'e' || y === 'e' ? FRAME : 1 << 20) });
    try {
      await set.write(c, 'e', 'apple');
      await set.write(c, 'e', 'pear');
      await c.settle();
      c.net.partition(['e']);
      await c.clock.advance(1000);
      await set.write(c, 'e', 'k'.repeat(30 * 1024));
      await c.clock.advance(1000);
      c.net.heal();
      await c.clock.advance(3000);
      await c.crash('e');
      await c.replaceStorage('e');
      await c.settle();
      for (const n of ['a', 'w']) expect(((await set.read(c, n)) as string[]).filter((x) => x.length < 10), n).toEqual(['apple', 'pear']);
    } finally {
      await c.close();
    }
  });
});
