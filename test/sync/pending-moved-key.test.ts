/**
 * `replica.pending` and the status while a key's newest record is not durable yet. The pending-writes map hears of a
 * record once it is durable, so a key written again (applied, not fsynced) still sat at its first write's seq there:
 * an acknowledgement past that seq cleared it, and the replica counted nothing pending and said 'synced' while the
 * peer held no state of the key (test/sync/moved-key.ts sets the case up; the same map answered `w.durability`).
 */
import { describe, expect, it } from 'vitest';
import { keyMovedToUndurable } from './moved-key.js';
import { until } from './support.js';

describe('replica.pending while a key moved to a record not durable yet', () => {
  it('counts the key until the peer acknowledged its newest record', async () => {
    const m = await keyMovedToUndurable();
    try {
      expect(await m.peer.space('s').get('k'), 'the peer holds no state of k').toBeUndefined();
      // k, and o: the log read holds o back behind k's durable entry until k's newer record is durable.
      expect(m.writer.pending, 'k counted pending while the peer holds nothing of it').toBe(2);
      expect(m.writer.status).not.toBe('synced');
      expect(m.first.durability, 'the first write of k said synced while the peer held no state of k').toBe('local');
      m.storage.autoFlush = true;
      m.storage.flush();
      await m.second;
      await until(async () => (await m.peer.space('s').get('k'))?.value === 'new', 'the peer got k');
      await until(() => m.writer.pending === 0 && m.first.durability === 'synced', 'nothing pending once the peer holds k');
    } finally {
      m.storage.autoFlush = true;
      m.storage.flush();
      await m.close();
    }
  });
});
