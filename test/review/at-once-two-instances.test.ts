/**
 * Review rev46c of s7c: two instances of one replica over one storage (tabs, or a stalled leader and the new one, each
 * with a connection to the relay: tabs.ts says the protocol tolerates it), one answering at once (memory storage), the
 * other late (every transaction a few ms later, no transactNow). Both join the same LIVE frames, one at once and one
 * late, and the late one's cursor lands after the at-once one's. Both instances read the same, and a later session of either resumes from its stored cursor (no anti-entropy), nothing failing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica, type StorageAdapter } from '../../lib/index.js';
import { memoryRelay } from '../support/tab-group.js';
import { dump, synced, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

/** `inner` seen by an instance whose transactions all answer `ms` later (none at once). */
function late(inner: StorageAdapter, ms: number): StorageAdapter {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'transactNow') return undefined;
      if (prop === 'close') return async () => {}; // the other instance closes the storage
      if (prop === 'transact') return (fn: Parameters<StorageAdapter['transact']>[0]) => new Promise((r) => setTimeout(r, ms)).then(() => target.transact(fn));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('two instances of one replica, one storage answering at once for one and late for the other', () => {
  it('both join every LIVE frame: each write stored once, both read the same, the next sessions resume without anti-entropy', async () => {
    const relay = await openReplica({ storage: memoryStorage() });
    const writer = await openReplica({ storage: memoryStorage() });
    const disk = memoryStorage();
    const fast = await openReplica({ storage: disk });
    const slow = await openReplica({ storage: late(disk, 3) });
    open.push(relay, writer, slow, fast);
    expect(slow.replicaId).toBe(fast.replicaId);
    const mem = memoryRelay(relay);
    const errors: unknown[] = [];
    for (const r of [fast, slow]) r.on('error', (e) => errors.push(e));
    const runs: unknown[] = [];
    for (const r of [fast, slow]) r.on('antiEntropy', (x) => runs.push(x));
    writer.space('s');
    fast.space('s');
    slow.space('s');
    writer.connect(mem.transport());
    const links = [fast.connect(mem.transport()), slow.connect(mem.transport())];
    await synced(writer, fast, slow);
    runs.length = 0;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      writes.push((await writer.space('s').put(`k${i % 10}`, i)).synced);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(writes);
    await until(async () => (await fast.space('s').get('k9'))?.value === 39 && (await slow.space('s').get('k9'))?.value === 39, 'both instances read the last writes', 10_000);
    await synced(writer, fast, slow);
    const want = await dump(writer, 's');
    expect(await dump(fast, 's')).toEqual(want);
    expect(await dump(slow, 's')).toEqual(want);
    // Meet again, both: from the cursors stored with the joins, no anti-entropy.
    for (const l of links) l.close();
    fast.connect(mem.transport());
    slow.connect(mem.transport());
    await synced(writer, fast, slow);
    await (await writer.space('s').put('after', 1)).synced;
    await until(async () => (await fast.space('s').get('after')) !== undefined && (await slow.space('s').get('after')) !== undefined, 'the write after');
    expect(runs).toEqual([]);
    expect(errors).toEqual([]);
  }, 30_000);
});
