/**
 * Review rev48b: since s7j a join into the empty state gives the received state itself (dvv.ts joinWith), s7p keeps a
 * peer's state in columns and the peer model's one-dot states as one object, and s7k hands the wire's decoded tree to
 * the change event — objects are shared between storage, the peer model, the change event and what the app is given
 * only where nothing mutates them. Here the app on the middle replica b of a chain a – b – c mutates everything it is
 * handed, deeply (objects, arrays, Maps, Sets, Dates, bytes, typed values): the values, siblings and versions of every
 * get and scan, every change event, the snapshots of the React stores, the siblings and versions its merge function is
 * handed. None of it may change what b stores (records, hashes), what b tells c or a replica catching up later, nor
 * what b's reads give afterwards; b's memory or file storage alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { ScanStore, ValueStore } from '../../adapters/react/stores.js';
import { stateHash } from '../../lib/dvv.js';
import { memoryStorage, merges, openReplica, type GetResult, type MergeFn, type Replica, type StorageAdapter } from '../../lib/index.js';
import { encodeValue } from '../../lib/values.js';
import { synced, until } from '../sync/support.js';
import { paired } from './paired.js';

const { undo, connect } = paired();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Changes `x` in place, as deep as it goes: every field, element, entry, byte. */
function scribble(x: unknown, seen = new Set<unknown>()): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (ArrayBuffer.isView(x)) return void (x as Uint8Array).fill(0xee);
  if (x instanceof Date) return void x.setTime(0);
  if (x instanceof Map) {
    for (const v of x.values()) scribble(v, seen);
    x.set('scribbled', 1);
    return;
  }
  if (x instanceof Set) {
    for (const v of x) scribble(v, seen);
    x.add('scribbled');
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) scribble(v, seen);
    if (Object.isExtensible(x)) x.push('scribbled');
    return;
  }
  const o = x as Record<string, unknown>;
  // What the library froze (a counter's records) refuses the write: the app's attempt fails there, as it would in strict code.
  const set = (k: string, v: unknown) => Object.isFrozen(o) || Object.getOwnPropertyDescriptor(o, k)?.writable === false || (o[k] = v);
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (typeof v === 'number') set(k, v + 1000);
    else if (typeof v === 'string') set(k, 'scribbled ' + v);
    else if (typeof v === 'boolean') set(k, !v);
    else scribble(v, seen);
  }
  if (Object.isExtensible(o)) o.scribbled = true;
}

/** A read as encoded values (what a replica would store of them), to compare across replicas and over time. */
function asRead(r: GetResult | undefined): unknown {
  if (!r) return undefined;
  return {
    value: encodeValue(r.value),
    siblings: r.siblings.map((s) => encodeValue(s)),
    conflict: r.conflict,
    versions: r.versions.map((v) => ({ ...v, hlc: { ...v.hlc }, value: v.deleted ? undefined : encodeValue(v.value) })),
  };
}

/** The union of the two carts (merges.union's canonical order). */
const CART = ['x', 'y', { n: 1 }];

const KEYS = ['p/obj', 'p/rich', 'p/bin', 'p/count', 'p/set', 'p/both', 'p/gone', 'm/cart'];

async function reads(r: Replica): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) out[k] = asRead(await r.space('s').get(k));
  return out;
}

/** Every record b stores, with its hash checked against its state. */
async function stored(r: Replica): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const { key, h } of await r.core.storage.index('s')) {
    const rec = (await r.core.storage.get('s', key))!;
    expect(h, key).toBe(stateHash(key, rec));
    expect(rec.h, key).toBe(h);
    out[key] = { vs: rec.vs.map((v) => ({ r: v.r, n: v.n, t: v.t, c: v.c, d: v.d, v: v.v instanceof Uint8Array ? [...v.v] : v.v })), cc: rec.cc, pts: rec.pts };
  }
  return out;
}

/** A merge that computes its result first, then scribbles over everything it was handed (a careless app's merge). */
const scribblingUnion: MergeFn = (siblings, info) => {
  const out = merges.union(structuredClone(siblings), info);
  scribble(siblings);
  scribble(info.versions);
  return out;
};

async function middle(storage: StorageAdapter): Promise<void> {
  const a = await openReplica({ storage: memoryStorage() });
  const c = await openReplica({ storage: memoryStorage() });
  const b = await openReplica({ storage, merge: { 'm/*': scribblingUnion } });
  for (const r of [a, b, c]) undo.push(() => r.close());
  const sa = a.space('s');
  const sb = b.space('s');
  const sc = c.space('s');
  // The app on b, from the start: every event, every React snapshot, scribbled.
  // (Its value and siblings: the event object is one for every subscriber of the change, the library's own React stores
  // among them, which read its key — an app rewriting `key` there stops useValue; decoded-handoff.test.ts.)
  sb.subscribe('*', (e) => scribble([e.value, e.siblings]));
  const value = new ValueStore(sb, 'p/obj', () => {});
  const scan = new ScanStore(sb, 'p/', () => {});
  undo.push(async () => {
    unValue();
    unScan();
  });
  // What each store published for 'p/obj', as published (then scribbled: a store keeps the entries of keys that did not
  // change, the app's scribbles with them, for referential stability; a key that changed is read again).
  const shown: unknown[] = [];
  const scanned: unknown[] = [];
  const unValue = value.subscribe(() => {
    const snap = value.getSnapshot();
    if (!snap.loading) shown.push(encodeValue(snap.value));
    scribble(snap);
  });
  const unScan = scan.subscribe(() => {
    const snap = scan.getSnapshot();
    const obj = snap.entries.find((e) => e.key === 'p/obj');
    if (obj) scanned.push(encodeValue(obj.value));
    scribble(snap);
  });

  // Siblings made apart: 'm/cart' (merged on read at b, written back) and 'p/both' (no merge: a conflict).
  await sa.put('m/cart', ['x', { n: 1 }]);
  await sc.put('m/cart', ['y']);
  await sa.put('p/both', { from: 'a' });
  await sc.put('p/both', { from: 'c' });
  connect(a, b);
  connect(b, c);
  await synced(a, b, c);
  await sa.put('p/obj', { list: [1, 2, { deep: 'x' }], inner: { s: 'orig', n: 5 } });
  await sa.put('p/rich', { when: new Date(86_400_000), set: new Set([1, 'two']), map: new Map([['k', [1]]]) });
  await sa.put('p/bin', Uint8Array.of(1, 2, 3, 250));
  await sa.put('p/count', merges.counter.increment(merges.counter.zero(), a.replicaId, 3));
  await sc.update('p/count', (cur) => merges.counter.increment(cur as never, c.replicaId, 4));
  await sa.put('p/set', merges.addWins.add(merges.addWins.empty(), a.replicaId, 'apple', 'pear'));
  await sa.put('p/gone', 'soon deleted');
  await sa.delete('p/gone');
  await synced(a, b, c);
  await until(async () => (await sb.get('p/gone')) === undefined && (await sb.get('p/count'))?.siblings.length === 1, 'b holds every write');

  // The app reads and scribbles everything, twice over (a read repair of 'm/cart' in between).
  for (let round = 0; round < 2; round++) {
    for (const k of KEYS) scribble(await sb.get(k));
    for await (const e of sb.scan('')) scribble(e);
  }
  await synced(a, b, c);

  // What b reads, stores and told: what a (which mutated nothing) reads and stores, and c too.
  await until(async () => JSON.stringify(await reads(a)) === JSON.stringify(await reads(b)) && JSON.stringify(await reads(c)) === JSON.stringify(await reads(b)), 'a, b and c read alike', 10_000);
  const want = await reads(a);
  expect(await reads(b)).toEqual(want);
  expect(await reads(c)).toEqual(want);
  expect(want['m/cart']).toMatchObject({ value: encodeValue(CART), conflict: false });
  expect(want['p/obj']).toMatchObject({ value: encodeValue({ list: [1, 2, { deep: 'x' }], inner: { s: 'orig', n: 5 } }) });
  expect(want['p/bin']).toMatchObject({ value: encodeValue(Uint8Array.of(1, 2, 3, 250)) });
  expect(merges.counter.value((await sb.get('p/count'))!.value as never)).toBe(7);
  expect(await stored(b)).toEqual(await stored(a));
  expect(await stored(c)).toEqual(await stored(a));
  // The React snapshots show the stored values (a later read replaced what was scribbled, where it changed).
  await sa.put('p/obj', { list: [3], inner: { s: 'second', n: 6 } });
  const second = encodeValue({ list: [3], inner: { s: 'second', n: 6 } });
  await until(() => shown.at(-1) === second && scanned.at(-1) === second, "the stores publish a's second write");
  // Before a's first write of the key the store showed none; then the first write, until the second.
  const first = encodeValue({ list: [1, 2, { deep: 'x' }], inner: { s: 'orig', n: 5 } });
  const none = encodeValue(undefined);
  expect(shown.slice(0, -1).filter((v) => v !== none).every((v) => v === first), 'no store published a scribbled value').toBe(true);
  expect(shown).toContain(first);
  expect(scanned.slice(0, -1).every((v) => v === first)).toBe(true);
  // A replica catching up from b now gets what a holds.
  const d = await openReplica({ storage: memoryStorage() });
  undo.push(() => d.close());
  connect(b, d);
  await synced(b, d);
  await until(async () => JSON.stringify(await reads(d)) === JSON.stringify(await reads(a)), 'd caught up from b', 10_000);
  expect(await stored(d)).toEqual(await stored(a));
}

describe('an app that mutates everything it is handed changes nothing stored or told', () => {
  it('b on memory storage', async () => {
    await middle(memoryStorage());
  }, 30_000);

  it('b on file storage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-rev48b-mutates-'));
    dirs.push(dir);
    await middle(fileStorage(dir));
  }, 30_000);

  it("a read-only replica's merge that scribbles over its siblings and versions changes none of the versions get tells", async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const c = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage(), merge: { 'm/*': scribblingUnion } });
    for (const r of [a, b, c]) undo.push(() => r.close());
    await a.space('s').put('m/cart', ['x', { n: 1 }]);
    await c.space('s').put('m/cart', ['y']);
    connect(a, b);
    connect(c, b);
    await synced(a, b, c);
    await until(async () => (await b.core.storage.get('s', 'm/cart'))?.vs.length === 2, 'b holds both siblings');
    const reader = b.space('s', { readOnly: true });
    const plain = await openReplica({ storage: memoryStorage() }); // no merge: the siblings as stored
    undo.push(() => plain.close());
    connect(b, plain);
    await synced(b, plain);
    await until(async () => (await plain.space('s').get('m/cart'))?.siblings.length === 2, 'the siblings reached a replica without merge');
    const versions = asRead((await plain.space('s').get('m/cart'))!) as { versions: unknown[] };
    for (let i = 0; i < 2; i++) {
      const got = (await reader.get('m/cart'))!;
      expect(encodeValue(got.value)).toBe(encodeValue(CART));
      // Each version as it is stored, whatever the merge made of the values and infos it was handed.
      expect((asRead(got) as { versions: unknown[] }).versions).toEqual(versions.versions);
    }
  }, 30_000);
});
