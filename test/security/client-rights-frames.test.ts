/**
 * DENIED and GRANT are a server's answers to its client (the rights it refuses or gives). A relay took them from its
 * clients too: a client holding a read-only token (or one naming no space of them) made the relay's own replica mark any
 * space read-only — a put on the relay then threw FORBIDDEN and its reads repaired nothing, until another client's GRANT
 * write undid it — logged the client's text once a DENIED (100 KB of it here), and kept a space state for every space a
 * GRANT named, outside the token's spaces and the relay's cap on spaces (~1.9 KB of memory for a frame of ~10 bytes). A
 * server now refuses both (4400) and keeps nothing of them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { CloseCode } from '../../lib/transport.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from './raw-session.js';
import { client, closeAll, SECRET, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

describe('a client sends a server the frames only servers send', () => {
  for (const [what, frame] of [
    ['GRANT read', { type: MsgType.Grant, space: 'shared', rights: 'read' }],
    ['DENIED', { type: MsgType.Denied, space: 'shared', code: 'FORBIDDEN', reason: 'x'.repeat(100_000) }],
  ] as const) {
    it(`${what}: the session is closed 4400, the relay's space stays writable, nothing of it is logged`, async () => {
      const logs: string[] = [];
      const relay = await t.relay({ secret: SECRET, log: (e) => logs.push(JSON.stringify(e)) });
      // A reader of another space: no right at all in `shared`.
      const token = createToken(SECRET, { spaces: { other: 'read' }, expiresIn: 60 });
      const s = rawSession(relay.url, { token, spaces: [syncItem('other')] });
      await s.ready;
      s.send(frame);
      const closed = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(r, 3000))]);
      s.close();
      expect(closed?.code, 'the offender is closed with a protocol error').toBe(CloseCode.PROTOCOL_ERROR);
      expect(relay.replica.space('shared').readOnly, "the relay's own space is not read-only").toBe(false);
      // The relay still writes there, and a writer of the space gets it.
      await relay.replica.space('shared').put('k', 'from the relay');
      const writer = t.add(await client(relay, { token: createToken(SECRET, { spaces: { shared: 'write' }, expiresIn: 60 }) }, ['shared']));
      await until(async () => (await writer.space('shared').get('k'))?.value === 'from the relay', 'the relay write reached a client');
      expect(logs.filter((l) => l.includes('xxxxxxxxxx')), "the client's text in the relay's log").toEqual([]);
    }, 20_000);
  }

  it('GRANTs naming many spaces keep no state per space: the first closes the session', async () => {
    const relay = await t.relay({ secret: SECRET });
    const token = createToken(SECRET, { spaces: { other: 'read' }, expiresIn: 60 });
    const s = rawSession(relay.url, { token, spaces: [syncItem('other')] });
    await s.ready;
    for (let i = 0; i < 500; i++) s.send({ type: MsgType.Grant, space: `g${i}`, rights: 'write' });
    const closed = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(r, 3000))]);
    s.close();
    expect(closed?.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(closed?.reason).toMatch(/GRANT from a client/);
  }, 20_000);
});
