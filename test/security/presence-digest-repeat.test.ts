/**
 * A presence digest is answered with every entry of the space its sender lacks (and, asked with `r`, the relay's own
 * digest): a client sending an empty digest of a few bytes again and again had the relay send it the space's whole
 * presence each time — up to 4 096 entries of 4 KiB metadata, for some 30 bytes asked, as fast as it asked (the NEED
 * repeat window's twin: test/security/need-repeat.test.ts). Honest clients send a digest when a space goes live on the
 * link, and answer the relay's once; news comes to them as it happens. Now a client's digest of a space is answered at
 * most once a window (presence-hub.ts DIGEST_WINDOW_MS); a repeat within it is not answered (what it would have
 * brought comes with the members' heartbeats, every ttl / 3).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { closeAll, SECRET, sleep, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const META = 'm'.repeat(4000);

async function live(url: string, sub: string): Promise<RawSession> {
  const s = t.add(rawSession(url, { token: createToken(SECRET, { spaces: { room: 'read' }, sub, expiresIn: 120 }), spaces: [syncItem('room')] }));
  await s.ready;
  await until(() => s.messages().some((m) => m.type === MsgType.Sync), 'the relay synced the space');
  return s;
}

const presenceFrames = (s: RawSession) => s.messages().filter((m) => m.type === MsgType.Presence);
/** Entries of `owner` the relay sent `s` in presence frames. */
const entriesOf = (s: RawSession, owner: string) =>
  presenceFrames(s).reduce((n, m) => n + (m.type === MsgType.Presence ? ((JSON.parse(m.json) as { e?: Array<{ replicaId: string }> }).e ?? []).filter((e) => e.replicaId.startsWith(owner)).length : 0), 0);

describe('presence digests of one client, again and again', () => {
  it('an empty digest sent 20 times: the space is sent whole once, not 20 times', async () => {
    const relay = await t.relay({ secret: SECRET });
    // Someone present in the room with 16 tabs of 4 KiB metadata: ~64 KiB of presence.
    const alice = await live(relay.url, 'alice');
    const e = Array.from({ length: 16 }, (_, i) => ({ replicaId: `${alice.replicaId}~tab${String(i).padStart(2, '0')}`, meta: META, heartbeat: 1 }));
    alice.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ e }) });
    const mallory = await live(relay.url, 'mallory');
    const before = mallory.bytesIn;
    let asked = 0;
    for (let i = 0; i < 20; i++) {
      const json = JSON.stringify({ d: {}, r: 1 });
      asked += json.length;
      mallory.send({ type: MsgType.Presence, space: 'room', json });
      // The first answered before the next goes (a fence for the others: the relay reads a connection's frames in turn).
      if (i === 0) await until(() => entriesOf(mallory, alice.replicaId) >= 16, "alice's entries, in answer to the first digest", 10_000);
      await sleep(50);
    }
    await sleep(500);
    const sent = mallory.bytesIn - before;
    const again = entriesOf(mallory, alice.replicaId) - 16;
    console.log(`20 empty digests (${asked} characters asked): ${again} entries sent again, ${sent} bytes`);
    // The first digest of this client is answered (the space whole: 16 entries); none of the 19 after it, within the window.
    expect(again, 'entries sent again for 20 digests within a window').toBeLessThanOrEqual(16);
    expect(sent).toBeLessThan(2 * 16 * META.length);
  }, 30_000);

  it("an honest client's first digest is answered: it learns who is present at once", async () => {
    const relay = await t.relay({ secret: SECRET });
    const alice = await live(relay.url, 'alice');
    alice.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ e: [{ replicaId: alice.replicaId, meta: { name: 'Alice' }, heartbeat: 1 }] }) });
    const bob = await live(relay.url, 'bob');
    bob.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ d: {}, r: 1 }) });
    await until(() => entriesOf(bob, alice.replicaId) >= 1, 'alice, in answer to the digest', 10_000);
  }, 30_000);
});
