/**
 * A re-identification (lib/reidentify.ts) commits its new identity and the writes it re-issues from its own log first;
 * what a tab sharing the storage wrote meanwhile, and the own writes a join dropped before the restore was known
 * (lib/dropped-own.ts), come after. When a transaction after the first fails (a disk full for one commit, a storage
 * error) or the process dies between them, the identity is changed for good: nothing may stay half done. Every write
 * made since the restore point must be under the new id — at once when a retry can commit (a session's hello), or at
 * the next open — and RESTORED is told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { VirtualClock } from '../sim/clock.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { SimDisk } from '../support/sim-disk.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

/** `inner`, whose transactions fail once each at the positions armed (1: the next one), counted from the arming. */
function failing(inner: StorageAdapter): { storage: StorageAdapter; arm(...at: number[]): void; disarm(): void; afterIndex?: () => Promise<void> } {
  let count = 0;
  let at = new Set<number>();
  const out: ReturnType<typeof failing> = { storage: inner, arm: (...positions) => void ((count = 0), (at = new Set(positions))), disarm: () => void (at = new Set()) };
  out.storage = new Proxy(inner, {
    get(target, name) {
      if (name === 'index') {
        return async (space: string) => {
          const entries = await target.index(space);
          const hook = out.afterIndex;
          out.afterIndex = undefined;
          await hook?.();
          return entries;
        };
      }
      if (name === 'transact') {
        return <T>(fn: Parameters<StorageAdapter['transact']>[0]): Promise<T> => {
          count++;
          if (at.delete(count)) return Promise.reject(new ConcordError('STORAGE_FULL', `transaction ${count} failed (test)`));
          return target.transact(fn) as Promise<T>;
        };
      }
      const v = Reflect.get(target, name) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return out;
}

const codes = (errors: unknown[]) => errors.map((e) => (e as { code?: string }).code);
const versionsOf = async (r: Replica, key: string) => ((await r.space('s').get(key))?.versions ?? []).map((v) => [v.replicaId, v.value]);

/**
 * A replica opened a second time (the restore point is this open), that wrote k1 and k2 since; a peer's state then
 * superseded k2's write by a context covering its dot (the join drops it and notes it). The re-identification's
 * transactions fail where `fail` says (1: its first).
 */
async function interrupted(storage: StorageAdapter, fail: number[], meanwhile?: () => Promise<void>) {
  const f = failing(storage);
  await (await openReplica({ storage: f.storage, speaks: SPEAKS_10 })).close();
  const r = await openReplica({ storage: f.storage, speaks: SPEAKS_10 });
  undo.push(() => r.close());
  const errors: unknown[] = [];
  r.on('error', (e) => void errors.push(e));
  const changes: Array<[string, string | undefined]> = [];
  r.core.events.on('change', (c) => void changes.push([c.key, c.rec.vs.map((v) => v.r).join(',')]));
  const oldId = r.replicaId;
  await r.space('s').put('k1', 'since the restore');
  const w2 = await r.space('s').put('k2', 'dropped by a join');
  await r.core.join('s', [['k2', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '"theirs"' }], cc: { peer: 1, [oldId]: w2.seq } }]]);
  expect(await versionsOf(r, 'k2'), 'the join dropped our write').toEqual([['peer', 'theirs']]);
  f.arm(...fail);
  if (meanwhile) f.afterIndex = meanwhile;
  const outcome = await r.core.reidentify('a-peer').then(
    () => 'done',
    (e: unknown) => e,
  );
  f.disarm();
  return { r, f, oldId, errors, changes, outcome };
}

/** Every write since the restore point is under `r`'s (new) id: k1's, and k2's that the join had dropped. */
async function allReissued(r: Replica, oldId: string) {
  expect(r.replicaId).not.toBe(oldId);
  expect(await versionsOf(r, 'k1')).toEqual([[r.replicaId, 'since the restore']]);
  expect((await versionsOf(r, 'k2')).sort()).toEqual([[r.replicaId, 'dropped by a join'], ['peer', 'theirs']].sort());
}

describe('a re-identification interrupted after its first transaction', () => {
  for (const at of [2, 3]) {
    it(`transaction ${at} failing once: RESTORED is told, and a retry (a session's hello) re-issues every write`, async () => {
      const { r, oldId, errors, changes, outcome } = await interrupted(memoryStorage(), [at]);
      const newId = r.replicaId;
      expect(newId, 'the first transaction stored the new identity').not.toBe(oldId);
      expect(codes(errors), 'told though a later pass failed').toContain('RESTORED');
      expect(changes.some(([k, ids]) => k === 'k1' && ids === newId), "k1's re-issue is told").toBe(true);
      // What every session's hello does first (sync/session.ts): reads the identity, and finishes a re-issue left over.
      await r.core.refreshIdentity();
      await allReissued(r, oldId);
      expect(changes.some(([k, ids]) => k === 'k2' && ids?.includes(newId)), "k2's re-issue is told").toBe(true);
      if (outcome !== 'done') expect(codes([outcome])).toEqual(['STORAGE_FULL']);
    });
  }

  it('the retry failing too: left for a later one, nothing re-issued twice', async () => {
    const { r, f, oldId } = await interrupted(memoryStorage(), [2]);
    f.arm(1);
    await r.core.refreshIdentity();
    expect(await versionsOf(r, 'k2'), 'not yet').toEqual([['peer', 'theirs']]);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
  });

  it('a crash after the first transaction: the next open finishes the re-issue', async () => {
    const storage = memoryStorage();
    const { r, oldId } = await interrupted(storage, [2]);
    const newId = r.replicaId;
    await r.close(); // dies before any retry
    const again = await openReplica({ storage, speaks: SPEAKS_10 });
    undo.push(() => again.close());
    expect(again.replicaId).toBe(newId);
    await allReissued(again, oldId);
    await again.close();
    // Done once: a later open re-issues nothing more.
    const third = await openReplica({ storage, speaks: SPEAKS_10 });
    undo.push(() => third.close());
    await allReissued(third, oldId);
  });

  it('a restore detected again before the retry: both re-issues end under the newest id', async () => {
    const { r, oldId } = await interrupted(memoryStorage(), [2]);
    const mid = r.replicaId;
    await r.space('s').put('k3', 'under the second id');
    await r.core.reidentify('another-peer');
    expect(r.replicaId).not.toBe(mid);
    await allReissued(r, oldId);
    expect(await versionsOf(r, 'k3')).toEqual([[r.replicaId, 'under the second id']]);
  });

  it('its first transaction failing: nothing changed, nothing left to finish', async () => {
    const storage = memoryStorage();
    const { r, oldId, errors, outcome } = await interrupted(storage, [1]);
    expect(codes([outcome])).toEqual(['STORAGE_FULL']);
    expect(r.replicaId).toBe(oldId);
    expect(codes(errors)).not.toContain('RESTORED');
    await r.close();
    const again = await openReplica({ storage, speaks: SPEAKS_10 });
    undo.push(() => again.close());
    expect(again.replicaId, 'no re-identification stored, none finished').toBe(oldId);
    expect(await versionsOf(again, 'k1')).toEqual([[oldId, 'since the restore']]);
  });

  it("a tab's write under the old id while the keys were read, its pass failing: re-issued by the retry", async () => {
    const disk = new SimDisk({ timers: new VirtualClock() }); // hints never travel: the tab hears nothing
    const storage = disk.instance();
    let tab: Replica | undefined;
    const { r, oldId } = await interrupted(storage, [2], async () => {
      tab = await openReplica({ storage: disk.instance(), speaks: SPEAKS_10 });
      await tab.space('s').put('k4', 'from the other tab meanwhile');
    });
    undo.push(() => tab!.close());
    expect(await versionsOf(r, 'k4'), 'left under the old id by the failed pass').toEqual([[oldId, 'from the other tab meanwhile']]);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
    expect(await versionsOf(r, 'k4')).toEqual([[r.replicaId, 'from the other tab meanwhile']]);
  });

  it('another tab opening in between finishes it, and its own writes under the old id are re-issued too', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() });
    const { r, oldId } = await interrupted(disk.instance(), [2]);
    const tab = await openReplica({ storage: disk.instance(), speaks: SPEAKS_10 });
    undo.push(() => tab.close());
    expect(tab.replicaId).toBe(r.replicaId);
    await allReissued(r, oldId);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
  });
});
