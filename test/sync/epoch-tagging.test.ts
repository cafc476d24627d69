// Tagging (docs/design/epochs-build.md, item 1): a replica opened speaking protocol 11, whose storage has met a peer
// speaking it (item 6: `metAt11` stands for that session here), mints every dot as (replica, epoch, counter) from that
// open on (identity.ts Identity.tagged); the epoch's record forks from the untagged root at the open's log top. What is tested: tagged records survive reopens on memory, file and IndexedDB storage and travel
// at 11 by catch-up, anti-entropy and LIVE frames; tabs of one storage tag alike; untagged data written before tagging
// started goes on working beside tagged data; and a default replica tags nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { UNTAGGED } from '../../lib/epoch-points.js';
import { IDENTITY_META } from '../../lib/identity.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { VirtualClock } from '../sim/clock.js';
import { place as placeOf, type Place } from '../support/places.js';
import { SimDisk } from '../support/sim-disk.js';
import { journaledCluster } from './restore-support.js';
import { metAt11 } from '../support/epoch-peer.js';
import { dump, synced, tapped } from './support.js';

const WITH_11 = [...PROTOCOL_VERSIONS, EPOCH_DOTS];
const open: Replica[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
  for (const c of cleanups.splice(0)) await c();
});

async function replica(storage: StorageAdapter, speaks?: readonly number[]): Promise<Replica> {
  const r = await openReplica({ storage, ...(speaks ? { speaks } : {}) });
  open.push(r);
  return r;
}

const rec = async (r: Replica, key: string): Promise<KeyRecord | undefined> => await r.core.storage.get('s', key);
const identity = async (r: Replica) => await r.core.storage.getMeta<{ id: string; epoch: string; tagged?: string }>(IDENTITY_META);

const place = (kind: 'memory' | 'file' | 'indexeddb'): Promise<Place> => placeOf(kind, cleanups, 'tagging');

describe('a replica speaking 11 names the epoch of every dot it mints', () => {
  it('tags from its open on (the epoch forks from the untagged root); a default replica tags nothing, its identity as before', async () => {
    const a = await replica(await metAt11(memoryStorage()), WITH_11);
    const w = await a.space('s').put('k', 1);
    expect(w.seq).toBeGreaterThan(0);
    const stored = (await rec(a, 'k'))!;
    expect(stored.vs).toEqual([expect.objectContaining({ r: a.replicaId, ep: a.core.epoch })]);
    expect(stored.pts).toEqual({ [a.replicaId]: [{ e: a.core.epoch, n: stored.vs[0]!.n }] });
    expect((await identity(a))?.tagged).toBe(a.core.epoch);
    expect(a.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: UNTAGGED, fork: 0 });

    const d = await replica(memoryStorage());
    await d.space('s').put('k', 1);
    const plain = (await rec(d, 'k'))!;
    expect(plain.vs[0]!.ep).toBeUndefined();
    expect('pts' in plain).toBe(false);
    expect(Object.keys((await identity(d))!).sort()).toEqual(['epoch', 'history', 'id']);
  });

  it('a re-identified replica tags under its new id’s first epoch (a renewed id too)', async () => {
    const a = await replica(await metAt11(memoryStorage()), WITH_11);
    await a.space('s').put('k', 'before');
    const oldId = a.replicaId;
    await a.core.reidentify('a-peer');
    expect(a.replicaId).not.toBe(oldId);
    expect((await identity(a))?.tagged).toBe(a.core.epoch);
    expect(a.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: UNTAGGED, fork: 0 });
    await a.space('s').put('k', 'after');
    expect((await rec(a, 'k'))!.vs).toEqual([expect.objectContaining({ r: a.replicaId, ep: a.core.epoch, v: JSON.stringify('after') })]);
    await a.core.renewIdentity();
    await a.space('s').put('j', 1);
    expect((await rec(a, 'j'))!.vs).toEqual([expect.objectContaining({ r: a.replicaId, ep: a.core.epoch })]);
    expect((await identity(a))?.tagged).toBe(a.core.epoch);
  });

  it.each(['memory', 'file', 'indexeddb'] as const)('a tagged write survives a reopen (%s), and the next open tags under its own epoch', async (kind) => {
    const at = await place(kind);
    const a = await replica(await metAt11(at()), WITH_11);
    await a.space('s').put('k', 'first');
    await a.space('s').put('j', { n: 1 });
    const first = a.core.epoch;
    await a.close();
    const b = await replica(at(), WITH_11);
    expect(b.core.epoch).not.toBe(first);
    expect((await rec(b, 'k'))!.vs).toEqual([expect.objectContaining({ ep: first })]);
    expect((await b.space('s').get('j'))?.value).toEqual({ n: 1 });
    // Superseded through the ancestry: the new epoch's record says it forks from the first at the open's top.
    await b.space('s').put('k', 'second');
    const after = (await rec(b, 'k'))!;
    expect(after.vs).toEqual([expect.objectContaining({ ep: b.core.epoch, v: JSON.stringify('second') })]);
    expect(after.pts![b.replicaId]).toEqual([{ e: b.core.epoch, n: after.vs[0]!.n }]);
    await b.close();
    // Opened by default, it still tags: tagging is the identity's, once started.
    const c = await replica(at());
    await c.space('s').put('k', 'third');
    expect((await rec(c, 'k'))!.vs).toEqual([expect.objectContaining({ ep: c.core.epoch, v: JSON.stringify('third') })]);
  });

  it('two replicas at 11 sync tagged states by catch-up, anti-entropy and LIVE frames', async () => {
    const a = await replica(await metAt11(memoryStorage()), WITH_11);
    const b = await replica(await metAt11(memoryStorage()), WITH_11);
    for (let i = 0; i < 20; i++) await a.space('s').put(`a${i}`, i);
    for (let i = 0; i < 5; i++) await b.space('s').put(`b${i}`, i);
    await b.space('s').put('both', 'b');
    await a.space('s').put('both', 'a');
    const types = new Set<number>();
    const [ta, tb] = pairTransports();
    a.connect(tapped(ta, (frame, conn) => (frame instanceof Uint8Array && types.add(frame[0]!), conn.send(frame))), { antiEntropyInterval: 0 });
    b.connect(tb, { antiEntropyInterval: 0 });
    await synced(a, b);
    for (let i = 0; i < 5; i++) {
      await a.space('s').put(`live${i}`, i);
      await a.whenSynced();
    }
    await synced(a, b);
    expect(types.has(MsgType.AntiEntropy)).toBe(true);
    expect(types.has(MsgType.Changes)).toBe(true);
    expect(types.has(MsgType.Live) || types.has(MsgType.LiveCleared)).toBe(true);
    expect(await dump(b, 's')).toEqual(await dump(a, 's'));
    for (const k of ['a3', 'live4']) expect((await rec(b, k))!.vs).toEqual([expect.objectContaining({ r: a.replicaId, ep: a.core.epoch })]);
    expect((await rec(a, 'b2'))!.vs).toEqual([expect.objectContaining({ r: b.replicaId, ep: b.core.epoch })]);
    // Concurrent writes of one key: both kept, each under its own epoch, on both sides alike.
    const both = (await rec(b, 'both'))!;
    expect(both.vs.map((v) => v.ep).sort()).toEqual([a.core.epoch, b.core.epoch].sort());
    expect(both.h).toBe((await rec(a, 'both'))!.h);
    // Each learned the other's records from its chain frame.
    expect(b.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: UNTAGGED, fork: 0 });
  });

  it('two tabs sharing a storage, both at 11, tag alike; a tab opened by default beside them tags too', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() });
    const a = await replica(await metAt11(disk.instance()), WITH_11);
    const b = await replica(disk.instance(), WITH_11);
    const c = await replica(disk.instance());
    expect(b.core.epoch).toBe(a.core.epoch);
    expect(c.core.epoch).toBe(a.core.epoch);
    await a.space('s').put('k', 'a');
    await b.space('s').put('k', 'b'); // reads a's commit from the storage: supersedes it
    await c.space('s').put('j', 'c');
    const k = (await rec(a, 'k'))!;
    expect(k.vs).toEqual([expect.objectContaining({ ep: a.core.epoch, v: JSON.stringify('b') })]);
    expect(k.pts).toEqual({ [a.replicaId]: [{ e: a.core.epoch, n: k.vs[0]!.n }] });
    expect((await rec(b, 'j'))!.vs).toEqual([expect.objectContaining({ ep: a.core.epoch })]);
    expect((await b.space('s').get('k'))?.siblings).toEqual(['b']);
  });

  it('untagged data from before keeps working once tagging starts (old and tagged records in one store; mixed contexts)', async () => {
    const s = memoryStorage();
    const peerStore = memoryStorage();
    // Both speak 11 from the start: untagged at their first open (their storages met no peer at 11 yet); the session
    // between them is one, so each tags from its next open (item 6).
    let a = await replica(s, WITH_11);
    let p = await replica(peerStore, WITH_11);
    await a.space('s').put('old', 'untagged');
    await a.space('s').put('mixed', 'a, untagged');
    await p.space('s').put('mixed', 'p, untagged');
    const link = () => {
      const [ta, tb] = pairTransports();
      a.connect(ta, { antiEntropyInterval: 0 });
      p.connect(tb, { antiEntropyInterval: 0 });
    };
    link();
    await synced(a, p);
    expect((await rec(a, 'mixed'))!.vs.every((v) => v.ep === undefined)).toBe(true);
    await a.close();
    await p.close();
    a = await replica(s, WITH_11);
    p = await replica(peerStore, WITH_11);
    const oldRec = (await rec(a, 'old'))!;
    expect(oldRec.vs[0]!.ep).toBeUndefined();
    expect((await a.space('s').get('old'))?.value).toBe('untagged');
    // The first tagging epoch forks from the untagged root at the open's top: a's untagged dots are in its history.
    expect(a.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: UNTAGGED, fork: a.core.history.at(-1)![1] });
    await a.space('s').put('old', 'tagged now');
    expect((await rec(a, 'old'))!.vs).toEqual([expect.objectContaining({ ep: a.core.epoch, v: JSON.stringify('tagged now') })]);
    // p writes `mixed` tagged, beside its untagged sibling's supersession: a context naming a's untagged point and p's tagged one.
    const seen = await p.space('s').get('mixed');
    expect(seen?.siblings.sort()).toEqual(['a, untagged', 'p, untagged']);
    await p.space('s').put('mixed', 'p, tagged', { context: seen!.context });
    const mixed = (await rec(p, 'mixed'))!;
    expect(mixed.vs).toEqual([expect.objectContaining({ r: p.replicaId, ep: p.core.epoch })]);
    expect(mixed.cc[a.replicaId]).toBeGreaterThan(0);
    expect(mixed.pts).toEqual({ [p.replicaId]: [{ e: p.core.epoch, n: mixed.vs[0]!.n }] });
    link();
    await synced(a, p);
    expect((await a.space('s').get('mixed'))?.siblings).toEqual(['p, tagged']);
    expect((await p.space('s').get('old'))?.siblings).toEqual(['tagged now']);
    expect(await dump(p, 's')).toEqual(await dump(a, 's'));
    // A context from get() mixing a's untagged point and p's tagged one is taken back by put on a replica at 11.
    const ctx = (await a.space('s').get('mixed'))!.context;
    await a.space('s').put('mixed', 'a again', { context: ctx });
    expect((await a.space('s').get('mixed'))?.siblings).toEqual(['a again']);
  });

  it('a restored writer at 11 that its relay’s hello re-identifies tells its chain first: every replica places its versions alike', async () => {
    // a's write of k after the restore supersedes its own earlier one through the new epoch's ancestry. It leaves under
    // a's new id, to which those epochs are a third replica's: without a's chain frame before the re-identification,
    // hub and d would judge the new epoch a root and keep the superseded version beside it (restore-once 11019).
    const { c, journals } = await journaledCluster(3, ['hub', 'a', 'd'], [['hub', 'a'], ['hub', 'd']], 'hub', WITH_11);
    const on = (n: string) => c.node(n).r.space('s');
    await c.settle(); // a meets hub first: a fresh storage tags from its first meeting with a peer at 11 (item 6)
    await on('a').put('k', 'before the copy');
    await c.settle();
    const backup = journals.get('a')!.mark;
    await on('a').put('x', 'lost with the disk'); // held by hub: its hello tells the restored a it lost writes
    await c.settle();
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backup));
    const oldId = c.node('a').r.replicaId;
    const restoredEpoch = c.node('a').r.core.epoch;
    await on('a').put('k', 'after the restore');
    c.net.heal();
    await c.settle();
    expect(c.node('a').r.replicaId).not.toBe(oldId);
    for (const n of ['hub', 'd']) expect(c.node(n).r.core.epochs.parentOf(oldId, restoredEpoch), n).toBeDefined();
    for (const n of ['a', 'hub', 'd']) expect((await on(n).get('k'))?.siblings, n).toEqual(['after the restore']);
    for (const n of ['a', 'hub', 'd']) expect((await on(n).get('x'))?.siblings, n).toEqual(['lost with the disk']);
    await c.close();
  });
});
