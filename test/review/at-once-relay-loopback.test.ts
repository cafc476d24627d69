/**
 * Review rev46c of s7c: the real relay over 127.0.0.1, whose sessions join its clients' LIVE frames at once (memory
 * storage) — inside the socket's 'message' handler. The relay's own change listener runs there too: here it writes (a
 * local write of the relay from inside a client's frame, fanned out to every client, the sender included) and throws
 * on some keys. Three clients write in bursts at the same time. Nothing may reach the socket's handler: no connection
 * closes, every write counts synced, everyone ends with the same data.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica, type Transport } from '../../lib/index.js';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { closeAll, dump, SECRET, startRelay, synced, until } from '../relay/support.js';

const open: Array<Replica | Relay> = [];
afterAll(() => closeAll(...open));

/** `inner`, counting its connections opened and closed. */
function counted(inner: Transport) {
  const c = { opened: 0, closed: [] as number[] };
  const transport: Transport = {
    ...inner,
    open: (h) => {
      c.opened++;
      return inner.open({ ...h, onClose: (code, reason) => (c.closed.push(code), h.onClose(code, reason)) });
    },
  };
  return { c, transport };
}

describe('a relay whose listener writes and throws inside its clients frames, over loopback', () => {
  it('no connection closes, every write counts synced, all hold the same', async () => {
    const relay = await startRelay({ secret: SECRET });
    open.push(relay);
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600 });
    const relayErrors: unknown[] = [];
    relay.replica.on('error', (e) => relayErrors.push(e));
    let thrown = 0;
    relay.replica.space('s').subscribe('k/*', (e) => {
      if (e.origin !== 'remote') return;
      void relay.replica.space('s').put(`seen/${e.key}`, e.key);
      if (e.key.endsWith('/3')) {
        thrown++;
        throw new Error(`relay listener broke on ${e.key}`);
      }
    });
    const clients: Replica[] = [];
    const counts: Array<ReturnType<typeof counted>['c']> = [];
    for (let i = 0; i < 3; i++) {
      const r = await openReplica({ storage: memoryStorage() });
      open.push(r);
      r.space('s');
      const { c, transport } = counted(webSocketTransport(relay.url, { token }));
      r.connect(transport);
      clients.push(r);
      counts.push(c);
    }
    await synced(...clients);
    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      const burst: Promise<unknown>[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) burst.push(clients[i]!.space('s').put(`k/${i}/${round}/${j % 4}`, { i, round, j }).then((w) => w.synced));
      writes.push(...burst);
      await Promise.all(burst.map((p) => p.catch(() => {})));
    }
    await Promise.all(writes);
    const keys = 3 * 5 * 4;
    for (const r of clients) await until(async () => Object.keys(await dump(r, 's')).length === keys * 2, "the relay's writes reached each client", 15_000);
    await synced(...clients);
    const want = await dump(relay.replica, 's');
    expect(Object.keys(want).length).toBe(keys * 2);
    for (const r of clients) expect(await dump(r, 's')).toEqual(want);
    expect(counts.map((c) => [c.opened, c.closed])).toEqual([[1, []], [1, []], [1, []]]);
    expect(thrown).toBeGreaterThan(0);
    expect(relayErrors.length).toBe(thrown);
    expect(relayErrors.every((e) => /relay listener broke/.test((e as Error).message))).toBe(true);
  }, 60_000);
});
