/**
 * Only durable state leaves a replica (DESIGN.md: "a dot leaves its replica only once it is durable there").
 * Issue 10, defect 4: anti-entropy read states with `storage.get`, which on file storage returns records
 * applied but not yet fsynced; a crash then re-minted the same dot for another value, and the two replicas
 * held two values under one dot with equal hashes, never converging.
 */
import { describe, expect, it } from 'vitest';
import { openReplica, pairTransports, memoryStorage } from '../../lib/index.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { synced, until } from './support.js';

describe('only durable state leaves a replica', () => {
  it('anti-entropy does not send a write before it is durable; after a crash that loses it, the replicas converge', async () => {
    const storage = volatileStorage();
    const a = await openReplica({ storage });
    const b = await openReplica({ storage: memoryStorage() });
    await a.space('s').put('x', 'durable on a');
    await b.space('s').put('y', 'on b');
    // A write applied but not fsynced when a first meets b (no cursors yet: anti-entropy compares trees).
    storage.autoFlush = false;
    void a.space('s').put('k', 'lost in the crash');
    await until(() => storage.unflushed === 1, 'the write is applied');
    const [ta, tb] = pairTransports();
    const la = a.connect(ta, { antiEntropyInterval: 0 });
    const lb = b.connect(tb, { antiEntropyInterval: 0 });
    // a cannot store anything now (its storage has not fsynced since), but it can answer anti-entropy.
    await new Promise((r) => setTimeout(r, 200));
    // The crash: a loses the unflushed write and comes back on what was durable.
    la.close();
    lb.close();
    const survivor = await storage.crashed();
    await a.close();
    const a2 = await openReplica({ storage: survivor });
    const w = await a2.space('s').put('k', 'written after the crash');
    const [tc, td] = pairTransports();
    a2.connect(tc, { antiEntropyInterval: 0 });
    b.connect(td, { antiEntropyInterval: 0 });
    await w.synced;
    await synced(a2, b);
    const onB = await b.space('s').get('k');
    const onA = await a2.space('s').get('k');
    expect(onA?.siblings).toEqual(['written after the crash']);
    expect(onB?.siblings).toEqual(onA?.siblings);
    expect(onB?.versions).toEqual(onA?.versions);
    await Promise.all([a2.close(), b.close()]);
  });
});
