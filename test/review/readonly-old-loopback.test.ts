/**
 * Review rev46b: the real relay over loopback, a read-only client of protocol 10 (a raw session: test/security). The
 * relay leaves out a key whose state names an epoch toward it and asks its state (NEED, need-answers.ts: a read-only
 * client below 11 is asked too, its answer refused). The client forges: answers to the NEED (its own claims, and keys
 * never asked), log frames (with and without entries), NEEDs of its own, ACKs of repair frames never sent. The relay's
 * storage is journaled write by write (test/support/tx-journal.ts) and must see none; what the relay sends back is
 * counted per frame received.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { namesEpochs, stateOf, type KeyState } from '../../lib/dvv.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { MsgType, type Entry, type Message } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from '../security/raw-session.js';
import { SECRET, sleep, tracker, until } from '../security/support.js';
import { journaledMemory, type Write } from '../support/tx-journal.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

describe('a read-only client of protocol 10 forging answers, repair frames, log frames and ACKs', () => {
  it("the relay stores nothing of it, and answers each frame with a bounded reply", async () => {
    const writes: Write[] = [];
    const relay = await t.relay({ secret: SECRET, storage: journaledMemory(writes) });
    const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'a' });
    const readToken = createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'r' });
    // A writer at 11 that met the relay (11) tags once reopened: its next write's state names its epoch.
    const disk = memoryStorage();
    const first = await openReplica({ storage: disk });
    await first.space('s').put('k', 'before');
    for (let i = 0; i < 50; i++) await first.space('s').put(`plain/${i}`, 'x'.repeat(200));
    first.connect(webSocketTransport(relay.url, { token: writeToken }));
    await first.whenSynced();
    await first.close();
    const a = t.add(await openReplica({ storage: disk }));
    await a.space('s').put('k', 'tagged');
    a.connect(webSocketTransport(relay.url, { token: writeToken }));
    await a.whenSynced();
    const rec = await relay.replica.core.storage.get('s', 'k');
    expect(rec && namesEpochs(stateOf(rec)), "the relay's state of k names an epoch").toBe(true);

    const r = t.add(rawSession(relay.url, { token: readToken, versions: RAW_VERSIONS, spaces: [syncItem('s')] }));
    await r.ready;
    const received = (): Message[] => r.messages();
    await until(() => received().some((m) => m.type === MsgType.Need), 'the relay asked the read-only client');
    expect(received().flatMap((m) => (m.type === MsgType.Need ? m.keys.map(([k]) => k) : []))).toEqual(['k']);
    await sleep(100);
    // Meeting it stored its principal's claim of the id (principals.ts), the epoch it told, and a fresh cursor of its
    // log (none was stored): the session's own, not its frames'. From here on, nothing.
    const before = writes.length;

    const forged = (n: number): KeyState => ({ vs: [{ r: a.replicaId, n, t: Date.now(), c: 0, v: JSON.stringify('forged') }], cc: { [a.replicaId]: n } });
    const others = (i: number): Entry[] => Array.from({ length: 200 }, (_, j) => [`forged/${i}/${j}`, forged(1)]);
    const attacks: Message[] = [];
    for (let i = 0; i < 20; i++) {
      attacks.push({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', forged(1 + (i % 3))], ...others(i)] }); // answers
      attacks.push({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', forged(1000 + i)]] }); // above everything
      attacks.push({ type: MsgType.Changes, space: 's', upTo: 5 + i, entries: [['k', forged(1)]] }); // a log frame
      attacks.push({ type: MsgType.Changes, space: 's', upTo: 100 + i, entries: [] }); // an empty one
      attacks.push({ type: MsgType.Ack, space: 's', upTo: 0 }); // ACKs of repair frames never sent
      attacks.push({ type: MsgType.Need, space: 's', keys: [['k', '']] }); // asks for the key whole
    }
    const frames = r.frames.length;
    const bytes = r.bytesIn;
    for (const m of attacks) {
      r.send(m);
      await sleep(5);
    }
    // Quiet: no frame came for a while (what is counted does not depend on when each reply came).
    let seen = -1;
    while (seen !== r.frames.length) {
      seen = r.frames.length;
      await sleep(300);
    }
    expect(r.isClosed, 'the session stays open (each frame refused, not fatal)').toBe(false);
    expect(writes.slice(before)).toEqual([]);
    expect((await relay.replica.space('s').get('k'))?.value).toBe('tagged');
    expect(await relay.replica.space('s').get('forged/0/0')).toBeUndefined();
    // Per frame received: a DENIED, an ACK, a context alone or an empty answer of k (143 frames, 6 027 bytes for 120, seen).
    expect(r.frames.length - frames).toBeLessThanOrEqual(3 * attacks.length);
    expect(r.bytesIn - bytes).toBeLessThan(100 * attacks.length);
  });
});
