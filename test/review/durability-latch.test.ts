/**
 * Review probe: `w.durability` judges from the pending-writes map (which hears of a record only once it is durable)
 * and latches 'synced' in the WriteResult (`wasSynced`); `w.synced` then resolves at once from that latch, skipping
 * the storage read (`where`) that 675a46a added. Setup as in synced-after-repair.test.ts ("a write whose key moved to a
 * record not durable yet"), except that the app reads `first.durability` before asking for `first.synced`.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { until } from '../sync/support.js';

describe('w.durability then w.synced while the key moved to an undurable record', () => {
  it('w.synced asked after w.durability still waits for the key\'s record (the status\'s latch does not stand in for it)', async () => {
    const storage = volatileStorage();
    const writer = await openReplica({ storage });
    const peer = await openReplica({ storage: memoryStorage() });
    let [ta, tb] = pairTransports();
    let la = writer.connect(ta, { antiEntropyInterval: 0 });
    let lb = peer.connect(tb, { antiEntropyInterval: 0 });
    try {
      await (await writer.space('s').put('first', 1)).synced;
      await peer.space('s').put('p', 1);
      await until(async () => (await writer.space('s').get('p')) !== undefined, 'the writer got the peer\'s write');
      la.close();
      lb.close();
      const first = await writer.space('s').put('k', 'old');
      await writer.space('s').put('o', 'other');
      storage.autoFlush = false;
      const second = writer.space('s').put('k', 'new'); // applied at once, durable on flush()
      await until(() => storage.unflushed > 0, 'the second write of k applied');
      [ta, tb] = pairTransports();
      la = writer.connect(ta, { antiEntropyInterval: 0 });
      lb = peer.connect(tb, { antiEntropyInterval: 0 });
      await until(async () => (await peer.space('s').get('o')) !== undefined, 'the peer got the durable log');
      await new Promise((r) => setTimeout(r, 100));
      expect(await peer.space('s').get('k'), 'the peer holds no state of k').toBeUndefined();
      const status = first.durability; // an app polling the status
      let settled = false;
      void first.synced.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      void status;
      expect(settled, 'the first write of k reported synced while the peer held no state of k').toBe(false);
      storage.autoFlush = true;
      storage.flush();
      await second;
      await until(() => settled, 'synced once the peer holds k');
    } finally {
      la.close();
      lb.close();
      await Promise.all([writer.close(), peer.close()]);
    }
  });
  it.fails('w.durability says local while the peer holds no state of the key (KNOWN: it judges from the pending-writes map)', async () => {
    const storage = volatileStorage();
    const writer = await openReplica({ storage });
    const peer = await openReplica({ storage: memoryStorage() });
    let [ta, tb] = pairTransports();
    let la = writer.connect(ta, { antiEntropyInterval: 0 });
    let lb = peer.connect(tb, { antiEntropyInterval: 0 });
    try {
      await (await writer.space('s').put('first', 1)).synced;
      await peer.space('s').put('p', 1);
      await until(async () => (await writer.space('s').get('p')) !== undefined, 'the writer got the peer\'s write');
      la.close();
      lb.close();
      const first = await writer.space('s').put('k', 'old');
      await writer.space('s').put('o', 'other');
      storage.autoFlush = false;
      const second = writer.space('s').put('k', 'new'); // applied at once, durable on flush()
      await until(() => storage.unflushed > 0, 'the second write of k applied');
      [ta, tb] = pairTransports();
      la = writer.connect(ta, { antiEntropyInterval: 0 });
      lb = peer.connect(tb, { antiEntropyInterval: 0 });
      await until(async () => (await peer.space('s').get('o')) !== undefined, 'the peer got the durable log');
      await new Promise((r) => setTimeout(r, 100));
      expect(await peer.space('s').get('k'), 'the peer holds no state of k').toBeUndefined();
      const status = first.durability; // an app polling the status
      let settled = false;
      void first.synced.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(status, 'the first write of k reported synced while the peer held no state of k').toBe('local');
      storage.autoFlush = true;
      storage.flush();
      await second;
      await until(() => settled, 'synced once the peer holds k');
    } finally {
      la.close();
      lb.close();
      await Promise.all([writer.close(), peer.close()]);
    }
  });
});
