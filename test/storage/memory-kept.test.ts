// The memory storage keeps a record of one plain version whose own dot is its whole context as the version's fields,
// its seq and its hash, and rebuilds the record when read (memory-storage.ts OneVersion: what a put leaves on the heap
// shrinks, bench S3). Every record must read back as it was put, by every read path, whether it was kept that way or
// whole: these shapes sit on both sides of the line (one version but a second writer in the context, a context above
// the dot, a source, an epoch's points, two versions, a tombstone, bytes, a derived version, a dot naming an epoch).
import { describe, expect, it } from 'vitest';
import type { StoredVersion } from '../../lib/dvv.js';
import { openReplica } from '../../lib/index.js';
import { memoryStorage } from '../../lib/memory-storage.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';

const T = 1_700_000_000_000;
const A = 'replicaA';
const B = 'replicaB';
const version = (r: string, n: number, more: Partial<StoredVersion> = {}): StoredVersion => ({ r, n, t: T + n, c: 0, v: JSON.stringify(`${r}${n}`), ...more });
const h = (seq: number) => seq.toString(16).padStart(16, '0');

/** [name, the record put at seq 1 under key `name`]. */
const shapes: Array<[string, KeyRecord]> = [
  ['one writer', { vs: [version(A, 1)], cc: { [A]: 1 }, seq: 1, h: h(1) }],
  ['one writer, dot below the log seq', { vs: [version(A, 3)], cc: { [A]: 3 }, seq: 9, h: h(9) }],
  ['a tombstone', { vs: [{ r: A, n: 2, t: T, c: 4, d: 1 }], cc: { [A]: 2 }, seq: 2, h: h(2) }],
  ['a tombstone with a value', { vs: [version(A, 2, { d: 1 })], cc: { [A]: 2 }, seq: 2, h: h(2) }],
  ['a version without its value', { vs: [{ r: A, n: 2, t: T, c: 0 }], cc: { [A]: 2 }, seq: 2, h: h(2) }],
  ['bytes', { vs: [version(A, 1, { v: Uint8Array.of(0, 1, 2, 255) })], cc: { [A]: 1 }, seq: 1, h: h(1) }],
  ['a derived version', { vs: [version(A, 5, { x: { b: [[A, 4]], d: Uint8Array.of(7), s: 4 } })], cc: { [A]: 5 }, seq: 5, h: h(5) }],
  ['a dot naming an epoch', { vs: [version(A, 4, { ep: 'E1' })], cc: { [A]: 4 }, seq: 4, h: h(4) }],
  ['a second writer in the context', { vs: [version(A, 2)], cc: { [A]: 2, [B]: 7 }, seq: 2, h: h(2) }],
  ['a second writer first in the context', { vs: [version(A, 2)], cc: { [B]: 7, [A]: 2 }, seq: 2, h: h(2) }],
  ['a context above the dot', { vs: [version(A, 2)], cc: { [A]: 6 }, seq: 6, h: h(6) }],
  ['a context naming another writer only', { vs: [version(A, 2)], cc: { [B]: 2 }, seq: 2, h: h(2) }],
  ['an empty context', { vs: [version(A, 2)], cc: {}, seq: 2, h: h(2) }],
  ['a source', { vs: [version(A, 1)], cc: { [A]: 1 }, seq: 1, h: h(1), src: B }],
  ['context points', { vs: [version(A, 3)], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E1', n: 3 }] }, seq: 3, h: h(3) }],
  // (Its version's fields in the order a write makes them, record.ts versionFor: the order a kept one is rebuilt in.)
  ['a tagged write: its dot and its one context point', { vs: [{ r: A, ep: 'E1', n: 3, t: T, c: 0, v: '"x"' }], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E1', n: 3 }] }, seq: 3, h: h(3) }],
  // (A peer's state stored as it came, core.ts joinNow: what every client of a relay stores for each key it receives.)
  ['a tagged write from a peer: its source', { vs: [{ r: A, ep: 'E1', n: 3, t: T, c: 0, v: '"x"' }], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E1', n: 3 }] }, seq: 3, h: h(3), src: B }],
  ['a tagged write from a peer, its hash not hex', { vs: [{ r: A, ep: 'E1', n: 3, t: T, c: 0, v: '"x"' }], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E1', n: 3 }] }, seq: 3, h: 'not a hash', src: B }],
  ['a source that is no string', { vs: [version(A, 1)], cc: { [A]: 1 }, seq: 1, h: h(1), src: 7 as unknown as string }],
  ['a tagged dot, its point naming another epoch', { vs: [version(A, 3, { ep: 'E1' })], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E2', n: 3 }] }, seq: 3, h: h(3) }],
  ['a tagged dot, its point at another counter', { vs: [version(A, 3, { ep: 'E1' })], cc: { [A]: 3 }, pts: { [A]: [{ e: 'E1', n: 2 }] }, seq: 3, h: h(3) }],
  ['a tagged dot and a second point', { vs: [version(A, 3, { ep: 'E1' })], cc: { [A]: 3 }, pts: { [A]: [{ e: '', n: 2 }, { e: 'E1', n: 3 }] }, seq: 3, h: h(3) }],
  ['a tagged dot, points of another writer too', { vs: [version(A, 3, { ep: 'E1' })], cc: { [A]: 3, [B]: 1 }, pts: { [A]: [{ e: 'E1', n: 3 }], [B]: [{ e: 'E9', n: 1 }] }, seq: 3, h: h(3) }],
  ['a tagged dot, points of another writer only', { vs: [version(A, 3, { ep: 'E1' })], cc: { [A]: 3 }, pts: { [B]: [{ e: 'E1', n: 3 }] }, seq: 3, h: h(3) }],
  ['a tagged tombstone', { vs: [{ r: A, ep: 'E1', n: 2, t: T, c: 4, d: 1 }], cc: { [A]: 2 }, pts: { [A]: [{ e: 'E1', n: 2 }] }, seq: 2, h: h(2) }],
  ['two versions', { vs: [version(A, 1), version(B, 1)], cc: { [A]: 1, [B]: 1 }, seq: 3, h: h(3) }],
  ['no version', { vs: [], cc: { [A]: 1 }, seq: 1, h: h(1) }],
];

/** The record as the test compares it: its fields in their order, bytes and fields present but undefined included. */
function form(rec: KeyRecord | undefined): unknown {
  return rec && JSON.stringify(rec, (_, v: unknown) => (v instanceof Uint8Array ? { bytes: [...v] } : v === undefined ? '(undefined)' : v));
}

async function reads(s: StorageAdapter, key: string): Promise<Array<[string, unknown]>> {
  const inTx = await s.transact((tx) => tx.get('s', key));
  const [scanned] = await s.scan('s', { prefix: key, limit: 1 });
  const logged = (await s.readLog('s', 0, 100)).find(([k]) => k === key);
  return [
    ['get', form(await s.get('s', key))],
    ['tx.get', form(inTx)],
    ['scan', form(scanned?.[0] === key ? scanned[1] : undefined)],
    ['readLog', form(logged?.[1])],
  ];
}

describe('memory storage: records kept as their one version', () => {
  it.each(shapes)('%s: every read gives the record back as put', async (name, rec) => {
    const s = memoryStorage();
    await s.open();
    await s.transact((tx) => tx.put('s', name, rec));
    for (const [path, got] of await reads(s, name)) expect([path, got]).toEqual([path, form(rec)]);
    expect(await s.index('s')).toEqual([{ key: name, seq: rec.seq, h: rec.h }]);
  });

  it('a key moving between kept and whole records reads its latest, in the log once', async () => {
    const s = memoryStorage();
    await s.open();
    const steps = [shapes[0]![1], shapes[6]![1], shapes[11]![1], shapes[2]![1], shapes[13]![1]].map((r, i) => ({ ...r, seq: 10 + i }));
    for (const r of steps) {
      await s.transact((tx) => tx.put('s', 'k', r));
      for (const [path, got] of await reads(s, 'k')) expect([path, got]).toEqual([path, form(r)]);
      expect((await s.readLog('s', 0, 100)).map(([k, x]) => [k, x.seq])).toEqual([['k', r.seq]]);
    }
  });

  it('writes on top of kept records: puts in flight on one key, a put with an older context, a delete, then the same again', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    const changes: unknown[] = [];
    space.subscribe('*', (c) => changes.push([c.key, c.value, c.deleted]));
    const first = await space.put('k', 1);
    // In flight on one key, each reading the record the one before kept (rebuilt from its one version).
    const [, , third] = await Promise.all([space.put('k', 2), space.put('k', 3), space.put('k', 4)]);
    expect((await space.get('k'))?.siblings).toEqual([4]);
    // Superseding only what `first` saw: 4 stays beside it, the key's context holds both dots.
    await space.put('k', 5, { context: first.context });
    const both = await space.get('k');
    expect([...both!.siblings].sort()).toEqual([4, 5]);
    expect(both!.conflict).toBe(true);
    await space.put('k', 6, { context: both!.context });
    expect((await space.get('k'))?.siblings).toEqual([6]);
    await space.delete('k');
    expect(await space.get('k')).toBeUndefined();
    await space.put('k', 7, { context: third.context });
    expect((await space.get('k'))?.siblings).toEqual([7]);
    expect(changes).toEqual([['k', 1, false], ['k', 2, false], ['k', 3, false], ['k', 4, false], ['k', 5, false], ['k', 6, false], ['k', undefined, true], ['k', 7, false]]);
    await replica.close();
  });
});
