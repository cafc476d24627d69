/**
 * Review rev46c of s7c: the real relay over 127.0.0.1 handles a client's LIVE frames at once, inside the socket's
 * 'message' handler. A raw client sends, back to back (one burst the relay reads in one go): two log frames of its
 * own writes, a second hello, and a third log frame. The first two are stored, the hello is refused (the session
 * closes with 4400), the third is not stored — nothing behind a refused frame is joined — and the relay goes on
 * serving another client.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { CloseCode, memoryStorage, openReplica } from '../../lib/index.js';
import { MsgType, type Entry } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from '../security/raw-session.js';
import { SECRET, synced, tracker, until } from '../security/support.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { webSocketTransport } from '../../adapters/ws/index.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

describe('a second hello among log frames handled at once', () => {
  it('the frames before it are stored, it closes the session, the frame after it is not stored, the relay serves on', async () => {
    const relay = await t.relay({ secret: SECRET });
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600 });
    const r = t.add(rawSession(relay.url, { token, versions: RAW_VERSIONS, spaces: [syncItem('s')] }));
    await r.ready;
    await until(() => r.messages().some((m) => m.type === MsgType.Sync), "the relay's sync item");
    const entry = (n: number): Entry => [`k${n}`, { vs: [{ r: r.replicaId, n, t: Date.now(), c: 0, v: JSON.stringify(n) }], cc: { [r.replicaId]: n } }];
    r.send({ type: MsgType.Changes, space: 's', upTo: 1, entries: [entry(1)] });
    r.send({ type: MsgType.Changes, space: 's', upTo: 2, entries: [entry(2)] });
    r.send({ type: MsgType.Hello, versions: [...RAW_VERSIONS], replicaId: r.replicaId, epoch: r.epoch, top: 3, token, expect: '', history: [[r.epoch, 0]], spaces: [] });
    r.send({ type: MsgType.Changes, space: 's', upTo: 3, entries: [entry(3)] });
    const closed = await r.closed;
    expect(closed.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect((await relay.replica.space('s').get('k1'))?.value).toBe(1);
    expect((await relay.replica.space('s').get('k2'))?.value).toBe(2);
    expect(await relay.replica.space('s').get('k3')).toBeUndefined();
    const c = t.add(await openReplica({ storage: memoryStorage() }));
    c.space('s');
    c.connect(webSocketTransport(relay.url, { token }));
    await synced(c);
    await until(async () => (await c.space('s').get('k2')) !== undefined, 'another client reads what was stored');
    expect(await c.space('s').get('k3')).toBeUndefined();
  });
});
