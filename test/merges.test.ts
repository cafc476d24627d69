import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMerge, merges, type Replica } from '../lib/index.js';
import type { AddWins, AddWinsSet, CounterValue } from '../lib/merges/index.js';
import * as addWinsType from '../lib/merges/add-wins.js';
import { replicas, sync, testSeed } from './support/replicas.js';

/** One seed for this file's samples (SEED=<n> replays); printed with every failure. */
const SEED = testSeed();

const { lww, union, max, fields, counter, addWins } = merges;
const info = { key: 'k', space: 's', versions: [] };

const scalar = fc.oneof(
  fc.integer({ min: -50, max: 50 }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 4 }),
  fc.bigInt({ min: -50n, max: 50n }),
  fc.date({ min: new Date(0), max: new Date(10_000) }),
  fc.boolean(),
  fc.constant(null),
);
const rich = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 3 }).map((a) => new Set(a)),
  fc.array(fc.tuple(fc.string({ maxLength: 2 }), scalar), { maxLength: 3 }).map((e) => new Map(e)),
);

async function expectLawful(fn: Parameters<typeof checkMerge>[0], samples: Parameters<typeof checkMerge>[1], runs = 300) {
  const result = await checkMerge(fn, samples, { runs, seed: SEED });
  expect(result, `SEED=${SEED} ` + JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toMatchObject({ ok: true });
}

/** Reachable CRDT values: replicas change their own copy with a helper, or merge another's in. */
function reachable<T>(start: T, step: (v: T, replica: string, choice: number) => T, merge: (a: T, b: T) => T, minLength = 1, maxLength = 25) {
  return fc.array(fc.tuple(fc.nat(2), fc.nat(2), fc.boolean(), fc.nat(1000)), { minLength, maxLength }).map((ops) => {
    const ids = ['ra', 'rb', 'rc'];
    const copies = ids.map(() => start);
    const seen: T[] = [];
    for (const [i, j, isMerge, choice] of ops) {
      copies[i] = isMerge ? merge(copies[i]!, copies[j]!) : step(copies[i]!, ids[i]!, choice);
      seen.push(copies[i]!);
    }
    return seen;
  });
}
/**
 * The states of one history (states of different histories may give one dot different contents, which no
 * real replica set can reach), as checkMerge samples.
 */
const history = <T>(arb: fc.Arbitrary<T[]>) => fc.sample(arb, { numRuns: 1, seed: SEED })[0]!;

const counters = (min = 1, max = 25) =>
  reachable<CounterValue>(counter.zero(), (v, r, c) => counter.increment(v, r, (c % 7) - 3), (a, b) => counter([a, b], info), min, max);
const addWinsSets = (min = 1, max = 25) =>
  reachable<AddWinsSet<unknown>>(
  addWins.empty(),
  (v, r, c) => (c % 3 === 0 ? addWins.remove(v, ['milk', 1n, new Date(5)][c % 3]) : addWins.add(v, r, ['milk', 1n, new Date(5), 'eggs'][c % 4])),
  (a, b) => addWins([a, b], info) as AddWinsSet<unknown>,
  min,
  max,
);

describe('built-in merges pass checkMerge', () => {
  it('lww (any values, Map/Set/Date/BigInt included)', () => expectLawful(lww, rich));
  it('union of arrays (canonical: sorted, unique) and of Sets', async () => {
    await expectLawful(union, fc.array(scalar, { maxLength: 4 }).map((a) => union([a], info)));
    await expectLawful(union, fc.array(scalar, { maxLength: 4 }).map((a) => new Set(a)));
  });
  it('max over numbers, bigints, dates, strings', () => expectLawful(max, scalar));
  it('fields over nested objects', () => {
    const { obj } = fc.letrec((tie) => ({
      obj: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof({ depthSize: 'small' }, scalar, tie('obj')), { maxKeys: 3 }),
    }));
    return expectLawful(fields, obj);
  });
  it('counter', () => expectLawful(counter, history(counters(80, 120))));
  it('addWins', () => expectLawful(addWins, history(addWinsSets(80, 120))));
});

describe('canonical output', () => {
  it('union is sorted and de-duplicated whatever the input order', () => {
    expect(union([['b', 'a'], ['c', 'a']], info)).toEqual(['a', 'b', 'c']);
    expect(union([['c', 'a'], ['b', 'a']], info)).toEqual(['a', 'b', 'c']);
    expect(union([[3, 1], [2, 10]], info)).toEqual([1, 2, 3, 10]);
    const s = union([new Set([3, 1]), new Set([2])], info) as Set<number>;
    expect(s).toBeInstanceOf(Set);
    expect([...s]).toEqual([1, 2, 3]);
    expect(union([[new Date(2), new Date(1)], [new Date(1)]], info)).toEqual([new Date(1), new Date(2)]);
  });

  it('max compares by magnitude, fields merge nested objects', () => {
    expect(max([2, 10, 3], info)).toBe(10);
    expect(max([2n, 10n], info)).toBe(10n);
    expect(max([new Date(5), new Date(50)], info)).toEqual(new Date(50));
    expect(fields([{ a: 1, n: { x: 1 } }, { b: 2, n: { y: 2 } }], info)).toEqual({ a: 1, b: 2, n: { x: 1, y: 2 } });
  });
});

async function pair(merge: Record<string, (...a: never[]) => unknown>): Promise<[Replica, Replica]> {
  return (await replicas(2, { merge: merge as never })) as [Replica, Replica];
}

describe('counter', () => {
  it('concurrent increments on different replicas sum', async () => {
    const [a, b] = await pair({ 'likes/*': counter });
    for (let i = 0; i < 5; i++) await a.space('s').update<CounterValue>('likes/p', (c) => counter.increment(c, a.replicaId, 1));
    for (let i = 0; i < 3; i++) await b.space('s').update<CounterValue>('likes/p', (c) => counter.increment(c, b.replicaId, 2));
    await b.space('s').update<CounterValue>('likes/p', (c) => counter.increment(c, b.replicaId, -1));
    await sync(a, b, 's', ['likes/p']);
    for (const r of [a, b]) expect(counter.value((await r.space('s').get<CounterValue>('likes/p'))!.value)).toBe(10);
  });
});

describe('addWins', () => {
  it('a concurrent add wins over a remove; a removed item stays removed; re-adding works', async () => {
    const [a, b] = await pair({ 'list/*': addWins });
    const sa = a.space('s');
    const sb = b.space('s');
    const key = 'list/x';
    await sa.update<AddWinsSet>(key, (v) => addWins.add(v, a.replicaId, 'milk', 'eggs', 'bread'));
    await sync(a, b, 's', [key]);
    await sa.update<AddWinsSet>(key, (v) => addWins.remove(v, 'milk', 'bread'));
    await sb.update<AddWinsSet>(key, (v) => addWins.add(v, b.replicaId, 'milk')); // concurrent with the remove
    await sync(a, b, 's', [key]);
    for (const s of [sa, sb]) expect(addWins.values((await s.get<AddWinsSet>(key))!.value)).toEqual(['eggs', 'milk']);
    // bread was removed and nobody re-added it: it stays removed through further merges.
    await sb.update<AddWinsSet>(key, (v) => addWins.add(v, b.replicaId, 'jam'));
    await sync(a, b, 's', [key]);
    expect(addWins.values((await sa.get<AddWinsSet>(key))!.value)).toEqual(['eggs', 'jam', 'milk']);
    await sa.update<AddWinsSet>(key, (v) => addWins.add(v, a.replicaId, 'bread'));
    await sync(a, b, 's', [key]);
    for (const s of [sa, sb]) expect(addWins.values((await s.get<AddWinsSet>(key))!.value)).toEqual(['bread', 'eggs', 'jam', 'milk']);
  });

  it('re-issued under a new replica id, it moves only the tags its base does not know, and keeps them apart from siblings', () => {
    const base = addWins.add(addWins.add(undefined, 'old', 'a'), 'old', 'b'); // old:1, old:2
    const written = addWins.add(addWins.remove(base, 'a'), 'old', 'c', 'd'); // after the restore: old:3, old:4
    const moved = addWinsType.addWinsType.reissue!(written as AddWins, 'old', 'new', [base as AddWins]);
    expect(moved.e).toEqual([['b', 'old', 2], ['c', 'new', 1], ['d', 'new', 2]]);
    expect(moved.cc).toEqual({ new: 2, old: 2 });
    // A second sibling re-issued beside it takes the tags after those, and holds the first's (a context counts
    // tags without gaps: it would otherwise take them for removed).
    const other = addWinsType.addWinsType.reissue!(addWins.add(base, 'old', 'e') as AddWins, 'old', 'new', [base as AddWins, moved]);
    expect(other.e.filter((x) => x[1] === 'new')).toEqual([['c', 'new', 1], ['d', 'new', 2], ['e', 'new', 3]]);
    // The lost writes used old:3 for another item: joined, nothing is taken for anything else.
    const lost = addWins.add(base, 'old', 'lost');
    expect(addWins.values(addWinsType.addWinsType.merge([moved, other, lost as AddWins]) as AddWinsSet<string>)).toEqual(['b', 'c', 'd', 'e', 'lost']);
    // With no base, every tag of the old id moves (each item is added again), and its context goes.
    const alone = addWinsType.addWinsType.reissue!(written as AddWins, 'old', 'new', []);
    expect(alone.cc).toEqual({ new: 3 });
    expect(addWins.values(alone)).toEqual(['b', 'c', 'd']);
  });
});
