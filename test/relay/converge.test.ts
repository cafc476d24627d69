import { afterAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { client, closeAll, dump, SECRET, startRelay, synced, until } from './support.js';
import { createToken } from '../../adapters/relay/index.js';

const open: Array<Replica | Relay> = [];
afterAll(() => closeAll(...open));

describe('two clients through a relay', () => {
  it('offline edits of the same keys converge with the expected siblings', async () => {
    const relay = await startRelay({ secret: SECRET });
    open.push(relay);
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 60 });
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    open.push(a, b);
    await a.space('s').put('note', 'from a');
    await b.space('s').put('note', 'from b');
    await a.space('s').put('only-a', 1);
    await b.space('s').put('only-b', 2);
    a.connect(webSocketTransport(relay.url, { token }));
    b.connect(webSocketTransport(relay.url, { token: async () => token }));
    await synced(a, b);
    await until(async () => (await b.space('s').get('only-a')) !== undefined && (await a.space('s').get('only-b')) !== undefined, 'both keys everywhere');
    const ra = await a.space('s').get('note');
    const rb = await b.space('s').get('note');
    expect(ra?.conflict).toBe(true);
    expect([...ra!.siblings].sort()).toEqual(['from a', 'from b']);
    expect(rb?.siblings).toEqual(ra?.siblings);
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    expect(await dump(relay.replica, 's')).toEqual(await dump(a, 's'));
    // Resolving with the read's context supersedes both siblings everywhere.
    await a.space('s').put('note', 'resolved', { context: ra!.context });
    await until(async () => (await b.space('s').get('note'))?.conflict === false, 'resolution reaches b');
    expect((await b.space('s').get('note'))?.value).toBe('resolved');
  });

  it('w.synced resolves only once the relay stored the write', async () => {
    const relay = await startRelay();
    open.push(relay);
    const a = await client(relay);
    open.push(a);
    await synced(a);
    for (let i = 0; i < 20; i++) {
      const w = await a.space('s').put(`k${i}`, { n: i });
      await w.synced;
      // No waiting here: the relay already holds it.
      expect((await relay.replica.space('s').get(`k${i}`))?.value).toEqual({ n: i });
    }
  });
});
