/**
 * Two replicas that both dial (peer to peer) send their hellos at once. A peer's hello arriving while ours is
 * still being made must not make us send a second one (which the peer refuses with 4400 "second hello").
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { synced } from './support.js';

describe('hellos crossing', () => {
  it('two fresh replicas, one with several spaces to describe, connect without a protocol error', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    for (const s of ['one', 'two', 'three']) await a.space(s).put('k', s);
    b.space('one');
    const errors: unknown[] = [];
    for (const r of [a, b]) r.on('error', (e) => errors.push(e));
    const closes: number[] = [];
    const [ta, tb] = pairTransports();
    const watch = (t: typeof ta) => ({
      ...t,
      open: (h: Parameters<typeof t.open>[0]) => t.open({ ...h, onClose: (code, reason) => (closes.push(code), h.onClose(code, reason)) }),
    });
    a.connect(watch(ta));
    b.connect(watch(tb));
    await synced(a, b);
    expect(closes).toEqual([]);
    expect(errors).toEqual([]);
    expect((await b.space('one').get('k'))?.value).toBe('one');
    await Promise.all([a.close(), b.close()]);
  });
});
