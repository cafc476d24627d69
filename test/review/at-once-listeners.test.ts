/**
 * Review rev46c of s7c (inbox.ts: a LIVE frame joined at once, in the call that hands it over). What runs inside that
 * call now: the client's change listeners. Attacked: a listener that throws (before, the frame's promise was caught by
 * `fail`; now the throw is on the transport's stack), a listener that drops the connection, a listener that writes and
 * whose write must reach the relay with the cursor right for the next session, a decode error followed in the same call
 * by a good frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type ChangeEvent, type Connection, type ConnectionHandlers, type Replica, type Transport } from '../../lib/index.js';
import { memoryRelay } from '../support/tab-group.js';
import { synced, until } from '../sync/support.js';

type Frame = Parameters<ConnectionHandlers['onMessage']>[0];

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

/** A transport whose frames to the client are held while `hold` is on and handed over by the test; its connection can be dropped. */
function held(inner: Transport) {
  const frames: Frame[] = [];
  let deliver: (f: Frame) => void = () => {};
  let conn: Connection | undefined;
  let opens = 0;
  const gate = {
    hold: false,
    frames,
    /** Hands every held frame over, in one call. */
    flush: () => {
      for (const f of frames.splice(0)) deliver(f);
    },
    deliver: (f: Frame) => deliver(f),
    drop: () => conn?.close(1001, 'dropped by the test'),
    get opens() {
      return opens;
    },
  };
  const transport: Transport = {
    ...inner,
    async open(handlers) {
      opens++;
      deliver = (f) => handlers.onMessage(f);
      conn = await inner.open({ ...handlers, onMessage: (f) => (gate.hold ? void frames.push(f) : handlers.onMessage(f)) });
      return conn;
    },
  };
  return { gate, transport };
}

async function setup() {
  const relay = await openReplica({ storage: memoryStorage() });
  const writer = await openReplica({ storage: memoryStorage() });
  const client = await openReplica({ storage: memoryStorage() });
  open.push(relay, writer, client);
  const mem = memoryRelay(relay);
  const { gate, transport } = held(mem.transport());
  const events: ChangeEvent[] = [];
  client.space('s').subscribe('*', (e) => events.push(e));
  writer.space('s');
  writer.connect(mem.transport());
  const link = client.connect(transport);
  await synced(writer, client);
  await (await writer.space('s').put('first', 0)).synced;
  await until(async () => (await client.space('s').get('first')) !== undefined, 'the client has the first write');
  events.length = 0;
  return { relay, writer, client, gate, events, mem, link };
}

/** The writer writes each key; the relay's frames to the client are held until all went. */
async function heldWrites(s: Awaited<ReturnType<typeof setup>>, keys: string[]): Promise<void> {
  s.gate.hold = true;
  for (const k of keys) await s.writer.space('s').put(k, { k });
  await until(async () => (await s.relay.space('s').get(keys.at(-1)!)) !== undefined, 'the relay has the writes');
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  s.gate.hold = false;
}

const remoteKeys = (events: readonly ChangeEvent[]) => events.filter((e) => e.origin === 'remote').map((e) => e.key);

describe('listeners inside a frame handled at once', () => {
  it('a listener that throws: the throw reaches neither the transport nor the link (an error event), the frames behind are joined, the link stays', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    s.client.space('s').subscribe('a', () => {
      throw new Error('listener broke');
    });
    const opened = s.gate.opens;
    expect(() => s.gate.flush()).not.toThrow();
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener broke']);
    await synced(s.writer, s.client);
    expect(s.gate.opens).toBe(opened);
    expect(s.client.status).toBe('synced');
  });

  it('an error listener that throws too: swallowed, the link stays', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b']);
    s.client.on('error', () => {
      throw new Error('error listener broke');
    });
    s.client.space('s').subscribe('a', () => {
      throw new Error('listener broke');
    });
    const opened = s.gate.opens;
    expect(() => s.gate.flush()).not.toThrow();
    expect(remoteKeys(s.events)).toEqual(['a', 'b']);
    await synced(s.writer, s.client);
    expect(s.gate.opens).toBe(opened);
  });

  it('a listener that drops the connection (its close told later, as ws does): the frames handed over in the same call are joined once, in order, nothing fails', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const off = s.client.space('s').subscribe('a', () => s.gate.drop());
    s.gate.flush();
    off();
    await until(() => s.gate.opens === 2, 'reconnected');
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors).toEqual([]);
  });

  it('a listener that closes the link and connects again: the closed session joins nothing more, the new one brings the rest, every write once', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const again = held(s.mem.transport());
    const off = s.client.space('s').subscribe('a', () => {
      s.link.close();
      s.client.connect(again.transport);
    });
    s.gate.flush();
    off();
    expect(remoteKeys(s.events)).toEqual(['a']);
    await until(async () => (await s.client.space('s').get('c')) !== undefined, 'the new session brought b and c', 10_000);
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors).toEqual([]);
  });

  it('a listener that writes during the join: its write reaches the writer, and the next session resumes from the stored cursor (no anti-entropy)', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const runs: unknown[] = [];
    s.client.on('antiEntropy', (r) => runs.push(r));
    const off = s.client.space('s').subscribe('*', (e) => {
      if (e.origin === 'remote') void s.client.space('s').put(`echo/${e.key}`, e.key);
    });
    s.gate.flush();
    off();
    await until(async () => (await s.writer.space('s').get('echo/c')) !== undefined, 'the echoes reached the writer');
    await synced(s.writer, s.client);
    const stored = await s.client.space('s').get('echo/a');
    expect(stored?.value).toBe('a');
    // Drop and meet again: the cursors stored with the joins hold, both ways.
    s.gate.drop();
    await until(() => s.gate.opens === 2, 'reconnected');
    await synced(s.writer, s.client);
    await (await s.writer.space('s').put('after', 1)).synced;
    await until(async () => (await s.client.space('s').get('after')) !== undefined, 'the write after the reconnect');
    expect(runs).toEqual([]);
    for (const k of ['a', 'b', 'c']) expect((await s.relay.space('s').get(`echo/${k}`))?.value).toBe(k);
  });

  it('a frame that does not decode, then a good one in the same call: the session fails on the first, the second is not joined, the next session brings it', async () => {
    const s = await setup();
    await heldWrites(s, ['a']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const good = s.gate.frames.splice(0);
    expect(good.length).toBeGreaterThan(0);
    const opened = s.gate.opens;
    expect(() => {
      s.gate.deliver(new Uint8Array([0xff, 0xff, 0xff]));
      for (const f of good) s.gate.deliver(f);
    }).not.toThrow();
    expect(remoteKeys(s.events)).toEqual([]);
    await until(() => s.gate.opens > opened, 'the link opened again', 10_000);
    await until(async () => (await s.client.space('s').get('a')) !== undefined, 'the next session brought a', 10_000);
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a']);
  });
});
