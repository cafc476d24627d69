/**
 * A relay link answers one stored version of a key at most once a window (lib/sync/need-answers.ts REPEAT_WINDOW_MS);
 * a repeat ask within it is held until the window ends. The window is the link's: an honest client that asks again
 * because its session restarted (a reconnect, a new leader tab, a restarted process: the same replicaId on a new
 * connection) must be answered at once, and the old link's held answer must neither go to the new link nor fail the
 * relay. This fails if the window outlives the link (kept per replica, per id or per space on the relay).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { REPEAT_WINDOW_MS } from '../../lib/sync/need-answers.js';
import { rawSession, syncItem, type RawSession } from '../security/raw-session.js';
import { closeAll, SECRET, sleep, tracker, until } from '../security/support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const VALUE = 'v'.repeat(16 * 1024);

async function session(url: string, replicaId: string): Promise<RawSession> {
  const s = t.add(rawSession(url, { replicaId, token: createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 120 }) }));
  const hello = await s.ready;
  s.send({ type: MsgType.Sync, spaces: [syncItem('s', { cursorEpoch: hello.epoch, cursorSeq: hello.top })] });
  await sleep(200);
  return s;
}

const answers = (s: RawSession) => s.messages().filter((m) => m.type === MsgType.Changes && m.upTo === 0 && m.entries.some(([k]) => k === 'k')).length;

function ask(s: RawSession): void {
  s.send({ type: MsgType.Need, space: 's', keys: [['k', '']] });
}

describe('the repeat window is the link’s', () => {
  it('a client asking again on a new connection (same replicaId) is answered at once', async () => {
    const relay = await t.relay({ secret: SECRET });
    const errors: unknown[] = [];
    relay.replica.on('error', (e) => errors.push(e));
    await relay.replica.space('s').put('k', VALUE);
    const a = await session(relay.url, 'honest-client');
    ask(a);
    await until(() => answers(a) === 1, 'the first answer');
    a.send({ type: MsgType.Ack, space: 's', upTo: 0 });
    // Asked again on the same link within the window: held (the bound under review).
    ask(a);
    await sleep(300);
    expect(answers(a), 'a repeat on one link waits for the window').toBe(1);
    a.close();
    // The client's session restarted: a new link asks for the same unchanged version.
    const b = await session(relay.url, 'honest-client');
    const asked = Date.now();
    ask(b);
    await until(() => answers(b) === 1, 'the new link answered', REPEAT_WINDOW_MS / 2);
    expect(Date.now() - asked, 'answered well within the window').toBeLessThan(REPEAT_WINDOW_MS / 2);
    b.send({ type: MsgType.Ack, space: 's', upTo: 0 });
    // The held answer of the closed link never reaches the new one, nor fails the relay, once its window ends.
    await sleep(REPEAT_WINDOW_MS + 500);
    expect(answers(b), 'no stray answer of the closed link').toBe(1);
    expect(errors).toEqual([]);
    b.close();
  }, REPEAT_WINDOW_MS + 30_000);
});
