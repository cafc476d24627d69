/**
 * Review rev46d: a read-only session of the principal under its writable replica's id and epoch, connected while the
 * writer's own session is live, sends every frame a client may send in the space — TOP past the writer's log, an
 * anti-entropy turn, NEED, presence, ACKs of repair frames, a refused repair state and an empty log frame — and then
 * goes. The relay stores nothing meanwhile (every transaction journaled: test/support/tx-journal.ts), the writer's
 * cursor stays, its live session is neither evicted nor shadowed, and its next writes count synced once the relay holds
 * them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from '../security/raw-session.js';
import { SECRET, sleep, tracker, until } from '../security/support.js';
import { journaledMemory, type Write } from '../support/tx-journal.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const readToken = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'p' });
const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'p' });

describe("a read-only session beside the writer's live one, under its id and epoch", () => {
  it("stores nothing, moves no cursor, and the writer's link goes on: its writes count synced once held", async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
    const w = t.add(await openReplica({ storage: memoryStorage() }));
    for (let i = 0; i < 5; i++) await w.space('s').put('k' + i, 'v' + i);
    const link = w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await w.whenSynced();
    await until(() => link.status === 'synced', 'the writer synced');
    const cursorKey = 'c:' + w.replicaId + ':s';
    const cursor = await relay.replica.core.storage.getMeta(cursorKey);
    const top = (await w.core.storage.readLog('s', 0, 1000)).reduce((m, [, rec]) => Math.max(m, rec.seq), 0);
    const before = writes.length;
    const r = t.add(rawSession(relay.url, { token: readToken, replicaId: w.replicaId, epoch: w.core.epoch, top, spaces: [syncItem('s', { top })] }));
    // (Its item holds no keys: the meeting streams, and the anti-entropy turn below is the session's own.)
    await r.ready;
    await until(() => r.messages().some((m) => m.type === MsgType.Sync), "the relay's sync");
    const claim = { vs: [{ r: w.replicaId, n: 1, t: 1, c: 0, v: '"forged"' }], cc: { [w.replicaId]: 1 } };
    r.send({ type: MsgType.Top, space: 's', top: top + 1000 });
    r.send({ type: MsgType.Need, space: 's', keys: [['k0', '']] });
    r.send({ type: MsgType.Presence, space: 's', json: JSON.stringify({ d: { [w.replicaId]: 1 }, r: 1 }) });
    r.send({ type: MsgType.AntiEntropy, space: 's', run: 7, top: top + 1000, items: [], want: [], final: true });
    r.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k0', claim]] });
    r.send({ type: MsgType.Ack, space: 's', upTo: 0 });
    r.send({ type: MsgType.Changes, space: 's', upTo: top + 1, entries: [] });
    await until(() => r.messages().some((m) => m.type === MsgType.Denied) || r.isClosed, 'the frames handled');
    await sleep(150);
    // Each frame was handled, the session open: both log frames refused, the repair ACK 0 and the NEED answered.
    const answered = r.messages().map((m) => m.type);
    expect({ open: !r.isClosed, denied: answered.filter((x) => x === MsgType.Denied).length, need: answered.includes(MsgType.Changes) }).toEqual({ open: true, denied: 2, need: true });
    r.close();
    await r.closed;
    const during = writes.slice(before);
    // The writer, still on its link, writes again.
    const put = await w.space('s').put('k5', 'v5');
    await put.synced;
    expect(link.status).not.toBe('offline');
    expect({
      during,
      held: (await relay.replica.space('s').get('k5'))?.value,
      k0: (await relay.replica.space('s').get('k0'))?.value,
    }).toEqual({ during: [], held: 'v5', k0: 'v0' });
    await w.whenSynced();
    const after = (await relay.replica.core.storage.getMeta<{ e: string; s: number }>(cursorKey))!;
    expect(after.e).toBe((cursor as { e: string }).e);
    expect(after.s).toBeGreaterThan((cursor as { s: number }).s);
  });
});
