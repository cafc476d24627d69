// Typed CRDT values (counters, add-wins sets) against a malformed or hostile sibling that arrives from a peer. The
// merge functions `merges.addWins` and `merges.counter` also take plain `{ e, cc }` / `{ p, n }` siblings (stored before
// those values carried their type) of any shape, and a read writes what they give back as a typed value: a plain
// `{ e: [5], cc: {} }` beside good sets gave a "set" holding 5, written back over the good versions, which no replica's
// decoder takes — the key then read as malformed for everyone. A counter key named like an inherited member
// ('constructor') merged to NaN the same way. Wanted: the bad version is left out of the merge and reported (malformed,
// on the replica's error event), the good siblings' merge is what reads show and what is written back, and a later
// good write replaces the bad one. Seeded: the differential prints its seed; SEED=<n> replays it.
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError, memoryStorage, merges, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { valueOf } from '../../lib/deltas.js';
import { AddWins, addWinsType, type AddWinsSet } from '../../lib/merges/add-wins.js';
import { Counter, counterType, type CounterValue } from '../../lib/merges/counter.js';
import { typedBytes } from '../../lib/typed.js';
import { decodeValue, encodeValue } from '../../lib/values.js';
import { exchange, prng, testSeed } from '../support/replicas.js';
import { synced, until } from '../sync/support.js';

const { addWins, counter } = merges;
const merge = { 'list/*': merges.addWins, 'n/*': merges.counter };
const open: Replica[] = [];
const links: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), merge });
  r.space('s');
  open.push(r);
  return r;
}

/** Connects `hub` to each of `peers` and waits until all are synced. */
async function syncAll(hub: Replica, ...peers: Replica[]): Promise<void> {
  for (const p of peers) {
    const [th, tp] = pairTransports();
    links.push(hub.connect(th, { antiEntropyInterval: 0 }), p.connect(tp, { antiEntropyInterval: 0 }));
  }
  await synced(hub, ...peers);
}

/** Every live stored version of the key decodes (no read of it can report a malformed value). */
async function liveDecodes(r: Replica, key: string): Promise<unknown[]> {
  const rec = await r.core.storage.get('s', key);
  return (rec?.vs ?? []).filter((v) => !v.d).map((v) => decodeValue(valueOf(v)));
}

function errorsOf(r: Replica): unknown[] {
  const errors: unknown[] = [];
  r.on('error', (e) => errors.push(e));
  return errors;
}

/** Replicas a, b, c: a added 'milk' to the set at `key`, c (concurrently) 'eggs'; b is left to the test (the hostile one). */
async function twoGoodSets(key: string): Promise<[Replica, Replica, Replica]> {
  const [a, b, c] = [await replica(), await replica(), await replica()];
  await a.space('s').update(key, (s) => addWins.add(s as AddWinsSet | undefined, a.replicaId, 'milk'));
  await c.space('s').update(key, (s) => addWins.add(s as AddWinsSet | undefined, c.replicaId, 'eggs'));
  return [a, b, c];
}

describe('a malformed plain sibling of a registered add-wins merge, from a peer', () => {
  it('is left out and reported; the good sets merge and are written back; a later good write replaces it', async () => {
    const [a, b, c] = await twoGoodSets('list/x');
    const errors = errorsOf(a);
    await b.space('s').put('list/x', { e: [5], cc: {} }); // b: a hostile (or buggy) writer, concurrent
    await syncAll(a, b, c);
    const got = await a.space('s').get('list/x');
    expect(addWins.values(got!.value as AddWinsSet)).toEqual(['eggs', 'milk']);
    expect(errors.some((e) => e instanceof ConcordError && e.code === 'CORRUPT')).toBe(true);
    // What the read wrote back decodes: the key is readable everywhere, with the good state.
    const stored = await liveDecodes(a, 'list/x');
    expect(stored).toHaveLength(1);
    expect(addWins.values(stored[0] as AddWins)).toEqual(['eggs', 'milk']);
    // The hostile writer's own next good write supersedes its bad version there too.
    await b.space('s').update('list/x', (s) => addWins.add(s as AddWinsSet | undefined, b.replicaId, 'tea'));
    await b.whenSynced();
    await a.whenSynced();
    const after = await liveDecodes(b, 'list/x');
    expect(after.map((v) => addWins.values(v as AddWins))).toEqual([['eggs', 'milk', 'tea']]);
  });

  it('a lone bad version (none the merge takes) shows as it is, unmerged and reported, and nothing is written back', async () => {
    const [a, b] = [await replica(), await replica()];
    const errors = errorsOf(a);
    const events: unknown[] = [];
    a.space('s').subscribe('list/*', (e) => events.push(e.value));
    await b.space('s').put('list/z', { e: [5], cc: {} });
    await b.space('s').put('list/w', { e: [6], cc: {} });
    await a.space('s').put('list/w', { e: [7], cc: {} }); // two bad siblings: not merged either
    await syncAll(a, b);
    await until(() => events.length > 1, 'change events on a');
    expect(events).toContainEqual({ e: [5], cc: {} });
    expect((await a.space('s').get('list/z'))!.value).toEqual({ e: [5], cc: {} });
    const two = await a.space('s').get('list/w');
    expect(two!.conflict).toBe(true);
    expect(two!.siblings).toHaveLength(2);
    expect(errors.some((e) => e instanceof ConcordError && e.code === 'CORRUPT')).toBe(true);
    expect((await a.core.storage.get('s', 'list/w'))!.vs.filter((v) => !v.d)).toHaveLength(2); // no read repair
    // The helpers refuse to build on it (a set made from it would not decode); a write of a set replaces it.
    expect(() => addWins.add({ e: [5], cc: {} } as never, b.replicaId, 'tea')).toThrow(TypeError);
    await b.space('s').update('list/z', (s) => addWins.add(addWins.refuses(s) === undefined ? (s as AddWinsSet) : undefined, b.replicaId, 'tea'));
    await until(async () => addWins.refuses((await a.space('s').get('list/z'))!.value) === undefined, 'the good write on a');
    expect(addWins.values((await a.space('s').get('list/z'))!.value as AddWinsSet)).toEqual(['tea']);
  });

  it('a typed set with two entries under one tag does not decode (the join kept one or the other by input order)', () => {
    const good = new AddWins([['milk', 'zz', 1]], { zz: 1 });
    const dup = new AddWins([['milk', 'zz', 1], ['evil', 'zz', 1]], { zz: 1 });
    expect(() => addWinsType.decode(addWinsType.encode(dup))).toThrow(TypeError);
    expect(() => decodeValue(encodeValue(dup))).toThrow(ConcordError);
    expect(addWinsType.decode(addWinsType.encode(good))).toEqual(good);
  });

  it('a set whose tag names a replica called like an inherited member is refused, not merged into an undecodable set', async () => {
    const [a, b, c] = await twoGoodSets('list/y');
    await b.space('s').put('list/y', { e: [['x', 'constructor', 3]], cc: {} });
    await syncAll(a, b, c);
    const got = await a.space('s').get('list/y');
    expect(addWins.values(got!.value as AddWinsSet)).toEqual(['eggs', 'milk']);
    expect((await liveDecodes(a, 'list/y')).map((v) => addWins.values(v as AddWins))).toEqual([['eggs', 'milk']]);
    expect(() => addWins.add(undefined, 'constructor', 'x')).toThrow(TypeError);
  });
});

describe('counters against a hostile sibling, from a peer', () => {
  it('a typed counter keyed by an inherited member name merges to a number, not NaN', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    await a.space('s').update('c/x', (v) => counter.increment(v as CounterValue | undefined, a.replicaId, 1));
    await c.space('s').update('c/x', (v) => counter.increment(v as CounterValue | undefined, c.replicaId, 2));
    await b.space('s').put('c/x', new Counter({ constructor: 5, toString: 4 }, {}));
    await syncAll(a, b, c);
    const got = await a.space('s').get('c/x');
    expect(counter.value(got!.value as Counter)).toBe(12);
    const stored = await liveDecodes(a, 'c/x');
    expect(stored.map((v) => counter.value(v as Counter))).toEqual([12]);
    // And it grows as a delta against the merged base, key for key (the receiver's copy equals the sender's).
    await b.whenSynced();
    expect(counter.value((await b.space('s').get('c/x'))!.value as Counter)).toBe(12);
  });

  it('increment by a replica named like an inherited member counts from 0 (it made a string, which no decoder takes)', () => {
    const c = counter.increment(counter.increment(undefined, 'constructor', 5), 'constructor', 1);
    expect(c.p).toEqual({ constructor: 6 });
    expect(() => counter.increment(counter.increment(undefined, 'a', Number.MAX_VALUE), 'a', Number.MAX_VALUE)).toThrow(TypeError);
  });

  it('a plain { p, n } of wrong types beside typed counters is left out of the registered merge', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const errors = errorsOf(a);
    await a.space('s').update('n/x', (v) => counter.increment(v as CounterValue | undefined, a.replicaId, 1));
    await c.space('s').update('n/x', (v) => counter.increment(v as CounterValue | undefined, c.replicaId, 2));
    await b.space('s').put('n/x', { p: { [b.replicaId]: 'x' }, n: {} });
    await syncAll(a, b, c);
    const got = await a.space('s').get('n/x');
    expect(counter.value(got!.value as Counter)).toBe(3);
    expect(errors.some((e) => e instanceof ConcordError && e.code === 'CORRUPT')).toBe(true);
    expect((await liveDecodes(a, 'n/x')).map((v) => counter.value(v as Counter))).toEqual([3]);
  });
});

describe('typed sets a peer forged as bytes (typedBytes put), beside good ones', () => {
  it('an item holding a "__proto__" key does not decode (a merge holding it could not be written back: every read failed)', async () => {
    const [a, b, c] = await twoGoodSets('list/p');
    const errors = errorsOf(a);
    const forged = new TextEncoder().encode('{"e":[[{"__proto__":{"x":1}},"zz",1]],"cc":{"zz":1}}');
    // A peer's put of forged bytes (a local put checks them with the type's decoder, as the receiver does).
    await b.space('s').put('list/p', typedBytes('add-wins', forged)).catch(() => undefined);
    await syncAll(a, b, c);
    const got = await a.space('s').get('list/p');
    expect(addWins.values(got!.value as AddWinsSet)).toEqual(['eggs', 'milk']);
    expect((await liveDecodes(a, 'list/p')).map((v) => addWins.values(v as AddWins))).toEqual([['eggs', 'milk']]);
    await a.space('s').update('list/p', (s) => addWins.add(s as AddWinsSet | undefined, a.replicaId, 'tea'));
    expect(addWins.values((await a.space('s').get('list/p'))!.value as AddWinsSet)).toEqual(['eggs', 'milk', 'tea']);
    expect(errors.filter((e) => !(e instanceof ConcordError && e.code === 'CORRUPT'))).toEqual([]);
  });

  it('a context raised to the top safe counter for another replica: its next add fails there, nothing undecodable is stored, sync goes on', async () => {
    const [a, b] = [await replica(), await replica()];
    await a.space('s').update('list/q', (s) => addWins.add(s as AddWinsSet | undefined, a.replicaId, 'milk'));
    await syncAll(a, b);
    // b (hostile) raises a's counter in the set's context to the largest safe integer.
    await b.space('s').update('list/q', (s) => new AddWins([...(s as AddWins).e], { ...(s as AddWins).cc, [a.replicaId]: Number.MAX_SAFE_INTEGER }));
    await b.space('s').put('other', 1);
    await until(async () => (await a.space('s').get('other'))?.value === 1, 'a has b\'s writes');
    await expect(a.space('s').update('list/q', (s) => addWins.add(s as AddWinsSet | undefined, a.replicaId, 'tea'))).rejects.toThrow();
    for (const v of await liveDecodes(a, 'list/q')) expect(v instanceof AddWins).toBe(true);
    // a still syncs: a later plain write reaches b.
    await a.space('s').put('after', 2);
    await until(async () => (await b.space('s').get('after'))?.value === 2, 'b has a\'s later write');
  });
});

// ---- the differentials: good values written and exchanged at random, beside random malformed siblings ----

const ITEMS = ['milk', 'eggs', 'tea', 'jam'];

/** A plain value a writer may put that is no add-wins set (or breaks one's invariant), drawn from `rand`. */
function badSet(rand: () => number, good: AddWins | undefined): unknown {
  const r = 'zz' + Math.floor(rand() * 3);
  const item = ITEMS[Math.floor(rand() * ITEMS.length)]!;
  const e = good ? good.e.map((x) => [...x]) : [];
  const cc: Record<string, unknown> = good ? { ...good.cc } : {};
  const kinds: Array<() => unknown> = [
    () => ({ e: [5], cc: {} }),
    () => ({ e: [...e, [item, r, 9]], cc: { ...cc, [r]: 2 } }), // a tag above its context
    () => ({ e: [...e, [item, r, 0]], cc: { ...cc, [r]: 1 } }),
    () => ({ e: [...e, [item, r, 1.5]], cc: { ...cc, [r]: 2 } }),
    () => ({ e: [...e, [item, 7, 1]], cc: { ...cc, 7: 1 } }),
    () => ({ e: [...e, [item, 'constructor', 1]], cc }),
    () => ({ e: [...e, [item, 'constructor', 1]], cc: { ...cc, constructor: 1 } }),
    () => ({ e: [...e, [item, r, 1, 'ep1']], cc: { ...cc, [r]: 1 } }), // names an epoch, no points
    () => ({ e: [...e, [item, r, 1]], cc: { ...cc, [r]: 2 ** 60 } }),
    () => ({ e: [...e, [item, r, 1]], cc: { ...cc, [r]: -1 } }),
    () => ({ e: [...e, [item, r, 1]], cc: { ...cc, [r]: '1' } }),
    () => ({ e: [...e, [item, r, 1]], cc: { ...cc, [r]: NaN } }), // a rich value (NaN is no JSON)
    () => ({ e: [...e, [item, r, 1]], cc: [1] }),
    () => ({ e: [...e, [item, r, 1]], cc: { ...cc, [r]: 1 }, pts: 5 }),
    () => ({ e: [...e, [item]], cc }),
    () => ({ e: item, cc }),
    () => ({ cc }),
    () => ({ e }),
    () => item,
    () => 42,
    () => null,
    () => [item],
  ];
  return kinds[Math.floor(rand() * kinds.length)]!();
}

/** A plain value a writer may put that is no counter, drawn from `rand`. */
function badCounter(rand: () => number, good: Counter | undefined): unknown {
  const r = 'zz' + Math.floor(rand() * 3);
  const p: Record<string, unknown> = good ? { ...good.p } : {};
  const n: Record<string, unknown> = good ? { ...good.n } : {};
  const kinds: Array<() => unknown> = [
    () => ({ p: { ...p, [r]: 'x' }, n }),
    () => ({ p: { ...p, [r]: -3 }, n }),
    () => ({ p, n: { ...n, [r]: -1 } }),
    () => ({ p: { ...p, [r]: NaN }, n }),
    () => ({ p: { ...p, [r]: Infinity }, n }),
    () => ({ p: { ...p, [r]: null }, n }),
    () => ({ p: { ...p, [r]: [1] }, n }),
    () => ({ p, n, q: 1 }),
    () => ({ p }),
    () => ({ p: null, n }),
    () => ({ p: [1], n: 5 }),
    () => ({ p: { ...p, ['x'.repeat(65)]: 1 }, n }),
    () => 7,
    () => 'counter',
    () => null,
  ];
  return kinds[Math.floor(rand() * kinds.length)]!();
}

interface Kind<T> {
  key: string;
  good(w: Replica, rand: () => number): Promise<unknown>;
  bad(rand: () => number, sample: T | undefined): unknown;
  is(v: unknown): v is T;
  refuses(v: unknown): string | undefined;
  merge(vs: T[]): T;
  bytes(v: T): string;
  empty(v: unknown): boolean;
}

const setKind: Kind<AddWins> = {
  key: 'list/k',
  good: (w, rand) => {
    const item = ITEMS[Math.floor(rand() * ITEMS.length)]!;
    return rand() < 0.7
      ? w.space('s').update('list/k', (s) => addWins.add(s as AddWinsSet | undefined, w.replicaId, item))
      : w.space('s').update('list/k', (s) => addWins.remove(s as AddWinsSet | undefined, item));
  },
  bad: badSet,
  is: (v): v is AddWins => v instanceof AddWins,
  refuses: addWins.refuses,
  merge: (vs) => addWinsType.merge(vs),
  bytes: (v) => Buffer.from(addWinsType.encode(v)).toString(),
  empty: (v) => v === undefined || addWins.values(v as AddWinsSet).length === 0,
};

const counterKind: Kind<Counter> = {
  key: 'n/k',
  good: (w, rand) => w.space('s').update('n/k', (c) => counter.increment(c as CounterValue | undefined, w.replicaId, Math.floor(rand() * 7) - 3)),
  bad: badCounter,
  is: (v): v is Counter => v instanceof Counter,
  refuses: counter.refuses,
  merge: (vs) => counterType.merge(vs),
  bytes: (v) => Buffer.from(counterType.encode(v)).toString(),
  empty: (v) => v === undefined,
};

async function differential<T>(kind: Kind<T>): Promise<void> {
  const seed = testSeed();
  const rand = prng(seed);
  const runs = Number(process.env.REVIEW_RUNS ?? 100);
  for (let run = 0; run < runs; run++) {
    const goods = [await replica(), await replica(), await replica()];
    const bads = [await replica(), await replica()];
    const reader = await replica();
    for (let step = 0; step < 8; step++) {
      const w = goods[Math.floor(rand() * goods.length)]!;
      if (rand() < 0.75) await kind.good(w, rand);
      else await exchange(goods[Math.floor(rand() * goods.length)]!, w, 's', [kind.key]);
    }
    // The good writers' stored versions merged alone: what the reader must show.
    const goodValues: T[] = [];
    for (const g of goods) for (const v of await liveDecodes(g, kind.key)) goodValues.push(v as T);
    // Hostile writers: each puts a malformed value (some made from a good one, plus a bad entry), concurrently.
    for (const h of bads) {
      const sample = goodValues.length ? goodValues[Math.floor(rand() * goodValues.length)] : undefined;
      await h.space('s').put(kind.key, kind.bad(rand, sample) as never);
    }
    for (const w of [...goods, ...bads]) await exchange(w, reader, 's', [kind.key]);
    const what = `seed ${seed} (SEED=${seed} replays it), run ${run}`;
    const got = await reader.space('s').get(kind.key);
    if (goodValues.length === 0) expect(kind.empty(got?.value), what).toBe(true);
    else {
      expect(kind.is(got!.value), what).toBe(true);
      expect(kind.bytes(got!.value as T), what).toBe(kind.bytes(kind.merge(goodValues)));
    }
    // What is stored decodes: each a good value, or a bad version left as it was (not merged; a write supersedes it).
    for (const v of await liveDecodes(reader, kind.key)) expect(kind.is(v) || kind.refuses(v) !== undefined, what).toBe(true);
    expect((await reader.space('s').get(kind.key))?.value, what).toEqual(got?.value);
    for (const r of open.splice(0)) await r.close();
  }
}

describe('differential: a registered typed merge with malformed plain siblings gives the merge of the good ones', () => {
  it('add-wins sets', () => differential(setKind), 120_000);
  it('counters', () => differential(counterKind), 120_000);
});

// A typed value built by hand (`new AddWins(…)`, `new Counter(…)`: both exported) can encode to bytes its own decoder
// refuses — an entry whose tag has no context entry, a count that is not a finite number. Stored by a local put, every
// peer refused each frame carrying it (a value its type refuses is a protocol error at the receiver) and the writer's
// sync never got past it. A put now checks a typed value as received bytes are checked: the put throws
// UNSERIALIZABLE_VALUE, nothing is stored, and what was stored before stays and still syncs.
const refused: Array<[string, () => unknown]> = [
  ['an add-wins entry whose tag has no context entry', () => new AddWins([['milk', 'zz', 3]], {})],
  ['an add-wins entry tagged past its context', () => new AddWins([['milk', 'zz', 9]], { zz: 2 })],
  ['a counter whose count is not a number', () => new Counter({ a: 'x' as unknown as number }, {})],
  ['a counter whose count is not finite', () => new Counter({ a: Infinity }, {})],
];

describe('a typed value its own type refuses is not stored by a local put', () => {
  for (const [what, make] of refused) {
    it(what, async () => {
      const [a, b] = [await replica(), await replica()];
      const key = make() instanceof Counter ? 'n/1' : 'list/1';
      const good = key === 'n/1' ? merges.counter.increment(undefined, a.replicaId, 1) : merges.addWins.add(undefined, a.replicaId, 'eggs');
      await a.space('s').put(key, good);
      let thrown: unknown;
      try {
        await a.space('s').put(key, make());
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ConcordError);
      expect((thrown as ConcordError).code).toBe('UNSERIALIZABLE_VALUE');
      // What was stored before stays, and a peer still syncs (a stored bad value stalled every frame carrying it).
      await a.space('s').put('plain', 1);
      const [ta, tb] = pairTransports();
      links.push(a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 }));
      await synced(a, b);
      expect((await b.space('s').get('plain'))?.value).toBe(1);
      expect(JSON.stringify((await b.space('s').get(key))?.value)).toBe(JSON.stringify(good));
    }, 20_000);
  }
});
