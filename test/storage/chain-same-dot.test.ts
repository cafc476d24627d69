/**
 * The chain form (lib/chain.ts) stores a version the key's previous record holds under the same dot as a reference to
 * it, and a derived version whose bases that record holds under their dots as its delta: it took a dot to name one
 * version. A replica restored from an older copy, untagged, mints its lost dots again for other writes; when the two
 * meet, every join keeps the one minted first (dvv.ts firstMinted) — so a join can replace a version by another of
 * the same dot. Memory storage then reads the version the join kept; file storage and IndexedDB read what the
 * reference finds in the previous record: the version the join dropped. A differential of the three, over such joins.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { chainForm } from '../../lib/chain.js';
import { derivedFrom, valueOf } from '../../lib/deltas.js';
import { join, stateOf, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { loadHasher } from '../../lib/hash.js';
import { memoryStorage } from '../../lib/memory-storage.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { registerValueType, type ValueType } from '../../lib/typed.js';
import { encodeTyped, typedParts } from '../../lib/values.js';
import { tempDir } from '../fs/helpers.js';

beforeAll(loadHasher);

/** Bytes whose delta is bytes appended. */
class Appended {
  constructor(readonly bytes: Uint8Array) {}
}
const TYPE = 'chain-same-dot-test';
const appended: ValueType<Appended> = {
  name: TYPE,
  is: (v): v is Appended => v instanceof Appended,
  encode: (v) => v.bytes,
  decode: (p) => new Appended(p),
  merge: (vs) => vs[0]!,
  apply: (base, delta) => new Appended(new Uint8Array([...base.bytes, ...delta])),
};
registerValueType(appended);
const value = (...bytes: number[]) => encodeTyped(TYPE, new Uint8Array(bytes));
const bytesOf = (v: StoredVersion) => [...typedParts(valueOf(v) as Uint8Array).payload];

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const T = 1_700_000_000_000;
let idb = 0;

/** Each storage, fresh, opened; `reopen` closes it and opens it again on what it stored (memory: the same). */
async function storages(): Promise<Array<{ name: string; s: StorageAdapter; reopen: () => Promise<StorageAdapter> }>> {
  const { dir, cleanup } = await tempDir('chain-same-dot');
  cleanups.push(cleanup);
  const factory = new IDBFactory();
  const dbName = `chain-same-dot-${++idb}`;
  /** Closes `s` and opens the same store again (closed at cleanup). */
  const again = async (s: StorageAdapter, make: () => StorageAdapter): Promise<StorageAdapter> => {
    await s.close();
    const t = make();
    await t.open();
    cleanups.push(() => t.close());
    return t;
  };
  const makeFile = () => fileStorage(dir, { compactOnClose: false }) as StorageAdapter;
  const makeIdb = () => indexedDBStorage(dbName, { indexedDB: factory }) as StorageAdapter;
  const out: Array<{ name: string; s: StorageAdapter; make?: () => StorageAdapter }> = [
    { name: 'memory', s: memoryStorage() },
    { name: 'file', s: makeFile(), make: makeFile },
    { name: 'indexeddb', s: makeIdb(), make: makeIdb },
  ];
  for (const o of out) {
    await o.s.open();
    cleanups.push(() => o.s.close().catch(() => {}));
  }
  return out.map((o) => ({ name: o.name, s: o.s, reopen: async () => (o.make ? again(o.s, o.make) : o.s) }));
}

const record = (state: KeyState, seq: number): KeyRecord => ({ ...state, vs: [...state.vs], seq, h: seq.toString(16).padStart(16, '0') });

/** What a read of the key shows: each version's dot, HLC and value bytes. */
async function shown(s: StorageAdapter): Promise<unknown> {
  const r = await s.get('sp', 'k');
  return r?.vs.map((v) => ({ dot: `${v.r}:${v.n}`, t: v.t, value: v.d ? null : bytesOf(v) }));
}

/**
 * Puts `first`, then the join of it with `incoming` (the record after it), in every storage: each must read what
 * memory storage reads, before and after a reopen.
 */
async function differential(first: KeyRecord, incoming: KeyState, check: (joined: KeyState) => void): Promise<void> {
  const joined = join(stateOf(first), incoming);
  check(joined);
  const all = await storages();
  for (const { s } of all) {
    await s.transact((tx) => tx.put('sp', 'k', first));
    // as a join writes: the key read first, in the same transaction (IndexedDB chains only onto what it read)
    await s.transact(async (tx) => {
      await tx.get('sp', 'k');
      tx.put('sp', 'k', record(joined, 2));
    });
  }
  const want = await shown(all[0]!.s);
  const got: Record<string, unknown> = {};
  const wanted: Record<string, unknown> = {};
  for (const { name, s, reopen } of all) {
    got[name] = await shown(s);
    got[`${name}, reopened`] = await shown(await reopen());
    wanted[name] = wanted[`${name}, reopened`] = want;
  }
  expect(got, 'every storage reads what memory storage reads').toEqual(wanted);
}

describe('the chain form, a join replacing a version by another of the same dot (a restored untagged writer)', () => {
  // w:1 as the restored writer minted it again (later), and as it was first minted (earlier): the join keeps the earlier
  const later: StoredVersion = { r: 'w', n: 1, t: T + 200, c: 0, v: value(1, 1, 1) };
  const earlier: StoredVersion = { r: 'w', n: 1, t: T + 100, c: 0, v: value(2, 2) };
  const first = record({ vs: [later], cc: { w: 1 } }, 1);

  it('a version the previous record holds under its dot, replaced: every storage reads the one the join kept', async () => {
    await differential(first, { vs: [earlier], cc: { w: 1 } }, (joined) => {
      expect(joined.vs).toEqual([earlier]);
    });
  });

  it('and a version derived from the kept one (its bases in memory): read over the kept one, not the dropped one', async () => {
    const derived = derivedFrom({ r: 'u', n: 1, t: T + 300, c: 0 }, [earlier], new Uint8Array([7]), 1);
    await differential(first, { vs: [derived, earlier], cc: { u: 1, w: 1 } }, (joined) => {
      expect(joined.vs.map((v) => `${v.r}:${v.n}`)).toEqual(['u:1', 'w:1']);
      expect(bytesOf(joined.vs[0]!)).toEqual([2, 2, 7]);
    });
  });

  it('and a derived version already materialized (its bases dropped from memory): the same', async () => {
    const derived = derivedFrom({ r: 'u', n: 1, t: T + 300, c: 0 }, [earlier], new Uint8Array([7]), 1);
    expect(bytesOf(derived)).toEqual([2, 2, 7]); // materialized: x.base is gone
    expect(derived.x?.base).toBeUndefined();
    await differential(first, { vs: [derived, earlier], cc: { u: 1, w: 1 } }, () => {});
  });

  it('a version the previous record holds as it is (same dot, same write): still stored as a reference', async () => {
    const again: StoredVersion = { ...later, v: value(1, 1, 1) }; // equal, another object (read back from elsewhere)
    const derived = derivedFrom({ r: 'u', n: 1, t: T + 300, c: 0 }, [again], new Uint8Array([7]), 1);
    await differential(first, { vs: [derived, again], cc: { u: 1, w: 1 } }, (joined) => {
      expect(joined.vs.map((v) => `${v.r}:${v.n}`)).toEqual(['u:1', 'w:1']);
      const form = chainForm(record(joined, 2), first);
      expect(form.chained).toBe(true);
      expect(form.vs[0]!.v, 'u:1 stored as its delta').toBeUndefined();
      expect(form.vs[1]!.p, 'w:1 stored as a reference').toBe(1);
    });
  });
});
