import { describe, expect, it } from 'vitest';
import { broadcastChannelTransport } from '../../adapters/broadcast-channel/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { synced, until } from './support.js';

describe('BroadcastChannel transport', () => {
  it('syncs two replicas over a channel shared with others, and again after a disconnect', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    const bystander = new BroadcastChannel('concord-test');
    let noise = 0;
    bystander.onmessage = () => noise++;
    await a.space('s').put('x', 'from a');
    await b.space('s').put('y', 'from b');
    const la = a.connect(broadcastChannelTransport('concord-test', 'dev-a', 'dev-b'), { backoff: { base: 5, max: 20 } });
    b.connect(broadcastChannelTransport('concord-test', 'dev-b', 'dev-a'), { backoff: { base: 5, max: 20 } });
    await synced(a, b);
    expect((await b.space('s').get('x'))?.value).toBe('from a');
    expect((await a.space('s').get('y'))?.value).toBe('from b');
    expect(noise).toBeGreaterThan(0);
    la.close();
    await a.space('s').put('x', 'offline edit');
    a.connect(broadcastChannelTransport('concord-test', 'dev-a', 'dev-b'), { backoff: { base: 5, max: 20 } });
    await until(async () => (await b.space('s').get('x'))?.value === 'offline edit', 'edit after reconnect');
    bystander.close();
    await a.close();
    await b.close();
  });
});
