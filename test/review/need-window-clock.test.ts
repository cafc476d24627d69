/**
 * The NEED repeat window (lib/sync/need-answers.ts REPEAT_WINDOW_MS) is judged by the relay's clock. A clock that jumps
 * a month forward, then back (an NTP correction), must not hold an honest ask for a month: a repeat after a jump either
 * way is answered at once (the window is over, or its start is in the future), and an answer held when the clock goes
 * back still goes once its timer ends. This fails if the window only compares `now - at < window` (a clock gone back
 * holds every repeat until it catches up) or if a held answer waits on the clock alone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { REPEAT_WINDOW_MS } from '../../lib/sync/need-answers.js';
import { rawSession, syncItem, type RawSession } from '../security/raw-session.js';
import { closeAll, SECRET, sleep, tracker, until } from '../security/support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const MONTH = 30 * 24 * 3600_000;

const answers = (s: RawSession) => s.messages().filter((m) => m.type === MsgType.Changes && m.upTo === 0 && m.entries.some(([k]) => k === 'k')).length;

/** Asks for `k` and acknowledges; resolves once the answer numbered `n` came (within `ms`). */
async function ask(s: RawSession, n: number, ms: number, what: string): Promise<void> {
  s.send({ type: MsgType.Need, space: 's', keys: [['k', '']] });
  await until(() => answers(s) >= n, what, ms);
  s.send({ type: MsgType.Ack, space: 's', upTo: 0 });
}

describe('the repeat window under a clock that jumps', () => {
  it('a month forward, then back: repeats answered at once; a held answer goes when the clock went back', async () => {
    let offset = 0;
    const relay = await t.relay({ secret: SECRET, now: () => Date.now() + offset });
    await relay.replica.space('s').put('k', 'v'.repeat(4096));
    // The token outlives the relay's month ahead.
    const s = t.add(rawSession(relay.url, { token: createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 90 * 24 * 3600 }) }));
    const hello = await s.ready;
    s.send({ type: MsgType.Sync, spaces: [syncItem('s', { cursorEpoch: hello.epoch, cursorSeq: hello.top })] });
    await sleep(200);
    const quick = REPEAT_WINDOW_MS / 4;
    await ask(s, 1, quick, 'the first answer');
    offset = MONTH;
    await ask(s, 2, quick, 'a repeat after the clock jumped a month forward');
    offset = 0;
    await ask(s, 3, quick, 'a repeat after the clock went back a month');
    // Asked again within the window: held. Then the clock goes back an hour: the held answer still goes.
    s.send({ type: MsgType.Need, space: 's', keys: [['k', '']] });
    await sleep(300);
    expect(answers(s), 'a repeat within the window is held').toBe(3);
    offset = -3600_000;
    await until(() => answers(s) === 4, 'the held answer, the clock gone back', REPEAT_WINDOW_MS + 5_000);
    s.close();
  }, REPEAT_WINDOW_MS + 30_000);
});
