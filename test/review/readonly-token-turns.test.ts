/**
 * Review rev46d: one replica whose token turns write → read only → write between sessions (same id and storage). Writes
 * made offline before the read-only session are refused there (never counted synced, nothing stored), and the relay's
 * cursor of its log stays where the writable session left it: the next writable session streams them from it, with no
 * anti-entropy run, and they count synced once held.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { SECRET, sleep, tracker, until } from '../security/support.js';
import { journaledMemory, type Write } from '../support/tx-journal.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const token = (rights: 'read' | 'write') => createToken(SECRET, { spaces: { s: rights }, expiresIn: 600, sub: 'p' });

describe('a token turning write, read only, write again under one replica', () => {
  it('its offline writes wait through the read-only session and go from the cursor at the next writable one', async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
    const w = t.add(await openReplica({ storage: memoryStorage() }));
    let link = w.connect(webSocketTransport(relay.url, { token: token('write') }), { backoff: { base: 20, max: 200 } });
    for (let i = 0; i < 3; i++) await (await w.space('s').put('k' + i, i)).synced;
    link.close();
    const cursor = await relay.replica.core.storage.getMeta('c:' + w.replicaId + ':s');
    let synced = 0;
    const offline = await Promise.all([3, 4].map((i) => w.space('s').put('k' + i, i)));
    for (const p of offline) void p.synced.then(() => synced++);
    let runs = 0;
    relay.replica.on('antiEntropy', (run) => void (run.peer === w.replicaId && runs++));
    const before = writes.length;
    link = w.connect(webSocketTransport(relay.url, { token: token('read') }), { backoff: { base: 20, max: 200 } });
    w.on('error', () => {}); // FORBIDDEN, expected
    await until(() => link.status === 'synced' || link.status === 'syncing', 'the read-only session met the relay');
    await sleep(300);
    link.close();
    expect({ stored: writes.slice(before), synced, cursor: await relay.replica.core.storage.getMeta('c:' + w.replicaId + ':s') }).toEqual({ stored: [], synced: 0, cursor });
    link = w.connect(webSocketTransport(relay.url, { token: token('write') }), { backoff: { base: 20, max: 200 } });
    await Promise.all(offline.map((p) => p.synced));
    expect(await Promise.all([3, 4].map(async (i) => (await relay.replica.space('s').get('k' + i))?.value))).toEqual([3, 4]);
    expect(runs).toBe(0);
  });
});
