/**
 * Review rev46b: one principal with two tokens — one granting write, one granting read only — and one replicaId. The
 * principal rule (principals.ts) lets every session of the principal say hello as the id, so a read-only session may
 * pose as the principal's writable replica: same id, same epoch (both are in every hello the writer sends). The rule
 * under attack (../shared/DESIGN.md security): a relay never stores anything from a read-only client, and what it
 * counts for the writer rests on what the writer delivered. Over loopback, against the real relay; the relay's
 * storage journals every transaction (test/support/tx-journal.ts), so "stores nothing" is checked write by write.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { MsgType, type Message } from '../../lib/sync/messages.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { rawSession, syncItem, type RawSession } from '../security/raw-session.js';
import { SECRET, sleep, tracker, until } from '../security/support.js';
import { recordingTx, type Write } from '../support/tx-journal.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const readToken = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'p' });
const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'p' });

/** A memory storage whose transactions' writes are all kept in `writes`, in order. */
function journaled(writes: Write[]): StorageAdapter {
  const inner = memoryStorage();
  return {
    open: () => inner.open(),
    transact: (fn) => inner.transact((tx) => fn(recordingTx(tx, writes))),
    get: (space, key) => inner.get(space, key),
    getMeta: (name) => inner.getMeta(name),
    scan: (space, o) => inner.scan(space, o),
    readLog: (space, after, limit) => inner.readLog(space, after, limit),
    index: (space) => inner.index(space),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
  };
}

/** The frames `r` received after the first `from`, decoded (hello excluded). */
function since(r: RawSession, from: number): Message[] {
  return r.messages().slice(from);
}

/** A read-only session posing as `w` (its id, epoch and top), synced in space s; resolves once the relay answered its sync. */
async function posing(url: string, w: Replica, top: number): Promise<RawSession> {
  const r = t.add(rawSession(url, { token: readToken, replicaId: w.replicaId, epoch: w.core.epoch, top, spaces: [syncItem('s', { top })] }));
  await r.ready;
  await until(() => r.messages().some((m) => m.type === MsgType.Sync), "the relay's sync");
  return r;
}

describe('a read-only session posing as the writable replica of its principal', () => {
  it("an empty log frame from it moves no cursor of the writer's log and is not acknowledged: the writer's writes count synced only once the relay holds them", async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaled(writes) });
    const w = t.add(await openReplica({ storage: memoryStorage() }));
    const puts = [];
    for (let i = 0; i < 3; i++) puts.push(await w.space('s').put('k' + i, 'v' + i));
    // The id is the principal's (a write session of it claimed it first), as a real writer's would be.
    const claim = t.add(rawSession(relay.url, { token: writeToken, replicaId: w.replicaId, spaces: [syncItem('s')] }));
    await claim.ready;
    claim.close();
    await claim.closed;

    const r = await posing(relay.url, w, 3);
    const before = writes.length;
    const seen = r.messages().length;
    r.send({ type: MsgType.Changes, space: 's', upTo: 3, entries: [] });
    await until(() => since(r, seen).length > 0 || r.isClosed, 'the relay answered the frame');
    await sleep(100);
    const answered = since(r, seen).map((m) => m.type);
    const stored = writes.slice(before);
    r.close();
    await r.closed;

    w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    // Once counted synced, the relay holds them (it never settles otherwise: the test's timeout).
    await Promise.all(puts.map((p) => p.synced));
    const held = await Promise.all([0, 1, 2].map(async (i) => (await relay.replica.space('s').get('k' + i))?.value));
    expect({ acked: answered.includes(MsgType.Ack), stored, held }).toEqual({ acked: false, stored: [], held: ['v0', 'v1', 'v2'] });
  });
});

describe('a read-only session taking the writable replica id of its principal, under an epoch of its own', () => {
  it("stores nothing: the writer's cursor stays, and its next link streams from it", async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaled(writes) });
    const w = t.add(await openReplica({ storage: memoryStorage() }));
    for (let i = 0; i < 3; i++) await w.space('s').put('k' + i, 'v' + i);
    const link = w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await relay.replica.space('s').get('k2'))?.value === 'v2', 'the writer synced');
    await w.whenSynced();
    const cursor = await relay.replica.core.storage.getMeta('c:' + w.replicaId + ':s');
    link.close();
    const before = writes.length;
    // Another epoch and no keys: the relay's cursor does not fit its history, and an empty side makes a fresh cursor.
    const r = t.add(rawSession(relay.url, { token: readToken, replicaId: w.replicaId, spaces: [syncItem('s')] }));
    await until(() => r.messages().some((m) => m.type === MsgType.Sync), "the relay's sync");
    await sleep(150);
    r.close();
    await r.closed;
    const stored = writes.slice(before);
    const after = await relay.replica.core.storage.getMeta('c:' + w.replicaId + ':s');
    // The writer comes back with a write: streamed from the cursor, no anti-entropy run (a lost cursor makes one).
    let runs = 0;
    w.on('antiEntropy', () => runs++);
    await w.space('s').put('k3', 'v3');
    w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await relay.replica.space('s').get('k3'))?.value === 'v3', 'the writer synced again');
    await w.whenSynced();
    expect({ stored, cursor: after, runs }).toEqual({ stored: [], cursor, runs: 0 });
  });
});
