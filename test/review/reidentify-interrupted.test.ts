/**
 * A re-identification (lib/reidentify.ts) commits its new identity and the writes it re-issues from its own log first;
 * what a tab sharing the storage wrote meanwhile, and the own writes a join dropped before the restore was known
 * (lib/dropped-own.ts), come after. When a transaction after the first fails (a disk full for one commit, a storage
 * error) or the process dies between them, the identity is changed for good: nothing may stay half done. Every write
 * made since the restore point must be under the new id — at once when a retry can commit (a session's hello), or at
 * the next open — and RESTORED is told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { REISSUE_META } from '../../lib/reidentify.js';
import { VirtualClock } from '../sim/clock.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { allReissued, closeOpened, codes, interrupted, keepToClose, versionsOf } from '../support/reidentify-interrupted.js';
import { SimDisk } from '../support/sim-disk.js';

afterEach(closeOpened);

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
    // k2's dropped write went with the identity (the first transaction: reidentify-left's slot case); the note stays.
    await allReissued(r, oldId);
    expect(await r.core.storage.getMeta(REISSUE_META), 'left for a later retry').toHaveLength(1);
    await r.core.refreshIdentity();
    expect(await r.core.storage.getMeta(REISSUE_META), 'finished').toBeFalsy();
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
    keepToClose(again);
    expect(again.replicaId).toBe(newId);
    await allReissued(again, oldId);
    await again.close();
    // Done once: a later open re-issues nothing more.
    const third = await openReplica({ storage, speaks: SPEAKS_10 });
    keepToClose(third);
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
    keepToClose(again);
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
    keepToClose(tab!);
    expect(await versionsOf(r, 'k4'), 'left under the old id by the failed pass').toEqual([[oldId, 'from the other tab meanwhile']]);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
    expect(await versionsOf(r, 'k4')).toEqual([[r.replicaId, 'from the other tab meanwhile']]);
  });

  it('another tab opening in between finishes it, and its own writes under the old id are re-issued too', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() });
    const { r, oldId } = await interrupted(disk.instance(), [2]);
    const tab = await openReplica({ storage: disk.instance(), speaks: SPEAKS_10 });
    keepToClose(tab);
    expect(tab.replicaId).toBe(r.replicaId);
    await allReissued(r, oldId);
    await r.core.refreshIdentity();
    await allReissued(r, oldId);
  });
});
