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
import { namesEpochs, stateOf } from '../../lib/dvv.js';
import { MAX_FRAME_RECORDS, MAX_REPLICA_RECORDS, type EpochRecord } from '../../lib/epoch-points.js';
import { EPOCH_META } from '../../lib/epoch-store.js';
import { randomId } from '../../lib/ids.js';
import { isConcordError, memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, type Message } from '../../lib/sync/messages.js';
import { rawSession, syncItem, type RawSession } from '../security/raw-session.js';
import { SECRET, sleep, tracker, until } from '../security/support.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { journaledMemory, type Write } from '../support/tx-journal.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const readToken = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'p' });
const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'p' });

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
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
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
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
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

describe("a read-only session under the writable replica's id teaching epoch records of that id", () => {
  // Found by rev46b: EPOCHS frames (and a hello's history at 11) are learned into the relay's registry
  // whatever the session's rights (epoch-chain.ts chainReceived, learnHello), and the writer's id has states at the relay,
  // so the records are stored (epoch-holds.ts holds only ids the relay stores nothing of). A read-only session of the
  // principal stores forged records for its writable replica — up to MAX_REPLICA_RECORDS (65 536), after which the
  // writer's next epoch is refused (its hello closes: "would have more than 65536 epoch records"), and a record learned
  // first wins over the writer's own. A session whose token writes in no space now teaches no records (epoch-chain.ts).
  it("stores none of them, and the writer reopened under a new epoch still syncs", async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
    const disk = memoryStorage();
    const first = await openReplica({ storage: disk });
    first.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await (await first.space('s').put('k', 1)).synced;
    await first.close(); // reopened, it tags: the relay stores its records
    const w = await openReplica({ storage: disk });
    const link = w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await (await w.space('s').put('k2', 2)).synced;
    link.close();
    await until(async () => ((await relay.replica.core.storage.getMeta<unknown[]>(EPOCH_META + w.replicaId)) ?? []).length > 0, "the writer's records stored");
    const before = writes.length;
    const known = relay.replica.core.epochs.recordsOf(w.replicaId);
    const r = t.add(rawSession(relay.url, { token: readToken, replicaId: w.replicaId, versions: [...RAW_VERSIONS, EPOCH_DOTS], spaces: [syncItem('s')] }));
    await r.ready;
    // Forged records under the writer's epoch, frame after frame, up to the id's bound.
    for (let left = MAX_REPLICA_RECORDS - known.length, i = 0; left > 0; i++) {
      const n = Math.min(left, MAX_FRAME_RECORDS);
      const records: EpochRecord[] = Array.from({ length: n }, (_, j) => ({ e: randomId(), parent: w.core.epoch, fork: 1 + i * MAX_FRAME_RECORDS + j }));
      r.send({ type: MsgType.Epochs, records });
      left -= n;
    }
    // A frame the relay answers (DENIED) after those: they were handled; then whatever was learned is stored.
    r.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['marker', { vs: [], cc: {} }]] });
    await until(() => r.messages().some((m) => m.type === MsgType.Denied) || r.isClosed, 'the frames handled');
    await relay.replica.core.saveEpochs();
    const stored = writes.slice(before).filter((x) => 'meta' in x && x.meta.startsWith(EPOCH_META)).length;
    expect({ stored, learned: relay.replica.core.epochs.recordsOf(w.replicaId).length }).toEqual({ stored: 0, learned: known.length });
    r.close();
    await r.closed;
    await w.close();
    // Reopened: a new epoch, whose record its hello teaches (on ff0403b refused past the bound: the writer never synced).
    const again = t.add(await openReplica({ storage: disk }));
    again.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await (await again.space('s').put('k3', 3)).synced;
    expect((await relay.replica.space('s').get('k3'))?.value).toBe(3);
  });
});

describe('a read-only client that tags, with offline writes of its own, teaching the relay none of its records', () => {
  // The other side of the change above: its frames name epochs the relay was not taught (judged as roots there). It met
  // protocol 11 at another relay (so it tags once reopened) and never this one: both hold keys and there is no cursor,
  // so the first meeting runs anti-entropy, whose claims name its own epochs. The link settles, it reads what the relay
  // holds, and it is told FORBIDDEN once.
  it('its first meeting runs anti-entropy over its tagged claims, settles, and it reads the relay', async () => {
    const relay = await t.relay({ secret: SECRET });
    const elsewhere = await t.relay({ secret: SECRET });
    const writer = t.add(await openReplica({ storage: memoryStorage() }));
    writer.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    for (let i = 0; i < 5; i++) await (await writer.space('s').put(`w/${i}`, i)).synced;
    const disk = memoryStorage();
    const first = await openReplica({ storage: disk });
    first.space('s');
    const link = first.connect(webSocketTransport(elsewhere.url, { token: readToken }), { backoff: { base: 20, max: 200 } });
    await until(() => link.status === 'synced', 'it met a relay at 11');
    link.close();
    await first.close(); // reopened, it tags
    const reader = t.add(await openReplica({ storage: disk }));
    for (let i = 0; i < 5; i++) await reader.space('s').put(`offline/${i}`, i); // tagged, never stored by the relay
    const own = await reader.core.storage.get('s', 'offline/0');
    expect(own && namesEpochs(stateOf(own)), 'the offline write names its epoch').toBe(true);
    const errors: unknown[] = [];
    reader.on('error', (e) => errors.push(e));
    let runs = 0;
    reader.on('antiEntropy', () => runs++);
    relay.replica.on('antiEntropy', (run) => void (run.peer === reader.replicaId && runs++));
    const again = reader.connect(webSocketTransport(relay.url, { token: readToken }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await reader.space('s').get('w/4'))?.value === 4, 'the reader read the relay', 20_000);
    await until(() => runs >= 1 && again.status === 'synced', 'a run, and the link synced', 20_000);
    expect({ forbidden: errors.filter((e) => isConcordError(e, 'FORBIDDEN')).length, other: errors.filter((e) => !isConcordError(e, 'FORBIDDEN')).map(String) }).toEqual({ forbidden: 1, other: [] });
    expect(await relay.replica.space('s').get('offline/0')).toBeUndefined();
    expect(relay.replica.core.epochs.knows(reader.replicaId, reader.core.epoch), 'its epoch, untaught').toBe(false);
  });
});
