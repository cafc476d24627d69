/**
 * Issue 11 #6: a connection whose token expired kept receiving every write as long as it sent nothing
 * (expiry was checked on inbound messages only). The relay now closes it (4401) at the expiry instant.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken, grantsOf, verifyToken } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from './raw-session.js';
import { client, closeAll, SECRET, sleep, tracker } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

describe('token expiry (#6)', () => {
  it('closes a silent connection when its token expires, and sends it nothing after', async () => {
    const relay = await t.relay({ secret: SECRET });
    const short = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 1 });
    const expiresAt = grantsOf(verifyToken(SECRET, short)).expiresAt!;
    const listener = rawSession(relay.url, { token: short, spaces: [syncItem('s')] });
    await listener.ready;
    const writer = t.add(await client(relay, { token: createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600 }) }));
    await (await writer.space('s').put('before', 1)).synced;
    // The listener sends nothing more. Wait past its expiry, then write again.
    await sleep(Math.max(0, expiresAt - Date.now()) + 300);
    await (await writer.space('s').put('after-expiry', 2)).synced;
    const closed = await Promise.race([listener.closed, sleep(3000).then(() => undefined)]);
    expect(closed?.code).toBe(4401);
    const keys = listener
      .messages()
      .flatMap((m) => (m.type === MsgType.Changes ? m.entries.map(([k]) => k) : []));
    expect(keys).not.toContain('after-expiry');
  });
});
