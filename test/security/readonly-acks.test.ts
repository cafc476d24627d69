/**
 * A relay's acknowledgements are kept by replica id (lib/acks.ts), and one principal's read-only session may say hello
 * under its writable replica's id (principals.ts). Its ACKs — of log frames it was sent, or the cursor its hello resumes
 * from — counted as that replica's: the relay's own write counted `synced` while no replica stored it (the writer was
 * away; the read-only session claimed the relay's top, or acknowledged frames it never stored), and the frames counted
 * as the writer's toward its withheld keys and its `heldBy`. A read-only session stores nothing the relay can count on:
 * its ACKs move its own stream only (its window), and nothing of it is noted as held by its id (withheld-passed.ts
 * streamAcked). The writer's own session, back, makes the write synced as before.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { SECRET, sleep, tracker, until } from './support.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const readToken = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'p' });
const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'p' });

/** A relay, a writer that synced and went away, and a write of the relay's own that nobody holds yet. */
async function relayWriteWhileAway() {
  const relay = await t.relay({ secret: SECRET });
  const w = t.add(await openReplica({ storage: memoryStorage() }));
  await w.space('s').put('mine', 1);
  const link = w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
  await w.whenSynced();
  link.close();
  await until(() => relay.connections === 0, "the writer's session gone");
  const put = await relay.replica.space('s').put('k', 'the relay writes');
  const state = { synced: false };
  void put.synced.then(() => (state.synced = true));
  await sleep(100);
  expect(state.synced).toBe(false);
  const top = (await w.core.storage.readLog('s', 0, 1000)).reduce((m, [, rec]) => Math.max(m, rec.seq), 0);
  /** A read-only session under the writer's id and epoch (`versions`: its hello's). */
  const reader = async (versions?: readonly number[]) => {
    const r = t.add(rawSession(relay.url, { token: readToken, replicaId: w.replicaId, epoch: w.core.epoch, top, ...(versions ? { versions } : {}) }));
    return { r, hello: await r.ready };
  };
  /** The writer back: its own session stores the write and acknowledges it. */
  const writerBack = async () => {
    w.connect(webSocketTransport(relay.url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await w.space('s').get('k'))?.value === 'the relay writes', 'the writer holds the write');
    await until(() => state.synced, "the relay's write synced by the writer's session", 10_000);
  };
  /** After what reader `r` did (`what`): the write is not synced, `r` still open; then the writer comes back. */
  const stillUnsynced = async (r: RawSession, what: string) => {
    await sleep(500);
    expect({ open: !r.isClosed, synced: state.synced }, `the relay's write after ${what}`).toEqual({ open: true, synced: false });
    r.close();
    await writerBack();
  };
  return { relay, top, reader, writerBack, stillUnsynced };
}

describe("a read-only session under the writer's id acknowledges the relay's log", () => {
  it("resuming from the relay's top (its hello's cursor) makes no write of the relay's count synced", async () => {
    const { top, reader, stillUnsynced } = await relayWriteWhileAway();
    const { r, hello } = await reader();
    r.send({ type: MsgType.Sync, spaces: [syncItem('s', { cursorEpoch: hello.epoch, cursorSeq: hello.top, top })] });
    await until(() => r.messages().some((m) => m.type === MsgType.Sync), "the relay's sync");
    await stillUnsynced(r, "the reader's cursor");
  }, 30_000);

  it('acknowledging the log frames it was sent, stored or not, makes no write of the relay\'s count synced', async () => {
    const { top, reader, stillUnsynced } = await relayWriteWhileAway();
    // Protocol 11: the relay's write (its state names the relay's epoch) goes to it.
    const { r, hello } = await reader([...PROTOCOL_VERSIONS]);
    r.send({ type: MsgType.Sync, spaces: [syncItem('s', { cursorEpoch: hello.epoch, cursorSeq: 0, top })] });
    // Its frames in 11's form, which this test does not decode: a log frame (CHANGES or LIVE) holding the value is the write sent.
    const carried = () => r.frames.slice(1).some((f) => (f[0] === MsgType.Changes || f[0] === MsgType.Live) && Buffer.from(f).includes('the relay writes'));
    await until(carried, "the relay's write sent to the reader");
    await sleep(200);
    r.send({ type: MsgType.Ack, space: 's', upTo: hello.top });
    await stillUnsynced(r, "the reader's ACKs");
  }, 30_000);

  it("a key its link leaves out (protocol 10) is not withheld from the writer's own session", async () => {
    const { relay, top, reader, writerBack } = await relayWriteWhileAway();
    // Below 11 the relay's write (its state names the relay's epoch) cannot go: the reader's link leaves it out.
    const { r, hello } = await reader();
    r.send({ type: MsgType.Sync, spaces: [syncItem('s', { cursorEpoch: hello.epoch, cursorSeq: 0, top })] });
    await until(() => r.messages().some((m) => m.type === MsgType.Changes && m.upTo > 0), "the reader's log frame");
    await sleep(200);
    r.close();
    await until(() => relay.connections === 0, "the reader's session gone");
    // The writer's own session (at 11, which carries it) counts it held as before: nothing the reader did holds it back.
    // (Held on the lib before too; a guard that a reader's left-out key, no longer noted for its id, costs the writer nothing.)
    await writerBack();
  }, 30_000);
});
