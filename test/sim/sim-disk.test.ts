/**
 * The simulated disk (test/support/sim-disk.ts) passes the storage contract, and has file storage's
 * durability semantics, which the crash, restore and tab faults of the simulator rely on.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { openReplica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { SimDisk } from '../support/sim-disk.js';
import { rec, runStorageContract } from '../storage/contract.js';
import { settle, VirtualClock } from './clock.js';

const realTimers = {
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

runStorageContract('SimDisk (durable at commit)', async () => {
  const disk = new SimDisk({ timers: realTimers });
  return { storage: disk.instance(), reopen: async () => disk.instance() };
});

runStorageContract('SimDisk (group commit after a 1 ms fsync)', async () => {
  const disk = new SimDisk({ timers: realTimers, fsyncDelay: () => 1 });
  return { storage: disk.instance(), reopen: async () => disk.instance() };
});

runStorageContract('SimDisk (storage jitter: microtasks and zero-delay timers)', async () => {
  let n = 0;
  const disk = new SimDisk({ timers: realTimers, fsyncDelay: () => 1, jitter: () => [0, 3, -1, 1, 7][n++ % 5]! });
  return { storage: disk.instance(), reopen: async () => disk.instance() };
});

describe('SimDisk storage jitter', () => {
  it('a read called before a transaction may look after it, the same each run', async () => {
    const order = async (): Promise<string[]> => {
      const clock = new VirtualClock();
      const delays = [5, 0, 0, 0, 0, 0];
      let n = 0;
      const disk = new SimDisk({ timers: clock, jitter: () => delays[n++] ?? 0 });
      const s = disk.instance();
      await s.open();
      const done: string[] = [];
      // The read waits 5 microtasks before it looks; the transaction called after it waits none (without jitter the
      // read would find nothing).
      const read = s.get('sp', 'k').then((r) => done.push(`read ${r?.seq ?? 'none'}`));
      const write = put(s, 'k', 1).then(() => done.push('write'));
      await Promise.all([read, write]);
      return done;
    };
    const first = await order();
    expect(first, 'the read saw the write called after it').toContain('read 1');
    expect(await order()).toEqual(first);
  });

  it('holds a completion on a timer until the clock steps, and calm() lets it go at once', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk({ timers: clock, jitter: () => -1 });
    const s = disk.instance();
    await s.open();
    let got = false;
    const read = s.getMeta('m').then(() => (got = true));
    await settle();
    expect(got).toBe(false);
    expect(disk.waits).toBe(1);
    disk.calm();
    await read;
    expect(disk.waits).toBe(0);
    // Off now: the next read takes no timer.
    await s.getMeta('m');
  });
});

/** A disk with a 100 ms fsync on a virtual clock, and one open instance. */
async function slowDisk(): Promise<{ clock: VirtualClock; disk: SimDisk; s: StorageAdapter }> {
  const clock = new VirtualClock();
  const disk = new SimDisk({ timers: clock, fsyncDelay: () => 100 });
  const s = disk.instance();
  await s.open();
  return { clock, disk, s };
}

const put = (s: StorageAdapter, key: string, seq: number) =>
  s.transact((tx) => {
    tx.put('sp', key, rec(seq));
    tx.setMeta('seq', seq);
  });

describe('SimDisk durability', () => {
  it('a transaction is visible when applied, resolves when its fsync ends, and readLog waits for durability', async () => {
    const { clock, s } = await slowDisk();
    let done = false;
    const p = put(s, 'a', 1).then(() => (done = true));
    await clock.advance(0);
    expect(await s.get('sp', 'a')).toEqual(rec(1));
    expect(await s.getMeta('seq')).toBe(1);
    expect((await s.index('sp')).map((e) => e.key)).toEqual(['a']);
    expect(await s.readLog('sp', 0, 10)).toEqual([]);
    expect(done).toBe(false);
    await clock.advance(100);
    await p;
    expect(await s.readLog('sp', 0, 10)).toEqual([['a', rec(1)]]);
  });

  it('transactions committed during an fsync go in the next group; readLog stops at the first entry not durable', async () => {
    const { clock, s } = await slowDisk();
    const first = put(s, 'a', 1);
    await clock.advance(50);
    const second = put(s, 'b', 2);
    await clock.advance(50);
    await first;
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a']);
    await clock.advance(100);
    await second;
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a', 'b']);
  });

  it('a crash loses what was not durable: its transact rejects CLOSED, every instance is dead, the next one sees the durable state', async () => {
    const { clock, disk, s } = await slowDisk();
    await Promise.all([put(s, 'a', 1), clock.advance(100)]);
    const lost = put(s, 'b', 2);
    await clock.advance(10);
    expect(await s.get('sp', 'b')).toEqual(rec(2));
    disk.crash();
    await expect(lost).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(s.get('sp', 'a')).rejects.toBeInstanceOf(ConcordError);
    const again = disk.instance();
    await again.open();
    expect(await again.get('sp', 'a')).toEqual(rec(1));
    expect(await again.get('sp', 'b')).toBeUndefined();
    expect(await again.getMeta('seq')).toBe(1);
  });

  it('a full disk fails the group whose fsync runs and every transaction after it (STORAGE_FULL), back to the durable state; later ones commit', async () => {
    const { clock, disk, s } = await slowDisk();
    await Promise.all([put(s, 'a', 1), clock.advance(100)]);
    const inGroup = put(s, 'a', 2);
    await clock.advance(10);
    disk.failNextCommit();
    const queued = put(s, 'b', 3);
    await clock.advance(10);
    expect(await s.get('sp', 'a')).toEqual(rec(2));
    const order: string[] = [];
    const outcomes = Promise.allSettled([inGroup.catch((e) => (order.push('group'), Promise.reject(e))), queued.catch((e) => (order.push('queued'), Promise.reject(e)))]);
    await clock.advance(100);
    const [g, q] = await outcomes;
    expect(g).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FULL' } });
    expect(q).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FULL' } });
    expect(order).toEqual(['group', 'queued']);
    expect(disk.failedCommits).toBe(2);
    // Nothing of them stays: the applied state is the durable one; the instance lives on and commits again.
    expect(await s.get('sp', 'a')).toEqual(rec(1));
    expect(await s.get('sp', 'b')).toBeUndefined();
    expect(await s.getMeta('seq')).toBe(1);
    expect(await s.readLog('sp', 0, 10)).toEqual([['a', rec(1)]]);
    await Promise.all([put(s, 'c', 4), clock.advance(100)]);
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a', 'c']);
    expect(disk.durableRecords('sp').map(([k]) => k).sort()).toEqual(['a', 'c']);
  });

  it('a full disk: a transaction running when its group fails keeps nothing (STORAGE_ERROR); a read-only one waiting on the group fails with it', async () => {
    const { clock, disk, s } = await slowDisk();
    const first = put(s, 'a', 1);
    const read = s.transact(() => 'nothing written');
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const running = s.transact(async (tx) => {
      await gate;
      tx.put('sp', 'b', rec(2));
    });
    await clock.advance(10);
    disk.failNextCommit();
    const settled = Promise.allSettled([first, read, running]);
    await clock.advance(100);
    open();
    const [f, r, run] = await settled;
    expect(f).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FULL' } });
    expect(r).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FULL' } });
    expect(run).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_ERROR' } });
    expect(await s.get('sp', 'b')).toBeUndefined();
    await clock.advance(200);
    expect(disk.pendingBatches).toBe(0);
    await Promise.all([put(s, 'b', 3), clock.advance(100)]);
    expect(await s.get('sp', 'b')).toEqual(rec(3));
  });

  it('a full disk without an fsync delay fails the next transaction at once; the count lapses with the last instance', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk({ timers: clock });
    const s = disk.instance();
    await s.open();
    disk.failNextCommit(2);
    await expect(put(s, 'a', 1)).rejects.toMatchObject({ code: 'STORAGE_FULL' });
    expect(await s.get('sp', 'a')).toBeUndefined();
    await s.close();
    const again = disk.instance();
    await again.open();
    await put(again, 'a', 2);
    expect(await again.get('sp', 'a')).toEqual(rec(2));
  });

  it('a copy holds the durable state at the time it was taken, and the two disks go separate ways', async () => {
    const { clock, disk, s } = await slowDisk();
    await Promise.all([put(s, 'a', 1), clock.advance(100)]);
    void put(s, 'b', 2);
    await clock.advance(10);
    const backup = disk.copy();
    await clock.advance(100);
    const restored = backup.instance();
    await restored.open();
    expect(await restored.get('sp', 'b')).toBeUndefined();
    await Promise.all([put(restored, 'c', 2), clock.advance(100)]);
    expect(await s.get('sp', 'c')).toBeUndefined();
    expect(await s.get('sp', 'b')).toEqual(rec(2));
  });

  it('tabs: instances share the state, hear each other through onExternalChange, and leadership passes on when the leader closes', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk({ timers: clock });
    const [t1, t2] = [disk.instance(), disk.instance()];
    await t1.open();
    await t2.open();
    const l1 = t1.leadership!();
    const l2 = t2.leadership!();
    expect([l1.isLeader, l2.isLeader]).toEqual([true, false]);
    const heard: string[][] = [];
    t2.onExternalChange!((spaces) => heard.push(spaces));
    t1.onExternalChange!(() => heard.push(['not to the writer']));
    await put(t1, 'a', 1);
    await clock.advance(1);
    expect(heard).toEqual([['sp']]);
    expect(await t2.get('sp', 'a')).toEqual(rec(1));
    const changes: boolean[] = [];
    l2.onChange((on) => changes.push(on));
    await t1.close();
    expect(l2.isLeader).toBe(true);
    expect(changes).toEqual([true]);
  });

  it('two replicas on one disk are tabs of one replica: same replicaId, and the other sees a write through the change log', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk({ timers: clock });
    const a = await openReplica({ storage: disk.instance(), now: clock.now });
    const b = await openReplica({ storage: disk.instance(), now: clock.now });
    expect(b.replicaId).toBe(a.replicaId);
    const seen: string[] = [];
    b.space('s').subscribe('*', (e) => seen.push(`${e.key}=${String(e.value)}:${e.origin}`));
    await a.space('s').put('k', 'from tab a');
    await clock.advance(1);
    expect(seen).toEqual(['k=from tab a:local']);
    await a.close();
    await b.close();
  });
});
