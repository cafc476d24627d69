/**
 * A cluster whose relays run a frame limit far below the links' default (`maxPayload`, --max-payload): the links
 * between relays send frames their member accepts (a frame over it would close the link with 1009 and, sent again
 * after each reconnect, keep the member from ever holding the writes). Checked because the relay-to-relay links are
 * opened without the relay's maxPayload; they stay within it all the same (this passes on the code it was written
 * against: a regression test, not a fix).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { createToken } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { aliveIds, client, closeAll, clusterRelay, dump, SECRET, until } from './support.js';

const open: Array<Replica | Relay> = [];
afterAll(() => closeAll(...open));
const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });
const LIMIT = 64 * 1024;

describe('relays with a small frame limit', () => {
  it('replicate a catch-up larger than one frame to a member that joins later', async () => {
    const a = await clusterRelay({ maxPayload: LIMIT });
    open.push(a);
    const writer = await client(a, { token, maxFrameBytes: LIMIT, learnRelays: false }, ['s']);
    open.push(writer);
    // 300 keys of 1 KB: ~300 KB of log, several of the member's frames.
    for (let i = 0; i < 300; i++) await writer.space('s').put(`k${i}`, 'v'.repeat(i % 10 === 0 ? 40_000 : 1000) + i);
    await until(async () => Object.keys(await dump(a.replica, 's')).length === 300, 'relay a holds every write', 20_000);

    const b = await clusterRelay({ maxPayload: LIMIT, join: [a.url] });
    open.push(b);
    const ids = [a, b].map((r) => r.replica.replicaId).sort();
    await until(() => [a, b].every((r) => aliveIds(r).join() === ids.join()), 'both relays alive', 20_000);
    await until(async () => Object.keys(await dump(b.replica, 's')).length === 300, 'relay b holds every write', 20_000);
    expect(await dump(b.replica, 's')).toEqual(await dump(a.replica, 's'));
  }, 60_000);
});
