/**
 * Review probe: `w.durability` judges from the pending-writes map (which hears of a record only once it is durable)
 * and latches 'synced' in the WriteResult (`wasSynced`); `w.synced` then resolves at once from that latch, skipping
 * the storage read (`where`) that 675a46a added. Setup: test/sync/moved-key.ts (as synced-after-repair.test.ts uses it), except that the app reads `first.durability` before asking for `first.synced`.
 */
import { describe, expect, it } from 'vitest';
import { keyMovedToUndurable } from '../sync/moved-key.js';
import { until } from '../sync/support.js';

describe('w.durability then w.synced while the key moved to an undurable record', () => {
  it('w.synced asked after w.durability still waits for the key\'s record (the status\'s latch does not stand in for it)', async () => {
    const m = await keyMovedToUndurable();
    try {
      expect(await m.peer.space('s').get('k'), 'the peer holds no state of k').toBeUndefined();
      void m.first.durability; // an app polling the status
      let settled = false;
      void m.first.synced.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(settled, 'the first write of k reported synced while the peer held no state of k').toBe(false);
      m.storage.autoFlush = true;
      m.storage.flush();
      await m.second;
      await until(() => settled, 'synced once the peer holds k');
    } finally {
      await m.close();
    }
  });

  it('w.durability says local while the peer holds no state of the key (the pending-writes map places the key at its newer record)', async () => {
    const m = await keyMovedToUndurable();
    try {
      expect(await m.peer.space('s').get('k'), 'the peer holds no state of k').toBeUndefined();
      expect(m.first.durability, 'the first write of k reported synced while the peer held no state of k').toBe('local');
    } finally {
      m.storage.autoFlush = true;
      m.storage.flush();
      await m.close();
    }
  });
});
