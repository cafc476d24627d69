// The IndexedDB adapter's batch layout (schema version 3) on fake-indexeddb: commits write one `batches` row, folds
// move rows into the per-key stores, and every read lays the unfolded rows over those stores. Checked against a model
// under random schedules (several instances on one database, chained and whole records, removals, folds at any point,
// instances dropped without closing), and the upgrade from a version 2 database.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexedDBStorage, type IndexedDBStorage } from '../../adapters/indexeddb/index.js';
import { loadHasher } from '../../lib/hash.js';
import { openReplica } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { runStorageContract, rec } from './contract.js';
import { storeLayout } from '../support/idb-fake.js';

let n = 0;
function fresh(): { factory: IDBFactory; name: string } {
  return { factory: new IDBFactory(), name: `batches-${++n}` };
}

// The contract with the records left in batches for as long as the instance is open, and with a fold before every commit.
runStorageContract('indexedDBStorage, batches folded only at close (fake-indexeddb)', async () => {
  const { factory, name } = fresh();
  const open = () => indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity });
  return { storage: open(), reopen: async () => open() };
});
runStorageContract('indexedDBStorage, a fold before every commit (fake-indexeddb)', async () => {
  const { factory, name } = fresh();
  const open = () => indexedDBStorage(name, { indexedDB: factory, foldDelay: 0, maxUnfolded: 0 });
  return { storage: open(), reopen: async () => open() };
});

async function withDb<T>(factory: IDBFactory, name: string, fn: (db: IDBDatabase) => Promise<T>): Promise<T> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

function countRows(factory: IDBFactory, name: string, store: string): Promise<number> {
  return withDb(factory, name, (db) =>
    new Promise<number>((resolve, reject) => {
      const req = db.transaction(store, 'readonly').objectStore(store).count();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }),
  );
}

/** A small PRNG (mulberry32), so a failing seed replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A record at `seq` after `cur`: one new version, and (sometimes) `cur`'s first version kept beside it — stored as a
 * reference to the record before it (a chained entry, a `deltas` row once folded).
 */
function nextRecord(seq: number, cur: KeyRecord | undefined, carry: boolean): KeyRecord {
  const mine = { r: 'A', n: seq, t: 1_700_000_000_000 + seq, c: 0, v: JSON.stringify(`v${seq}`) };
  const kept = carry && cur ? cur.vs.find((v) => !v.d) : undefined;
  const vs = kept ? [mine, kept] : [mine];
  return { vs, cc: { A: seq, ...(kept ? { [kept.r]: Math.max(seq, kept.n) } : {}) }, seq, h: seq.toString(16).padStart(16, '0') };
}

type Op = { kind: 'put'; s: string; k: string; rec: KeyRecord; read: boolean; cur: KeyRecord | undefined } | { kind: 'rm'; s: string; k: string };

const SPACES = ['s0', 's1', 'a/b'];
const KEYS = ['k0', 'k1', 'k10', 'k2', 'k3', 'a/x', 'a/y', 'b', 'b/1', 'z', '\u00e9', 'k\uffff'];

describe('indexedDBStorage batches against a model (fake-indexeddb, random schedules)', () => {
  beforeAll(loadHasher);

  for (let seed = 1; seed <= 24; seed++) {
    it(`seed ${seed}`, async () => {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const { factory, name } = fresh();
      const model = new Map<string, Map<string, KeyRecord>>();
      let seq = 0;
      const open = async () => {
        const s = indexedDBStorage(name, {
          indexedDB: factory,
          foldDelay: pick([0, 3, Infinity]),
          maxUnfolded: pick([0, 5, 32_768]),
          maxBatch: pick([1, 3, 1000]),
        });
        await s.open();
        return s;
      };
      const live: IndexedDBStorage[] = [await open(), await open()];

      const check = async (s: StorageAdapter) => {
        for (const space of SPACES) {
          const m = model.get(space) ?? new Map<string, KeyRecord>();
          for (const k of KEYS) expect(await s.get(space, k), `${space} ${k}`).toEqual(m.get(k));
          const bySeq = [...m].sort((a, b) => a[1].seq - b[1].seq);
          const after = pick([0, 0, Math.floor(rnd() * (seq + 1))]);
          const limit = pick([1, 2, 5, 1000]);
          expect(await s.readLog(space, after, limit), `readLog ${space} ${after} ${limit}`).toEqual(bySeq.filter(([, r]) => r.seq > after).slice(0, limit));
          const byKey = [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
          const prefix = pick(['', 'k', 'k1', 'a/', 'b']);
          const from = pick([undefined, undefined, ...KEYS]);
          const scanLimit = pick([1, 3, 1000]);
          const want = byKey.filter(([k]) => k.startsWith(prefix) && (from === undefined || from < prefix || k > from)).slice(0, scanLimit);
          expect(await s.scan(space, { prefix, ...(from !== undefined ? { after: from } : {}), limit: scanLimit }), `scan ${space} ${prefix} ${from} ${scanLimit}`).toEqual(want);
          const index = (await s.index(space)).sort((a, b) => (a.key < b.key ? -1 : 1));
          expect(index).toEqual(byKey.map(([key, r]) => ({ key, seq: r.seq, h: r.h })));
        }
        expect(await s.spaces()).toEqual([...model].filter(([, m]) => m.size > 0).map(([sp]) => sp).sort());
      };

      for (let step = 0; step < 40; step++) {
        const roll = rnd();
        if (roll < 0.6) {
          // A few transactions in flight at once, on one or both instances; the model replays them in commit order.
          const committed: Op[][] = [];
          const plans = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => ({
            on: pick(live),
            ops: Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => ({ rm: rnd() < 0.15, s: pick(SPACES), k: pick(KEYS), read: rnd() < 0.8, carry: rnd() < 0.5 })),
          }));
          await Promise.all(
            plans.map(({ on, ops }) =>
              on.transact(async (tx) => {
                await tx.getMeta('seq');
                const done: Op[] = [];
                for (const o of ops) {
                  if (o.rm) {
                    tx.remove(o.s, o.k);
                    done.push({ kind: 'rm', s: o.s, k: o.k });
                    continue;
                  }
                  const cur = o.read ? await tx.get(o.s, o.k) : undefined;
                  const r = nextRecord(++seq, cur, o.carry);
                  tx.put(o.s, o.k, r);
                  done.push({ kind: 'put', s: o.s, k: o.k, rec: r, read: o.read, cur });
                }
                committed.push(done);
              }),
            ),
          );
          for (const ops of committed) {
            for (const o of ops) {
              let m = model.get(o.s);
              if (!m) model.set(o.s, (m = new Map()));
              if (o.kind === 'rm') m.delete(o.k);
              else {
                if (o.read) expect(o.cur, `read of ${o.s} ${o.k} in a transaction`).toEqual(m.get(o.k));
                m.set(o.k, o.rec);
              }
            }
          }
        } else if (roll < 0.75) {
          await pick(live).fold();
        } else if (roll < 0.85) {
          // A tab killed: its instance is dropped without closing (nothing folded), another opens.
          live.splice(live.indexOf(pick(live)), 1);
          live.push(await open());
        } else {
          await check(pick(live));
        }
      }
      await check(live[0]!);
      await check(live[1]!);
      for (const s of live) await s.close();
      // A clean close folds everything.
      expect(await countRows(factory, name, 'batches')).toBe(0);
      const again = await open();
      await check(again);
      await again.close();
    });
  }
});

describe('indexedDBStorage batches: visibility, abandoned instances, upgrade (fake-indexeddb)', () => {
  beforeAll(loadHasher);

  it('a commit writes one batch row and no per-key row; another instance reads it at once; a fold moves it', async () => {
    const { factory, name } = fresh();
    const a = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity });
    const b = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity });
    await a.open();
    await b.open();
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.transact((tx) => tx.put('sp', `k${i}`, rec(i + 1)))));
    expect(await countRows(factory, name, 'heads')).toBe(0);
    expect(await countRows(factory, name, 'states')).toBe(0);
    const batches = await countRows(factory, name, 'batches');
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(50);
    expect(await b.get('sp', 'k7')).toEqual(rec(8));
    expect((await b.readLog('sp', 10, 5)).map(([k]) => k)).toEqual(['k10', 'k11', 'k12', 'k13', 'k14']);
    expect((await b.scan('sp', { prefix: 'k4', limit: 100 })).map(([k]) => k)).toEqual(['k4', 'k40', 'k41', 'k42', 'k43', 'k44', 'k45', 'k46', 'k47', 'k48', 'k49']);
    expect((await b.index('sp')).length).toBe(50);
    expect(await b.spaces()).toEqual(['sp']);
    await b.fold();
    expect(await countRows(factory, name, 'batches')).toBe(0);
    expect(await countRows(factory, name, 'heads')).toBe(50);
    // A's cache still holds the rows it wrote; its reads see the fold.
    expect(await a.get('sp', 'k7')).toEqual(rec(8));
    await a.transact((tx) => tx.remove('sp', 'k7'));
    expect(await b.get('sp', 'k7')).toBeUndefined();
    expect((await b.index('sp')).length).toBe(49);
    await a.close();
    await b.close();
    expect(await countRows(factory, name, 'heads')).toBe(49);
  });

  it('an instance dropped between its commits and their fold loses nothing: the next one reads, then folds them', async () => {
    const { factory, name } = fresh();
    const r = await openReplica({ storage: indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity }) });
    const sp = r.space('sp');
    await Promise.all(Array.from({ length: 30 }, (_, i) => sp.put(`k${i}`, { n: i })));
    await sp.put('k3', { n: 'again' });
    await sp.delete('k4');
    // Dropped without close(): nothing folded (a killed tab).
    expect(await countRows(factory, name, 'heads')).toBe(0);
    const s = indexedDBStorage(name, { indexedDB: factory, foldDelay: 0 });
    const again = await openReplica({ storage: s });
    expect(again.replicaId).toBe(r.replicaId);
    expect((await again.space('sp').get('k3'))?.value).toEqual({ n: 'again' });
    expect(await again.space('sp').get('k4')).toBeUndefined();
    expect((await again.space('sp').get('k29'))?.value).toEqual({ n: 29 });
    // Idle: it folds what the dropped instance left.
    for (let i = 0; i < 100 && (await countRows(factory, name, 'batches')) > 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(await countRows(factory, name, 'batches')).toBe(0);
    expect(await countRows(factory, name, 'heads')).toBe(29 + 1); // the keys but k4, and the replica's own bookkeeping key, if any
    expect((await again.space('sp').get('k3'))?.value).toEqual({ n: 'again' });
    const keys: string[] = [];
    for await (const e of again.space('sp').scan('')) keys.push(e.key);
    expect(keys).toHaveLength(29);
    await again.close();
  });

  it('opens a database of schema version 2 (records, chains, metadata) and keeps every record; writes and folds over them', async () => {
    const { factory, name } = fresh();
    // The version 2 layout as that code wrote it: heads with the log index, states, deltas (a chain of two rows), meta.
    const root = nextRecord(1, undefined, false);
    const second = nextRecord(2, root, true); // keeps root's version: a chained row
    const third = nextRecord(3, second, true);
    await storeLayout(factory, name, 2, (tx) => {
      tx.objectStore('heads').put({ s: 'sp', k: 'doc', seq: 3, h: third.h, ch: 2 });
      tx.objectStore('states').put({ vs: [root.vs[0]], cc: root.cc }, ['sp', 'doc']);
      tx.objectStore('deltas').put({ vs: [second.vs[0], { ...root.vs[0]!, v: undefined, p: 1 }], cc: second.cc }, ['sp', 'doc', 2]);
      tx.objectStore('deltas').put({ vs: [third.vs[0], { ...second.vs[0]!, v: undefined, p: 1 }], cc: third.cc }, ['sp', 'doc', 3]);
      const { seq, h, ...state } = rec(4);
      tx.objectStore('heads').put({ s: 'sp', k: 'plain', seq, h });
      tx.objectStore('states').put(state, ['sp', 'plain']);
      tx.objectStore('meta').put(4, 'seq');
    });
    // Stored rows of the old layout drop `undefined` fields as structured clone keeps them; compare as read back.
    const s = indexedDBStorage(name, { indexedDB: factory, foldDelay: Infinity });
    await s.open();
    expect(await s.get('sp', 'doc')).toMatchObject({ seq: 3, cc: third.cc, vs: [{ n: 3 }, { n: 2 }] });
    expect(await s.get('sp', 'plain')).toEqual(rec(4));
    expect(await s.getMeta('seq')).toBe(4);
    // A write chained onto the old chain, in a batch; read over the old rows, then folded onto them.
    await s.transact(async (tx) => {
      const cur = await tx.get('sp', 'doc');
      tx.put('sp', 'doc', nextRecord(5, cur, true));
    });
    const want = await s.get('sp', 'doc');
    expect(want).toMatchObject({ seq: 5, vs: [{ n: 5 }, { n: 3 }] });
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['plain', 'doc']);
    await s.fold();
    expect(await countRows(factory, name, 'deltas')).toBe(3);
    expect(await s.get('sp', 'doc')).toEqual(want);
    await s.close();
    const reopened = indexedDBStorage(name, { indexedDB: factory });
    await reopened.open();
    expect(await reopened.get('sp', 'doc')).toEqual(want);
    expect(await reopened.get('sp', 'plain')).toEqual(rec(4));
    await reopened.close();
  });
});
