import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { client, closeAll, dump, startRelay, synced, until } from './support.js';

const open: Array<Relay | Replica> = [];
afterAll(() => closeAll(...open));

describe('catch-up through a relay', () => {
  it('a client offline for thousands of writes elsewhere catches up', async () => {
    const relay = await startRelay();
    open.push(relay);
    const a = await client(relay);
    const b = await openReplica({ storage: memoryStorage() });
    open.push(a, b);
    b.space('s');
    const lb = b.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await b.space('s').put('b-before', 1);
    await synced(a, b);
    lb.close();
    await b.space('s').put('b-offline', 2);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 3000; i++) writes.push(a.space('s').put(`k${i % 2500}`, { title: `item ${i}`, n: i }));
    await Promise.all(writes);
    await synced(a);
    b.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await synced(a, b);
    await until(async () => (await b.space('s').get('k2499')) !== undefined && (await a.space('s').get('b-offline')) !== undefined, 'both directions', 20_000);
    const da = await dump(a, 's');
    expect(Object.keys(da)).toHaveLength(2502);
    expect(await dump(b, 's')).toEqual(da);
    expect((await b.space('s').get('k0'))?.value).toEqual({ title: 'item 2500', n: 2500 });
  });

  it('clients whose cursors name a wiped relay repair by anti-entropy and lose nothing', async () => {
    let relay = await startRelay();
    open.push(relay);
    const port = relay.port;
    const a = await client(relay);
    // b's transport can be held shut, so that it comes back after a (its link, and its stale cursor, stay).
    let gate: Promise<void> = Promise.resolve();
    let openGate = () => {};
    const inner = webSocketTransport(`ws://127.0.0.1:${port}`);
    const b = await openReplica({ storage: memoryStorage() });
    b.space('s');
    b.connect({ ...inner, open: async (h) => (await gate, inner.open(h)) }, { backoff: { base: 20, max: 200 } });
    open.push(a, b);
    for (let i = 0; i < 200; i++) await a.space('s').put(`a${i}`, i);
    for (let i = 0; i < 200; i++) await b.space('s').put(`b${i}`, i);
    await synced(a, b);
    await until(async () => Object.keys(await dump(b, 's')).length === 400, 'b has all');
    // The relay loses its data (a new replica, a new log epoch) and comes back on the same address.
    gate = new Promise((r) => (openGate = r));
    await relay.close();
    for (let i = 0; i < 50; i++) await a.space('s').put(`a-down${i}`, i);
    for (let i = 0; i < 50; i++) await b.space('s').put(`b-down${i}`, i);
    await b.space('s').put('a0', 'b overwrote it while the relay was down');
    relay = await startRelay({ port });
    open.push(relay);
    await synced(a);
    await until(async () => Object.keys(await dump(relay.replica, 's')).length === 450, 'a streamed everything it has to the empty relay');
    openGate();
    await synced(a, b);
    // Equal states, not only equal key counts: b's overwrite of a0 adds no key, and may still be on its way.
    const same = async () => {
      const [x, y, z] = await Promise.all([dump(a, 's'), dump(b, 's'), dump(relay.replica, 's')]);
      return Object.keys(x).length === 500 && JSON.stringify(x) === JSON.stringify(y) && JSON.stringify(x) === JSON.stringify(z);
    };
    await until(same, 'the same 500 keys everywhere', 20_000);
    const da = await dump(a, 's');
    expect(await dump(b, 's')).toEqual(da);
    expect(await dump(relay.replica, 's')).toEqual(da);
    expect((await a.space('s').get('a0'))?.value).toBe('b overwrote it while the relay was down');
    // b came back holding data the new relay also held, with a cursor of the old relay's epoch: anti-entropy.
    expect(await relay.metrics()).toMatch(/type="anti_entropy"\} [1-9]/);
  });
});
