// Add-wins tags naming their epoch (docs/design/epochs-build.md, item 1: "Left: add-wins tags naming epochs").
// A replica restored from an older copy of its storage mints again the per-set tag counters its lost branch used.
// Inside a write of a replica that tags its dots, `add` names the write's epoch (minting.ts), so the restored
// branch's tags are other tags than the lost branch's, and a set context that saw a lost tag does not cover the new
// one. The join judges by no registry (every epoch a root: the same value on every replica whatever epoch records it
// learned), so a set keeps one point per epoch a replica added in, which is what lets a remove made after a restore
// still cover the older epochs' tags it saw.
//
// The property runs schedules of adds, removes, one-way syncs, reopens (a fresh epoch), copies and restores from a
// copy (a fresh epoch, the copy's state), against the causal specification of an observed-remove set: an add is
// undone exactly by a remove or re-add of its item whose replica had seen it. Replay a failure with AW_SEED=<seed>
// (fast-check prints the seed and path).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { merges, type AddWinsSet } from '../lib/index.js';
import * as addWinsModule from '../lib/merges/add-wins.js';
import { addWinsType, type AddWins } from '../lib/merges/add-wins.js';
import { mintingAs, mintingEpoch } from '../lib/minting.js';
import { EPOCH_DOTS } from '../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../lib/sync/messages.js';
import { journaledCluster } from './sync/restore-support.js';
import { SPEAKS_10 } from './support/raw-versions.js';

const { add, remove, values, empty } = merges.addWins;
const RUNS = Number(process.env.AW_RUNS ?? 1000);
const SEED = process.env.AW_SEED !== undefined ? Number(process.env.AW_SEED) : undefined;
const ITEMS = ['apple', 'fig'];
const REPLICAS = ['ra', 'rb', 'rc'];

type Op =
  | { k: 'add' | 'remove'; r: number; item: number }
  | { k: 'sync'; from: number; to: number }
  | { k: 'copy'; r: number }
  | { k: 'reopen'; r: number }
  | { k: 'restore'; r: number; copy: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constantFrom('add' as const, 'remove' as const), r: fc.nat(2), item: fc.nat(ITEMS.length - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('copy' as const), r: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reopen' as const), r: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('restore' as const), r: fc.nat(2), copy: fc.nat(5) }) },
);

/** One add or remove as the specification sees it: its item, and the events its replica had seen when it ran. */
interface Event {
  readonly kind: 'add' | 'remove';
  readonly item: string;
  readonly past: ReadonlySet<number>;
}

interface Node {
  set: AddWins<string>;
  seen: Set<number>;
  epoch: string;
  /** Whether its writes tag (a replica starts tagging at an open speaking 11; a restore's open here always does). */
  tags: boolean;
  opens: number;
  copies: Array<{ set: AddWins<string>; seen: Set<number> }>;
}

/** What the set must hold once every state is joined: the items with an add that no event of the item saw. */
function expected(events: readonly Event[], final: ReadonlySet<number>): string[] {
  const live = new Set<string>();
  for (const a of final) {
    const ev = events[a]!;
    if (ev.kind !== 'add') continue;
    const undone = [...final].some((b) => b !== a && events[b]!.item === ev.item && events[b]!.past.has(a));
    if (!undone) live.add(ev.item);
  }
  return [...live].sort();
}

interface Run {
  nodes: Node[];
  events: Event[];
  /** A restored branch minted a tag (r, n) that a tag of the same replica and counter minted on another branch shares. */
  reminted: boolean;
}

/** Plays `ops`; `tagged` 0..3: how many replicas tag from their first open (the others start at a reopen or restore). */
function play(ops: readonly Op[], tagged: number): Run {
  const events: Event[] = [];
  const minted = new Map<string, string>();
  let reminted = false;
  const nodes: Node[] = REPLICAS.map((r, i) => ({ set: empty<string>(), seen: new Set(), epoch: `${r}-0`, tags: i < tagged, opens: 0, copies: [] }));
  const reopen = (n: Node, i: number) => {
    n.opens++;
    n.epoch = `${REPLICAS[i]}-${n.opens}`;
    n.tags = true;
  };
  for (const op of ops) {
    if (op.k === 'add' || op.k === 'remove') {
      const n = nodes[op.r]!;
      const r = REPLICAS[op.r]!;
      const item = ITEMS[op.item]!;
      events.push({ kind: op.k, item, past: new Set(n.seen) });
      n.set = op.k === 'add' ? mintingAs(r, n.tags ? n.epoch : undefined, () => add(n.set, r, item)) : remove(n.set, item);
      n.seen.add(events.length - 1);
      if (op.k === 'add') {
        const tag = n.set.e.find((x) => x[0] === item && x[1] === r)!;
        const key = `${r}:${tag[2]}`;
        const whole = key + '@' + (tag[3] ?? '');
        if (minted.has(key) && minted.get(key) !== whole) reminted = true;
        minted.set(key, whole);
      }
    } else if (op.k === 'sync') {
      const from = nodes[op.from]!;
      const to = nodes[op.to]!;
      to.set = join([to.set, from.set]);
      for (const e of from.seen) to.seen.add(e);
    } else if (op.k === 'copy') {
      const n = nodes[op.r]!;
      n.copies.push({ set: n.set, seen: new Set(n.seen) });
    } else if (op.k === 'reopen') {
      reopen(nodes[op.r]!, op.r);
    } else if (op.k === 'restore') {
      const n = nodes[op.r]!;
      if (n.copies.length === 0) continue;
      const c = n.copies[op.copy % n.copies.length]!;
      n.set = c.set;
      n.seen = new Set(c.seen);
      reopen(n, op.r);
    }
  }
  return { nodes, events, reminted };
}

/** The typed join, of string sets. */
const join = (sets: readonly AddWins<string>[]): AddWins<string> => addWinsType.merge(sets) as AddWins<string>;
const encoded = (s: AddWinsSet): string => Buffer.from(addWinsType.encode(s as AddWins)).toString('hex');

describe('add-wins tags naming their epoch', () => {
  it('an add made after a restore survives a context that saw the lost branch’s tag; removes still remove; every order of joins gives one value (no registry)', () => {
    let remints = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40, size: 'max' }), fc.nat(3), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (ops, tagged, order) => {
        const { nodes, events, reminted } = play(ops, tagged);
        if (reminted) remints++;
        const states = nodes.map((n) => n.set);
        const final = new Set(nodes.flatMap((n) => [...n.seen]));
        const joined = addWinsType.merge(states);
        // The specification, restores included: nothing dropped, nothing removed comes back.
        expect(values(joined)).toEqual(expected(events, final));
        // Convergence without a registry: any order and grouping of the joins gives the same bytes.
        const shuffled = [...states].sort((a, b) => order[states.indexOf(a)]! - order[states.indexOf(b)]!);
        const stepwise = shuffled.reduce((acc, s) => join([s, acc]));
        expect(encoded(stepwise)).toBe(encoded(joined));
        // Each replica, once it has joined every other state, holds that value; it decodes to itself (a valid set).
        for (const s of states) expect(encoded(addWinsType.merge([s, ...states]))).toBe(encoded(joined));
        expect(encoded(addWinsType.decode(addWinsType.encode(joined)))).toBe(encoded(joined));
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    // The schedules did reach the case: a restored branch re-minting a counter another branch's tag used.
    expect(remints).toBeGreaterThan(RUNS / 20);
  });

  it('the restored branch’s tag is another tag than the lost one: a context that saw the lost fig keeps the new one', () => {
    // e adds apple and takes a copy; adds fig (lost branch), which a sees; e is restored to the copy and adds fig again.
    const ep = (n: number) => `e-${n}`;
    let e = mintingAs('e', ep(0), () => add(empty<string>(), 'e', 'apple'));
    const copy = e;
    e = mintingAs('e', ep(0), () => add(e, 'e', 'fig'));
    let a = join([empty<string>(), e]);
    a = remove(a, 'fig'); // a removes the lost fig: its context covers e's (e-0, 2)
    e = mintingAs('e', ep(1), () => add(copy, 'e', 'fig')); // the restored e re-mints counter 2, in its new epoch
    expect(e.e.find((x) => x[0] === 'fig')).toEqual(['fig', 'e', 2, ep(1)]);
    // e's context keeps the copy's point beside the new one: a remove of apple here still covers (e-0, 1).
    expect(e.pts).toEqual({ e: [{ e: ep(0), n: 1 }, { e: ep(1), n: 2 }] });
    e = remove(e, 'apple');
    for (const v of [addWinsType.merge([a, e]), addWinsType.merge([e, a])]) expect(values(v)).toEqual(['fig']);
  });

  it('outside a tagging write, or for another replica id, add mints untagged tags (the sets of a default replica, byte for byte)', () => {
    expect(mintingEpoch('e')).toBeUndefined();
    const plain = add(empty<string>(), 'e', 'x');
    expect(plain.e).toEqual([['x', 'e', 1]]);
    expect('pts' in plain).toBe(false);
    expect(mintingAs('e', undefined, () => add(empty<string>(), 'e', 'x'))).toEqual(plain);
    expect(mintingAs('other', 'o-1', () => add(empty<string>(), 'e', 'x'))).toEqual(plain);
    expect(mintingAs('e', 'e-1', () => mintingEpoch('e'))).toBe('e-1');
    expect(mintingEpoch('e')).toBeUndefined();
  });
});

describe('a set of many points', () => {
  it('a join reads each point of a context a bounded number of times, not once per tag (a hostile value within the size limit)', () => {
    // Every point of replica r, read through a proxy that counts reads of its elements.
    const P = 300;
    const label = (i: number) => 'E' + String(i).padStart(4, '0');
    let reads = 0;
    // The holder's points name other epochs than the tags': it saw none of them, so the join keeps every tag.
    const points = Array.from({ length: P }, (_, i) => ({ e: 'F' + label(i), n: i + 1 }));
    const counted = new Proxy(points, {
      get(t, k, rcv) {
        if (typeof k === 'string' && /^[0-9]+$/.test(k)) reads++;
        return Reflect.get(t, k, rcv) as unknown;
      },
    });
    const { AddWins } = addWinsModule;
    const holder = new AddWins<string>([], { r: P }, { r: counted });
    const tags = new AddWins<string>(Array.from({ length: P }, (_, i) => ['x' + i, 'r', i + 1, label(i)] as const).map((x) => [...x]) as never, { r: P }, { r: Array.from({ length: P }, (_, i) => ({ e: label(i), n: i + 1 })) });
    const joined = join([tags, holder]);
    expect(values(joined)).toEqual(values(tags)); // each tag held by one side, unseen by the other: kept
    expect(reads).toBeLessThan(10 * P);
  });
});

describe('through replicas speaking 11', () => {
  const WITH_11 = [...PROTOCOL_VERSIONS, EPOCH_DOTS];
  const list = async (c: Awaited<ReturnType<typeof journaledCluster>>['c'], n: string) => values((await c.node(n).r.space('s').get('list'))?.value as AddWinsSet<string>);

  it('space.update names the replica’s epoch in its tags; a replica of 10’s are untagged', async () => {
    for (const speaks of [WITH_11, SPEAKS_10]) {
      // a meets b first: a storage tags once it met a peer speaking 11 (item 6), a fresh one from that meeting.
      const { c } = await journaledCluster(3, ['a', 'b'], [['a', 'b']], undefined, speaks);
      await c.settle();
      const r = c.node('a').r;
      await r.space('s').update<AddWinsSet<string>>('list', (s) => add(s, r.replicaId, 'x'));
      const got = (await r.space('s').get('list'))!;
      const set = got.value as AddWins<string>;
      // A lone add's tag takes the write's own dot's counter (minting.ts: tags go above the log's seq).
      const n = got.versions[0]!.counter;
      expect(set.e).toEqual(speaks === WITH_11 ? [['x', r.replicaId, n, r.core.epoch]] : [['x', r.replicaId, n]]);
      await c.close();
    }
  });

  it('a replica restored from a copy adds an item again under a counter its lost branch used: kept everywhere; its remove of an item of the copy removes it', async () => {
    const { c, journals } = await journaledCluster(7, ['a', 'b'], [['a', 'b']], undefined, WITH_11);
    const on = (n: string) => c.node(n).r.space('s');
    const addOn = (n: string, item: string) => on(n).update<AddWinsSet<string>>('list', (s) => add(s, c.node(n).r.replicaId, item));
    await addOn('a', 'apple');
    await c.settle();
    const backup = journals.get('a')!.mark;
    await addOn('a', 'pear'); // a's tag 2, lost with its disk; b holds it
    await c.settle();
    await on('b').update<AddWinsSet<string>>('list', (s) => remove(s, 'pear')); // b's context saw a's tag 2
    await c.settle();
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backup));
    await addOn('a', 'fig'); // the restored a mints tag 2 again
    await on('a').update<AddWinsSet<string>>('list', (s) => remove(s, 'apple')); // apple: a tag of the copy
    c.net.heal();
    await c.settle();
    for (const n of ['a', 'b']) expect(await list(c, n), n).toEqual(['fig']);
    await c.close();
  });
});
