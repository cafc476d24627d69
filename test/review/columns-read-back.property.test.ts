/**
 * Review rev48b of s7p's columns (lib/memory-records.ts: a record of one plain version whose own dot is its whole
 * context, a peer's source named or not, is kept as numbers, its value and a shared writer object, and rebuilt when
 * read). Seeded: random schedules of transactions over records of every shape — one version (untagged, tagged, from a
 * peer or not, a JSON, rich, binary or typed value, a local write's record whose hash is read late), siblings,
 * tombstones, a context above the dot or naming a second replica, two points, a hash not in hex16 form — under keys
 * plain, unicode, huge and prototype-named, rewritten, removed and reused, a throwing transaction among them. After
 * each step every read (get, scan, readLog, index) gives back exactly what was stored: the same fields, no field more
 * nor less (src, pts), the same value bytes; each record's hash is the state hash of what was put, so the Merkle tree
 * sees no difference that is not there. The same schedule on file storage with a tiny record cache (records evicted
 * and read again from the log) and after a reopen (recovery) reads back the same. A read's record is the storage's
 * own only where it was kept whole; one rebuilt is fresh: mutating it changes nothing kept.
 *
 * A failing run prints its seed; SEED=<n> replays it. Mutants of memory-records.ts it catches (checked by hand): a
 * rebuilt untagged record dropping its `src`, keptValue taking a record whose context is above its dot, the shared
 * writer reused across sources, hexHalves taking uppercase digits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { stateHash, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { loadHasher } from '../../lib/hash.js';
import { memoryStorage } from '../../lib/memory-storage.js';
import { WrittenRecord } from '../../lib/record.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { encodeTyped, encodeValue } from '../../lib/values.js';
import { prng, testSeed } from '../support/replicas.js';

const dirs: string[] = [];
beforeAll(() => loadHasher());
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

type Rand = () => number;
const int = (rnd: Rand, n: number) => Math.floor(rnd() * n);
const pick = <X>(rnd: Rand, xs: readonly X[]): X => xs[int(rnd, xs.length)]!;

const T = 1_700_000_000_000;
const IDS = ['replicaA', 'replicaB', 'rélica-ü'];
const KEYS = ['k0', 'k1', 'k2', '键🔑', 'über/ä', '__proto__', 'constructor', 'x'.repeat(900) + '🔑', 'a\u0000b', 'k3', 'k4', 'k5'];

function value(rnd: Rand, i: number): string | Uint8Array {
  switch (int(rnd, 5)) {
    case 0:
      return encodeValue(new Uint8Array([i & 255, 0, 255, 7]));
    case 1:
      return encodeTyped('counter', new TextEncoder().encode(JSON.stringify({ [pick(rnd, IDS)]: i })));
    case 2:
      return encodeValue({ when: new Date(i), set: new Set([i, 'ü']) }) as string;
    case 3:
      return JSON.stringify({ n: i, s: 'é🔑'.repeat(i % 4), list: [i, { deep: [i] }] }); // a rope, as JSON.stringify answers
    default:
      return encodeValue(i % 2 === 0 ? 'text ' + i : { i });
  }
}

/**
 * The version a dot names. A dot names one version (lib/chain.ts: a stored record refers to the key's previous record
 * for a version whose dot that record holds, as joins never replace a version by another of the same dot), so its
 * fields and value are drawn from the dot alone, the same each time it is drawn (seeded from `seed`).
 */
function one(seed: number, r: string, ep: string | undefined, n: number): StoredVersion {
  let h = seed >>> 0;
  for (const ch of `${r}/${ep ?? ''}/${n}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const rnd = prng(h);
  const t = T + int(rnd, 1_000);
  const c = int(rnd, 4);
  const v = value(rnd, n * 7 + int(rnd, 7));
  return ep === undefined ? { r, n, t, c, v } : { r, ep, n, t, c, v };
}

/** A record of some shape at `seq` (its hash that of its state unless it is a local write's, read late, or bent). */
function record(rnd: Rand, seed: number, key: string, seq: number): KeyRecord {
  const r = pick(rnd, IDS);
  const ep = pick(rnd, [undefined, undefined, 'E1', 'E2']);
  const n = 1 + int(rnd, 40);
  const v = one(seed, r, ep, n);
  const pts = ep === undefined ? undefined : { [r]: [{ e: ep, n }] };
  let state: KeyState = pts ? { vs: [v], cc: { [r]: n }, pts } : { vs: [v], cc: { [r]: n } };
  const shape = int(rnd, 10);
  const other = pick(rnd, IDS.filter((x) => x !== r));
  if (shape === 6) state = { ...state, vs: [{ ...v, v: undefined, d: 1 as const }].map(({ v: _v, ...t }) => t) }; // a tombstone
  else if (shape === 7) state = { ...state, cc: { ...state.cc, [r]: n + 3 }, ...(pts ? { pts: { [r]: [{ e: ep!, n: n + 3 }] } } : {}) }; // context above its dot
  else if (shape === 8) {
    // Siblings: another replica's version beside it, in canonical order.
    const w = one(seed, other, undefined, 1 + int(rnd, 5));
    state = { ...state, vs: [v, w].sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0)), cc: { ...state.cc, [other]: w.n } };
  } else if (shape === 9 && pts) state = { ...state, pts: { [r]: [{ e: '', n: 1 }, { e: ep!, n }] } }; // two points
  else if (shape === 9) state = { ...state, cc: { ...state.cc, [other]: 2 } }; // a second replica in the context
  if (shape < 2 && state.vs.length === 1) return new WrittenRecord(key, state, seq); // a local write: hash read late
  const h = stateHash(key, state);
  const bent = int(rnd, 12) === 0 ? h.toUpperCase() : h; // not hex16 lowercase: kept whole
  const src = rnd() < 0.4 ? pick(rnd, ['relayR', 'relayS', '']) : undefined;
  const base = state.pts === undefined ? { vs: state.vs, cc: state.cc, seq, h: bent } : { vs: state.vs, cc: state.cc, pts: state.pts, seq, h: bent };
  return src === undefined ? base : { ...base, src };
}

/** A record as a comparable tree: own fields sorted (an absent field and one holding undefined told apart), bytes as such. */
function norm(x: unknown): unknown {
  if (x instanceof WrittenRecord) return norm(x.toJSON());
  if (x instanceof Uint8Array) return { bytes: [...x] };
  if (Array.isArray(x)) return x.map(norm);
  if (x !== null && typeof x === 'object') {
    return Object.keys(x)
      .sort()
      .map((k) => [k, (x as Record<string, unknown>)[k] === undefined ? '<undefined>' : norm((x as Record<string, unknown>)[k])]);
  }
  return x;
}

async function readAll(s: StorageAdapter): Promise<unknown> {
  const scan = await s.scan('s', { prefix: '', limit: 1000 });
  const log = await s.readLog('s', 0, 1_000_000);
  const index = (await s.index('s')).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const gets: Array<[string, unknown]> = [];
  for (const k of KEYS) gets.push([k, norm(await s.get('s', k))]);
  return {
    gets,
    scan: scan.map(([k, rec]) => [k, norm(rec)]),
    log: log.map(([k, rec]) => [k, norm(rec)]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    index,
  };
}

function expected(model: Map<string, KeyRecord>): unknown {
  const keys = [...model.keys()].sort();
  return {
    gets: KEYS.map((k) => [k, norm(model.get(k))]),
    scan: keys.map((k) => [k, norm(model.get(k))]),
    log: keys.map((k) => [k, norm(model.get(k))]),
    index: keys.map((k) => ({ key: k, seq: model.get(k)!.seq, h: model.get(k)!.h })),
  };
}

describe('records kept in columns read back exactly (seeded schedules)', () => {
  it('memory storage, and file storage with a tiny cache and after a reopen, give back every record as put', async () => {
    const seed = testSeed();
    const at = (step: number) => `seed ${seed} (SEED=${seed} replays), step ${step}`;
    const rnd = prng(seed);
    const mem = memoryStorage();
    await mem.open();
    const dir = await mkdtemp(join(tmpdir(), 'concord-rev48b-columns-'));
    dirs.push(dir);
    let fs = fileStorage(dir, { cacheRecords: 3 });
    await fs.open();
    const model = new Map<string, KeyRecord>();
    let seq = 0;
    for (let step = 0; step < 120; step++) {
      const writes: Array<[string, KeyRecord | null]> = [];
      for (let w = 1 + int(rnd, 4); w > 0; w--) {
        const key = pick(rnd, KEYS);
        writes.push([key, rnd() < 0.15 ? null : record(rnd, seed, key, ++seq)]);
      }
      const throws = int(rnd, 10) === 0;
      for (const s of [mem, fs]) {
        const done = s.transact((tx) => {
          for (const [key, rec] of writes) {
            if (rec) tx.put('s', key, rec);
            else tx.remove('s', key);
          }
          if (throws) throw new Error('the app failed mid-transaction');
        });
        if (throws) await expect(done).rejects.toThrow('mid-transaction');
        else await done;
      }
      if (!throws) for (const [key, rec] of writes) rec ? model.set(key, rec) : model.delete(key);
      const want = expected(model);
      expect(await readAll(mem), at(step)).toEqual(want);
      expect(await readAll(fs), at(step) + ' (file storage)').toEqual(want);
      // Each hash is the state hash of what was put (a local write's, read late, included).
      for (const { key, h } of await mem.index('s')) expect(h.toLowerCase(), at(step) + ' ' + key.slice(0, 20)).toBe(stateHash(key, model.get(key)!));
      // A rebuilt record is fresh: mutating what a read gave changes no later read.
      const key = pick(rnd, [...model.keys(), 'k0']);
      const got = await mem.get('s', key);
      if (got && got !== model.get(key)) {
        const v = got.vs[0] as { n: number; v?: unknown };
        v.n = 999;
        v.v = 'mutated';
        (got.cc as Record<string, number>)[IDS[0]!] = 999;
        expect(norm(await mem.get('s', key)), at(step) + ' mutated read of ' + key.slice(0, 20)).toEqual(norm(model.get(key)));
      }
      if (step % 40 === 39) {
        await fs.close();
        fs = fileStorage(dir, { cacheRecords: 3 });
        await fs.open();
        expect(await readAll(fs), at(step) + ' (file storage reopened)').toEqual(want);
      }
    }
    await fs.close();
    await mem.close();
  });
});
