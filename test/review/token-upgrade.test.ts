/**
 * Review probe: a client granted read in a space, whose token is then refreshed to write and which reconnects. The
 * relay sends GRANT only for read, so nothing told the client its rights went back up: space.readOnly stayed true (puts
 * threw FORBIDDEN; the same on ef960dc). Fixed with a sync item without a GRANT(read) allowing writes again — and then
 * the relay had counted the reader's log as held by the first session's anti-entropy run, whose states it never took
 * (since ecc47c0 the reader sends none): the offline write reported synced and never reached the relay. A relay now
 * keeps no cursor into a read-only client's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { isConcordError, memoryStorage, openReplica, type Connection, type Replica, type Transport } from '../../lib/index.js';
import { closeAll, SECRET, startRelay, until } from '../relay/support.js';

let relay: Relay;
const open: Replica[] = [];
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET });
});
afterAll(() => closeAll(...open, relay));

describe('a token refreshed from read to write', () => {
  it('after a reconnect, the offline writes sync and the space takes writes again', async () => {
    const readToken = createToken(SECRET, { spaces: { up: 'read' }, expiresIn: 60 });
    const writeToken = createToken(SECRET, { spaces: { up: 'write' }, expiresIn: 60 });
    let token = readToken;
    // The relay holds a key of the space (so the first meeting compares trees; see readonly-empty.test.ts otherwise).
    const writer = await openReplica({ storage: memoryStorage() });
    open.push(writer);
    await writer.space('up').put('seed', 1);
    writer.connect(webSocketTransport(relay.url, { token: writeToken }));
    await until(async () => (await relay.replica.space('up').get('seed')) !== undefined, 'the relay holds a key');
    const reader = await openReplica({ storage: memoryStorage() });
    open.push(reader);
    const errors: unknown[] = [];
    reader.on('error', (e) => errors.push(e));
    const offline = await reader.space('up').put('offline', 'mine');
    let conn: Connection | undefined;
    const inner = webSocketTransport(relay.url, { token: () => token });
    const transport: Transport = { ...inner, open: async (h) => (conn = await inner.open(h)) };
    const link = reader.connect(transport, { antiEntropyInterval: 100, backoff: { base: 20, max: 50 } });
    await until(() => link.status === 'synced' && reader.space('up').readOnly, 'read-only known').catch((e) => { throw new Error(`${e.message}: link ${link.status}, readOnly ${reader.space('up').readOnly}, errors ${errors.map(String).join('; ')}`); });
    expect(errors.filter((e) => isConcordError(e, 'FORBIDDEN')).length).toBe(1);
    token = writeToken; // refreshed
    const first = conn;
    conn!.close(4000, 'drop for the test');
    await until(() => conn !== first && link.status === 'synced', 'reconnected with the write token');
    await new Promise((r) => setTimeout(r, 500));
    const state = {
      readOnly: reader.space('up').readOnly,
      relayHolds: (await relay.replica.space('up').get('offline'))?.value,
      synced: offline.durability,
    };
    expect(state).toEqual({ readOnly: false, relayHolds: 'mine', synced: 'synced' });
  });
});
