// The memory storage keeps a record of one plain version in columns (memory-records.ts): the version's numbers and hash
// in typed arrays, its value and writer id in array slots, a slot per key (reused after a removal). A put then leaves on
// the collected heap its value and little else — no object per key for the young-generation collector to copy (bench
// S3). These tests hold the heap a key costs to that, and read back every record after slots were removed and reused,
// whole records and kept ones mixed, the hash's text included.
import { setFlagsFromString } from 'node:v8';
import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../../lib/memory-storage.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';

const T = 1_700_000_000_000;
const A = 'replicaA';
const VALUE = '{"title":"shared"}';

const hashOf = (i: number) => (i * 0x9e3779b1 >>> 0).toString(16).padStart(8, '0') + (i * 7919).toString(16).padStart(8, '0');
/** A record of one plain version: what a put of a key one replica wrote stores. */
const plain = (i: number, seq: number, v: string = VALUE): KeyRecord => ({ vs: [{ r: A, n: seq, t: T + i, c: i % 3, v }], cc: { [A]: seq }, seq, h: hashOf(i) });
/** A tagged replica's write: its dot names epoch `ep`, its context is that one point. */
const tagged = (i: number, seq: number, ep = 'E1', v: string = VALUE): KeyRecord => ({
  vs: [{ r: A, ep, n: seq, t: T + i, c: i % 3, v }],
  cc: { [A]: seq },
  pts: { [A]: [{ e: ep, n: seq }] },
  seq,
  h: hashOf(i),
});
/** A record kept whole (a tombstone). */
const tomb = (i: number, seq: number): KeyRecord => ({ vs: [{ r: A, n: seq, t: T + i, c: 0, d: 1 }], cc: { [A]: seq }, seq, h: hashOf(i) });

async function putAll(s: StorageAdapter, recs: Array<[string, KeyRecord | null]>): Promise<void> {
  await s.transact((tx) => {
    for (const [key, rec] of recs) {
      if (rec) tx.put('s', key, rec);
      else tx.remove('s', key);
    }
  });
}

const N = 20_000;

/**
 * N keys `<prefix><i>`, each put in a transaction of its own as puts do (`make(i, seq)`: the record, made here and let
 * go once stored): the collected heap they left, per key, after full collections. The storage stays open.
 */
async function heapPerKey(prefix: string, make: (i: number, seq: number) => KeyRecord): Promise<{ s: StorageAdapter; keys: string[]; perKey: number }> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const keys = Array.from({ length: N }, (_, i) => `${prefix}${i}`);
  const s = memoryStorage();
  await s.open();
  await putAll(s, [['warm', make(0, 1)]]);
  gc();
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < N; i++) await s.transact((tx) => tx.put('s', keys[i]!, make(i, i + 2)));
  gc();
  gc();
  return { s, keys, perKey: (getHeapStatistics().used_heap_size - before) / N };
}

describe('memory storage: records kept in columns', () => {
  it('a key of one plain version costs the collected heap little more than its map entry and log entry', async () => {
    const { s, keys, perKey } = await heapPerKey('k', plain);
    // The map's entry (~40 bytes with its growth), the log's two slots and the table's two (the value is shared here):
    // ~100 bytes. A record kept as an object was ~190 (the object, its boxed HLC, its hash's text, beside those).
    expect(perKey).toBeLessThan(130);
    // And every record reads back as it was put.
    for (const i of [0, 1, 63, 64, 777, 2047, 2048, 4095, 4096, N - 1]) expect(await s.get('s', keys[i]!)).toEqual(plain(i, i + 2));
    expect((await s.index('s')).find((e) => e.key === keys[N - 1])).toEqual({ key: keys[N - 1], seq: N + 1, h: hashOf(N - 1) });
    await s.close();
  });

  it("a tagged replica's write (its dot names an epoch, its context that one point) costs the heap as little", async () => {
    // At protocol 11 a replica tags its dots from its storage's second open: most writes of a live app. Kept whole,
    // such a record was the object, its version, context, points object, points array and point (~580 bytes a key).
    const { s, keys, perKey } = await heapPerKey('t', tagged);
    expect(perKey).toBeLessThan(130);
    for (const i of [0, 1, 2047, 2048, N - 1]) expect(await s.get('s', keys[i]!)).toEqual(tagged(i, i + 2));
    expect((await s.index('s')).find((e) => e.key === keys[N - 1])).toEqual({ key: keys[N - 1], seq: N + 1, h: hashOf(N - 1) });
    // Writers of other epochs and replicas beside them: each slot rebuilds with its own.
    await putAll(s, [
      ['o1', tagged(1, 5, 'E2')],
      ['o2', { ...tagged(2, 6), vs: [{ r: 'replicaB', ep: 'E1', n: 6, t: T, c: 0, v: VALUE }], cc: { replicaB: 6 }, pts: { replicaB: [{ e: 'E1', n: 6 }] } }],
      ['o3', plain(3, 7)],
    ]);
    expect(await s.get('s', 'o1')).toEqual(tagged(1, 5, 'E2'));
    expect((await s.get('s', 'o2'))?.vs[0]).toEqual({ r: 'replicaB', ep: 'E1', n: 6, t: T, c: 0, v: VALUE });
    expect(await s.get('s', 'o3')).toEqual(plain(3, 7));
    expect(await s.get('s', keys[5]!)).toEqual(tagged(5, 7));
    await s.close();
  });

  it("a peer's state stored as it came (its source named: every key a relay's client receives) costs the heap as little", async () => {
    // core.ts joinNow names the peer (`src`) where the joined state is the peer's. Kept whole, such a record was 12
    // objects (~550 bytes a key) that the young-generation collector copied: with 50 clients on a thread (bench S7,
    // bench/floor/s7-tail.mjs) those copies were the pauses inside the slowest writes.
    const fromPeer = (i: number, seq: number): KeyRecord => ({ ...tagged(i, seq), src: 'relayR' });
    const { s, keys, perKey } = await heapPerKey('p', fromPeer);
    expect(perKey).toBeLessThan(130);
    for (const i of [0, 1, 2047, 2048, N - 1]) expect(await s.get('s', keys[i]!)).toEqual(fromPeer(i, i + 2));
    expect((await s.index('s')).find((e) => e.key === keys[N - 1])).toEqual({ key: keys[N - 1], seq: N + 1, h: hashOf(N - 1) });
    // Sources, writers and epochs side by side: each slot rebuilds with its own (one object shared per run of them).
    const untagged = (i: number, seq: number, src: string): KeyRecord => ({ ...plain(i, seq), src });
    await putAll(s, [
      ['q1', untagged(1, 5, 'relayR')],
      ['q2', { ...tagged(2, 6), src: 'relayS' }],
      ['q3', tagged(3, 7)],
      ['q4', untagged(4, 8, 'relayS')],
      ['q5', plain(5, 9)],
    ]);
    expect(await s.get('s', 'q1')).toEqual(untagged(1, 5, 'relayR'));
    expect(await s.get('s', 'q2')).toEqual({ ...tagged(2, 6), src: 'relayS' });
    expect(await s.get('s', 'q3')).toEqual(tagged(3, 7));
    expect(await s.get('s', 'q4')).toEqual(untagged(4, 8, 'relayS'));
    expect(await s.get('s', 'q5')).toEqual(plain(5, 9));
    expect(await s.get('s', keys[9]!)).toEqual(fromPeer(9, 11));
    await s.close();
  });

  it('a value given as a rope (what JSON.stringify answers past 32 characters) is kept as one flat string', async () => {
    // A plain value decoded from a frame is JSON.stringify's text (sync/codec.ts): V8 answers with a rope of the
    // pieces it wrote (three objects for the value below). The storage flattens what it keeps: the heap a key costs is
    // that of the same text given flat.
    const text = (i: number) => JSON.stringify({ title: `item ${i}`, done: i % 2 === 0, n: i });
    const flat = (i: number) => {
      const t = text(i);
      t.charCodeAt(0);
      return t;
    };
    const roped = await heapPerKey('r', (i, seq) => tagged(i, seq, 'E1', text(i)));
    expect(await roped.s.get('s', 'r7')).toEqual(tagged(7, 9, 'E1', text(7)));
    await roped.s.close();
    const flatOnes = await heapPerKey('f', (i, seq) => tagged(i, seq, 'E1', flat(i)));
    await flatOnes.s.close();
    // (A rope of the 41 characters is ~110 bytes, the flat string ~64.)
    // About 1 byte apart when kept flat, ~54 when the rope is kept; a loaded machine once measured 22 (heap noise).
    expect(roped.perKey - flatOnes.perKey).toBeLessThan(30);
  });

  it('slots of removed keys are reused: every record reads back as put, by every read path, hashes included', async () => {
    const s = memoryStorage();
    await s.open();
    const want = new Map<string, KeyRecord>();
    let seq = 0;
    const step = async (recs: Array<[string, KeyRecord | null]>) => {
      await putAll(s, recs);
      for (const [key, rec] of recs) {
        if (rec) want.set(key, rec);
        else want.delete(key);
      }
    };
    await step(Array.from({ length: 200 }, (_, i) => [`a${i}`, i % 5 === 0 ? tomb(i, ++seq) : plain(i, ++seq, `"${i}"`)]));
    // Remove every third key, then add new keys (into the freed slots) and rewrite some kept keys whole and back.
    await step(Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 3 === 0).map((i) => [`a${i}`, null]));
    await step(Array.from({ length: 100 }, (_, i) => [`b${i}`, plain(1000 + i, ++seq, `"b${i}"`)]));
    await step([
      ['a1', tomb(1, ++seq)],
      ['a5', plain(5, ++seq, '"five again"')],
      ['b0', null],
      ['b0', plain(2000, ++seq, '"b0 back"')],
      ['a2', { ...plain(2, ++seq), h: 'NOT-HEX-16-CHARS' }],
      ['a4', { ...plain(4, ++seq), h: 'ABCDEF0123456789' }],
    ]);
    for (const [key, rec] of want) expect([key, await s.get('s', key)]).toEqual([key, rec]);
    expect((await s.index('s')).sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual(
      [...want].map(([key, r]) => ({ key, seq: r.seq, h: r.h })).sort((x, y) => (x.key < y.key ? -1 : 1)),
    );
    const scanned = await s.scan('s', { limit: 10_000 });
    expect(new Map(scanned)).toEqual(want);
    const logged = await s.readLog('s', 0, 10_000);
    expect(logged.map(([k]) => k)).toEqual([...want].sort((x, y) => x[1].seq - y[1].seq).map(([k]) => k));
    expect(new Map(logged)).toEqual(want);
    // Inside a transaction: a key read, then another removed and a third added into its slot, then the first stored.
    await s.transact((tx) => {
      expect(tx.get('s', 'a7')).toEqual(want.get('a7'));
      tx.remove('s', 'a8');
      tx.put('s', 'c0', plain(3000, ++seq, '"c0"'));
      tx.put('s', 'a7', plain(7, ++seq, '"seven"'));
    });
    expect(await s.get('s', 'a8')).toBeUndefined();
    expect(await s.get('s', 'c0')).toEqual(plain(3000, seq - 1, '"c0"'));
    expect(await s.get('s', 'a7')).toEqual(plain(7, seq, '"seven"'));
    await s.close();
  });
});
