// Review of the epochs2 branch (docs/design/epochs-build.md, stage 2 item 5): "no behaviour change while nothing is
// tagged". Where the branch replaced a comparison, the function main used is written out here (`main…`, taken from
// main as it was before the branch) and compared with the branch's on untagged inputs; where both functions still
// exist in lib, the registry-taking one is compared with the old one under a registry that knows epochs (the call
// sites now pass ReplicaCore.epochs, which is never empty after an open). Seeded: fast-check prints the seed on
// failure, SEED=<n> replays it (test/support/setup.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { covers, coversDot, join, joinWith, update, updateWith, type KeyState, type StoredVersion, type VersionVector } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { AddWins, addWinsType, merge as addWinsMerge, type AddWinsEntry, type AddWinsSet } from '../../lib/merges/add-wins.js';
import { forkBefore, impossibleClaim } from '../../lib/restore-claims.js';
import { ccIsDots, dotsContext } from '../../lib/sync/wire-state.js';
import { normal, opsWithRestoresArb, simulate } from '../support/dvv-sim.js';

const RUNS = Number(process.env.REVIEW_RUNS ?? 300);
const IDS = ['a', 'b', 'c'] as const;

/** A registry that knows epochs of every replica (as ReplicaCore.epochs does once identities and hellos are learned). */
function knowingRegistry(): Epochs {
  const reg = new Epochs();
  reg.learn('a', [['ea1', 2], ['ea2', 5]]);
  reg.learn('b', [['eb1', 1]]);
  reg.learn('c', [['ec1', 4], ['ec2', 4], ['ec3', 9]]);
  return reg;
}

// ---- add-wins: main's join and reissue (lib/merges/add-wins.ts before the branch) ----

function mainJoin(a: AddWinsSet, b: AddWinsSet): AddWins {
  const id = (x: AddWinsEntry) => x[1] + ':' + x[2];
  const inB = new Set(b.e.map(id));
  const inA = new Set(a.e.map(id));
  const seen = (cc: Readonly<Record<string, number>>, x: AddWinsEntry) => (cc[x[1]] ?? 0) >= x[2];
  const e = [...a.e.filter((x) => inB.has(id(x)) || !seen(b.cc, x)), ...b.e.filter((x) => !inA.has(id(x)) && !seen(a.cc, x))];
  const cc: Record<string, number> = { ...a.cc };
  for (const r in b.cc) cc[r] = Math.max(cc[r] ?? 0, b.cc[r]!);
  return new AddWins(e, cc);
}

function mainJoinAll(sets: readonly AddWinsSet[]): AddWins {
  return sets.slice(1).reduce<AddWins>((acc, s) => mainJoin(acc, s), mainJoin(sets[0]!, sets[0]!));
}

function mainReissue(set: AddWinsSet, oldId: string, newId: string, base: readonly AddWinsSet[]): AddWins {
  const known = Math.max(0, ...base.map((b) => b.cc[oldId] ?? 0));
  let n = Math.max(0, ...base.map((b) => b.cc[newId] ?? 0));
  const e = set.e.map((x): AddWinsEntry => (x[1] === oldId && x[2] > known ? [x[0], newId, ++n] : x));
  const cc: Record<string, number> = { ...set.cc };
  if (n > 0) cc[newId] = Math.max(cc[newId] ?? 0, n);
  const mine = Math.min(cc[oldId] ?? 0, known);
  if (mine > 0) cc[oldId] = mine;
  else delete cc[oldId];
  const holders = base.filter((b) => (b.cc[newId] ?? 0) > 0);
  const tags = new Set<number>();
  for (const x of holders.flatMap((b) => b.e)) if (x[1] === newId && !tags.has(x[2])) e.push(x), tags.add(x[2]);
  return holders.length ? mainJoinAll([new AddWins(e, cc), ...holders]) : new AddWins(e, cc);
}

type SetOp = { t: 'add'; i: number; item: number } | { t: 'remove'; i: number; item: number } | { t: 'sync'; i: number; j: number };

const setOpsArb = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('add' as const), i: fc.nat(2), item: fc.nat(4) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), i: fc.nat(2), item: fc.nat(4) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('sync' as const), i: fc.nat(2), j: fc.nat(2) }) },
  ),
  { maxLength: 30 },
);

/** Every set three replicas held on a schedule of adds, removes and syncs (synced by main's join). */
function setPool(ops: readonly SetOp[]): AddWins[] {
  const sets: AddWins[] = IDS.map(() => new AddWins([], {}));
  const pool: AddWins[] = [...sets];
  for (const op of ops) {
    if (op.t === 'sync') sets[op.j] = mainJoin(sets[op.j]!, sets[op.i]!);
    else {
      const s = sets[op.i]!;
      const item = 'x' + op.item;
      const rest = s.e.filter((x) => x[0] !== item);
      if (op.t === 'remove') sets[op.i] = new AddWins(rest, { ...s.cc });
      else {
        const n = (s.cc[IDS[op.i]!] ?? 0) + 1;
        sets[op.i] = new AddWins([...rest, [item, IDS[op.i]!, n]], { ...s.cc, [IDS[op.i]!]: n });
      }
    }
    pool.push(sets[op.i]!, sets[op.t === 'sync' ? op.j : op.i]!);
  }
  return pool;
}

/**
 * Plain `{ e, cc }` sets as stored before sets carried their type (the `merge` function still takes them): any shape —
 * but one item a tag (the item follows from the tag): where sets hold one tag for different items (a forged tag) the
 * join keeps the lesser entry whatever the order of its inputs, where main's kept the first input's (rev50,
 * test/review/typed-canonical.test.ts).
 */
const plainSetArb: fc.Arbitrary<AddWinsSet> = fc.record({
  e: fc.array(fc.tuple(fc.constantFrom(...IDS), fc.integer({ min: 1, max: 6 })).map(([r, n]) => [['x', 'y', 'z'][(IDS.indexOf(r) * 7 + n) % 3]!, r, n] as const), { maxLength: 6 }),
  cc: fc.dictionary(fc.constantFrom(...IDS), fc.nat(6)),
}) as fc.Arbitrary<AddWinsSet>;

const bytes = (s: AddWins) => Buffer.from(addWinsType.encode(s)).toString();

describe('epochs2 review: add-wins on untagged sets is main’s add-wins', () => {
  it('the typed merge (with and without a registry) gives main’s join, byte for byte, and no pts field', () => {
    const reg = knowingRegistry();
    fc.assert(
      fc.property(setOpsArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (ops, picks) => {
        const pool = setPool(ops);
        const sets = picks.map((p) => pool[p % pool.length]!);
        const want = mainJoinAll(sets);
        for (const got of [addWinsType.merge(sets), addWinsType.merge(sets, reg), addWinsMerge(sets, undefined as never) as AddWins]) {
          expect(bytes(got)).toBe(bytes(want));
          expect(Object.keys(got)).toEqual(Object.keys(want));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('the merge function on plain { e, cc } sets of any shape gives main’s join', () => {
    fc.assert(
      fc.property(fc.array(plainSetArb, { minLength: 1, maxLength: 4 }), (sets) => {
        const got = addWinsMerge(sets, undefined as never) as AddWins;
        const want = mainJoinAll(sets);
        expect({ e: got.e, cc: got.cc }).toEqual({ e: want.e, cc: want.cc });
        expect(Object.keys(got)).toEqual(Object.keys(want));
      }),
      { numRuns: RUNS },
    );
  });

  it('reissue gives main’s reissue', () => {
    fc.assert(
      fc.property(setOpsArb, fc.nat(), fc.array(fc.nat(), { maxLength: 3 }), fc.constantFrom(...IDS), (ops, at, bases, oldId) => {
        const pool = setPool(ops);
        const set = pool[at % pool.length]!;
        const base = bases.map((p) => pool[p % pool.length]!);
        const got = addWinsType.reissue!(set, oldId, 'n', base);
        const want = mainReissue(set, oldId, 'n', base);
        expect(bytes(got)).toBe(bytes(want));
        expect(Object.keys(got)).toEqual(Object.keys(want));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- dvv and the wire's implied context ----

/** main's ccIsDots (lib/sync/wire-state.ts before the branch). */
function mainCcIsDots(s: KeyState): boolean {
  let n = 0;
  for (const r in s.cc) {
    n++;
    let top = 0;
    for (const v of s.vs) if (v.r === r && v.n > top) top = v.n;
    if (top !== s.cc[r]) return false;
  }
  const writers = new Set(s.vs.map((v) => v.r)).size;
  return n === writers;
}

function mainImplied(vs: readonly StoredVersion[]): VersionVector {
  const cc: Record<string, number> = {};
  for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
  return cc;
}

describe('epochs2 review: untagged states judged with a registry that knows epochs are judged as before', () => {
  it('joinWith, updateWith and coversDot under a knowing registry equal join, update and covers', () => {
    const reg = knowingRegistry();
    fc.assert(
      fc.property(opsWithRestoresArb, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 12 }), (ops, i, j, n) => {
        const { pool } = simulate(ops);
        const a = pool[i % pool.length]!;
        const b = pool[j % pool.length]!;
        expect(normal(joinWith(reg, a, b))).toEqual(normal(join(a, b)));
        const v: StoredVersion = { r: 'a', n: 100, t: 1, c: 0, v: '"w"' };
        expect(normal(updateWith(reg, a, a, v))).toEqual(normal(update(a, a.cc, v)));
        expect(normal(updateWith(reg, a, { cc: b.cc }, v))).toEqual(normal(update(a, b.cc, v)));
        for (const r of IDS) expect(coversDot(reg, a, r, undefined, n)).toBe(covers(a.cc, r, n));
      }),
      { numRuns: RUNS },
    );
  });

  it('ccIsDots and the implied context are main’s for untagged states, explicit contexts included', () => {
    fc.assert(
      fc.property(opsWithRestoresArb, fc.nat(), fc.nat(), (ops, i, j) => {
        const { pool } = simulate(ops);
        const a = pool[i % pool.length]!;
        // a state with another state's context: often not its versions' own dots
        const mixed: KeyState = { vs: a.vs, cc: { ...pool[j % pool.length]!.cc, ...mainImplied(a.vs) } };
        for (const s of [a, mixed]) {
          expect(ccIsDots(s)).toBe(mainCcIsDots(s));
          const implied = dotsContext(s.vs);
          expect(implied.pts).toBeUndefined();
          expect(implied.cc).toEqual(mainImplied(s.vs));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- restore claims: main's judgement of our own versions (lib/restore-claims.ts before the branch) ----

function mainImpossibleClaim(states: ReadonlyArray<readonly [string, KeyState]>, me: string, top: number, held: ReadonlyArray<KeyState | undefined>): number {
  let worst = 0;
  const check = (n: number) => {
    if (n > worst && n > top) worst = n;
  };
  for (let i = 0; i < states.length; i++) {
    const s = states[i]![1];
    const c = s.cc[me];
    if (typeof c === 'number') check(c);
    for (const v of s.vs) {
      if (v.r !== me) continue;
      check(v.n);
      if (v.n > worst && !covers((held[i] ?? { vs: [], cc: {} }).cc, me, v.n)) worst = v.n;
    }
  }
  return worst;
}

function mainForkBefore(point: number, states: ReadonlyArray<readonly [string, KeyState]>, held: ReadonlyArray<KeyState | undefined>, me: string, history: ReadonlyArray<readonly [string, number]>): number {
  let p = point;
  const parted = (n: number) => {
    if (n > p) return;
    for (let j = history.length - 1; j >= 0; j--) {
      if (history[j]![1] < n) {
        p = Math.min(p, history[j]![1]);
        return;
      }
    }
    p = 0;
  };
  for (let i = 0; i < states.length; i++) {
    const s = states[i]![1];
    const seen = held[i]?.cc[me] ?? 0;
    const c = s.cc[me];
    if (typeof c === 'number' && c > seen) parted(c);
    for (const v of s.vs) if (v.r === me && v.n > seen) parted(v.n);
  }
  return p;
}

describe('epochs2 review: restore claims judge untagged versions of ours as main did', () => {
  it('impossibleClaim and forkBefore under a knowing registry equal main’s', () => {
    const reg = knowingRegistry();
    fc.assert(
      fc.property(opsWithRestoresArb, fc.array(fc.tuple(fc.nat(), fc.option(fc.nat())), { minLength: 1, maxLength: 5 }), fc.nat(12), fc.nat(12), (ops, picks, top, point) => {
        const { pool } = simulate(ops);
        const states = picks.map(([i], k) => ['k' + k, pool[i % pool.length]!] as const);
        const held = picks.map(([, j]) => (j === null ? undefined : pool[j % pool.length]!));
        const history: Array<readonly [string, number]> = [['e1', 0], ['e2', 3], ['e3', 7]];
        expect(impossibleClaim(states, 'a', top, undefined, held, reg)).toBe(mainImpossibleClaim(states, 'a', top, held));
        expect(forkBefore(point, states, held, 'a', history, reg)).toBe(mainForkBefore(point, states, held, 'a', history));
      }),
      { numRuns: RUNS },
    );
  });
});
