import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { client, closeAll, startRelay, synced, until } from './support.js';
import { helloFrame, item, rawPeer, type RawPeer } from './raw.js';

const N = 1000;
const open: Array<Relay | Replica> = [];
const peers: RawPeer[] = [];
afterAll(async () => {
  for (const p of peers) p.ws.terminate();
  await closeAll(...open);
});

describe('idle connections', () => {
  it(`one relay holds ${N} idle, authenticated connections with bounded memory`, async () => {
    const relay = await startRelay();
    open.push(relay);
    const before = process.memoryUsage();
    for (let batch = 0; batch < N; batch += 50) {
      const group = Array.from({ length: Math.min(50, N - batch) }, () => rawPeer(relay.url));
      peers.push(...group);
      await Promise.all(group.map((p) => p.opened));
      for (const p of group) p.ws.send(helloFrame('', [item('idle')]));
    }
    // Each got the relay's hello and its sync item: a live, idle session.
    await until(() => peers.every((p) => p.frames.length >= 2), 'every session answered', 20_000);
    expect(relay.connections).toBe(N);
    const held = process.memoryUsage();
    const grew = held.heapUsed + held.external - (before.heapUsed + before.external);
    // Both ends live in this process; still well under 100 KB per connection.
    expect(grew).toBeLessThan(N * 100 * 1024);

    // The relay still serves a working client, and its write reaches the idle sessions' space.
    const a = await client(relay, {}, ['idle']);
    open.push(a);
    await synced(a);
    await (await a.space('idle').put('ping', 1)).synced;
    await until(() => peers.every((p) => p.frames.length >= 3), 'the write fanned out to every idle session', 20_000);
    console.log(`idle: ${N} connections, heap+external +${Math.round(grew / 1e6)} MB (both ends)`);
  }, 30_000);
});
