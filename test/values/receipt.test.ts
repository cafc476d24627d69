// Validation on receipt (issue 11 #8): a malformed rich or byte value arriving from the wire closes that connection
// with a protocol error and stores nothing of its frame; a stored value never breaks get/scan for other readers.
import { describe, expect, it } from 'vitest';
import { CloseCode, memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { decodeMessage, MsgType } from '../../lib/sync/messages.js';
import { invalidEncoding } from '../../lib/values.js';
import { closeAll, startRelay, until } from '../relay/support.js';
import { item, rawPeer } from '../relay/raw.js';
import { connectRaw, HOSTILE_VALUES, rawSide, state } from './hostile.js';

describe('every hostile value is refused by the receipt check', () => {
  for (const [name, v] of HOSTILE_VALUES) {
    it(name, () => expect(invalidEncoding(v, 1 << 22)).toEqual(expect.any(String)));
  }
  it('values a put produces pass it', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    const s = r.space('s');
    for (const v of [1, 'x', { a: [1, null] }, new Date(5), new Map([[1, new Set([2n])]]), Uint8Array.of(0, 1, 255)]) {
      await s.put('k', v);
      const rec = await r.core.storage.get('s', 'k');
      expect(invalidEncoding(rec!.vs[0]!.v, 1 << 20)).toBeUndefined();
    }
    await r.close();
  });
});

/** A replica connected over pairTransports to a raw peer that sends one CHANGES frame holding `v`. */
async function sendOverPair(v: string | Uint8Array): Promise<{ replica: Replica; closed: { code: number; reason: string } }> {
  const replica = await openReplica({ storage: memoryStorage() });
  replica.space('s');
  await replica.space('s').put('honest', 'kept');
  const { conn, raw, peer, got, closed } = await connectRaw(replica);
  await until(() => got.some((f) => f[0] === MsgType.Sync || f[0] === MsgType.Live || (f[0] === MsgType.Changes && decodeMessage(f, { maxValueBytes: 1 << 20, table: [peer, raw.id] }).type === MsgType.Changes)), 'the replica syncing the space');
  conn.send(raw.changes('s', [['a', state('"fine"')], ['bad', state(v)]], peer));
  await until(() => closed() !== undefined, 'the connection closing');
  return { replica, closed: closed()! };
}

describe('over pairTransports', () => {
  for (const [name, v] of HOSTILE_VALUES) {
    it(`${name}: closes with a protocol error, stores nothing of the frame`, async () => {
      const { replica, closed } = await sendOverPair(v);
      expect(closed.code).toBe(CloseCode.PROTOCOL_ERROR);
      expect(closed.reason).toMatch(/malformed value/);
      const s = replica.space('s');
      expect(await s.get('bad')).toBeUndefined();
      expect(await s.get('a')).toBeUndefined();
      expect((await s.get('honest'))?.value).toBe('kept');
      await replica.close();
    });
  }
});

describe('on a real relay', () => {
  it('a client sending malformed rich values is closed; the relay stores nothing and serves other readers', async () => {
    const relay = await startRelay();
    const reader = await openReplica({ storage: memoryStorage() });
    try {
      for (const [, v] of HOSTILE_VALUES.slice(0, 6)) {
        const peer = rawPeer(relay.url);
        await peer.opened;
        const raw = rawSide(() => peer.frames);
        peer.ws.send(raw.hello([item('s')]));
        const relayId = await raw.peerId();
        peer.ws.send(raw.changes('s', [['bad', state(v)]], relayId));
        const closed = await Promise.race([peer.closed, new Promise<undefined>((r) => setTimeout(r, 5000))]);
        peer.ws.terminate();
        expect(closed?.code).toBe(CloseCode.PROTOCOL_ERROR);
      }
      // An honest client writes and reads through the same relay: nothing malformed reached it.
      const { webSocketTransport } = await import('../../adapters/ws/index.js');
      reader.space('s');
      reader.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
      await reader.space('s').put('ok', 1);
      await until(() => reader.status === 'synced', 'the honest client synced');
      const keys: string[] = [];
      for await (const e of reader.space('s').scan('')) keys.push(e.key);
      expect(keys).toEqual(['ok']);
    } finally {
      await closeAll(reader, relay);
    }
  });
});

describe('a stored value never breaks reads', () => {
  it('a malformed value in storage (written before validation) is left out and reported; get and scan go on', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const errors: unknown[] = [];
    r.on('error', (e) => errors.push(e));
    const s = r.space('s');
    await s.put('a', 1);
    await s.put('c', 3);
    // As storage written by older code would hold it.
    await storage.transact((tx) => tx.put('s', 'b', { ...state('~{"json":' + '['.repeat(50_000)), seq: 99, h: '0000000000000000' }));
    expect(await s.get('b')).toBeUndefined();
    const seen: string[] = [];
    for await (const e of s.scan('')) seen.push(e.key);
    expect(seen).toEqual(['a', 'c']);
    expect(errors).toEqual([expect.objectContaining({ code: 'CORRUPT' })]);
    await r.close();
  });
});
