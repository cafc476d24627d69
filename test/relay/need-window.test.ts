/**
 * NEED asks for whole states, answered with repair frames, at most 8 of them unacknowledged on a session. The
 * answer waited for room in that window inside the session's inbox, the very queue that reads the ACKs making room:
 * a NEED asking for more than 8 frames' worth stalled the session for good once 8 were out. The answer now goes on
 * its own queue, and the inbox reads on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { randomId } from '../../lib/ids.js';
import { decodeMessage, encodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { client, closeAll, SECRET, startRelay, until } from './support.js';
import { item, rawPeer } from './raw.js';

let relay: Relay;
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET });
});
afterAll(() => closeAll(relay));

describe('a NEED larger than the repair window', () => {
  it('is answered in full as the asker acknowledges, and the session reads on meanwhile', async () => {
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 60 });
    const writer = await client(relay, { token });
    const keys = Array.from({ length: 160 }, (_, i) => `k/${i}`); // 10 answer frames of 16 keys
    for (const k of keys) await writer.space('s').put(k, k);
    await until(async () => (await relay.replica.space('s').get('k/159')) !== undefined, 'the relay holds the keys');
    await writer.close();

    const me = randomId();
    const epoch = randomId();
    const peer = rawPeer(relay.url);
    await peer.opened;
    peer.ws.send(encodeMessage({ type: MsgType.Hello, versions: [...RAW_VERSIONS], replicaId: me, epoch, top: 0, token, expect: '', history: [[epoch, 0]], spaces: [item('s')] }));
    await until(() => peer.frames.length > 0, 'the relay said hello');
    const hello = decodeMessage(peer.frames[0]!, { maxValueBytes: 1 << 20 });
    if (hello.type !== MsgType.Hello) throw new Error(`expected a hello, got type ${hello.type}`);
    const table = [me, hello.replicaId];
    const inTable = [hello.replicaId, me];
    // The repair frames (CHANGES upTo 0) the relay sent, by the keys they carry; other frames are not read here.
    const answered = new Set<string>();
    let answers = 0;
    let read = 1;
    const readFrames = () => {
      for (; read < peer.frames.length; read++) {
        let m: Message;
        try {
          m = decodeMessage(peer.frames[read]!, { maxValueBytes: 1 << 20, table: inTable });
        } catch {
          continue; // a LIVE frame needs the connection's state: not one of the answers
        }
        if (m.type === MsgType.Changes && m.upTo === 0) {
          answers++;
          for (const [k] of m.entries) answered.add(k);
        }
      }
    };
    // Let the relay's sync item come, then ask for every key whole.
    await new Promise((r) => setTimeout(r, 200));
    peer.ws.send(encodeMessage({ type: MsgType.Need, space: 's', keys: keys.map((k) => [k, ''] as const) }, table));
    await until(() => (readFrames(), answers >= 8), 'the first 8 answer frames');
    await new Promise((r) => setTimeout(r, 200));
    readFrames();
    expect(answers, 'no more than the window before an acknowledgement').toBe(8);
    // Acknowledge them: room for the rest, which must come.
    for (let i = 0; i < 8; i++) peer.ws.send(encodeMessage({ type: MsgType.Ack, space: 's', upTo: 0 }, table));
    await until(() => (readFrames(), answers >= 10), 'the rest of the answer after the acknowledgements');
    for (let i = 0; i < 2; i++) peer.ws.send(encodeMessage({ type: MsgType.Ack, space: 's', upTo: 0 }, table));
    expect([...answered].sort()).toEqual([...keys].sort());
    peer.ws.close();
  });
});
