/**
 * NEED asks for keys' whole states; the answers go as repair frames, at most 8 of them unacknowledged (need-answers.ts).
 * A client that never acknowledges them — a read-only token is enough — made the relay keep every NEED's keys queued for
 * good (the queue is not the inbox's, so no inbound bound held it back): 41 MiB of relay heap for 7.6 MiB of NEEDs in a
 * probe, growing with every frame at up to the rate limit's 16 MiB/s. And one NEED naming many stored keys read all of
 * their states into memory before the first answer went: a few bytes a key asked, a whole state a key held. Now a key
 * asked while it waits is asked once, a link may have at most MAX_NEEDING keys waiting (past it: 4400), and the states
 * are read 16 at a time, as the answer frames go.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { memoryStorage, type StorageAdapter } from '../../lib/index.js';
import { CloseCode } from '../../lib/transport.js';
import { MsgType } from '../../lib/sync/messages.js';
import { MAX_NEEDING } from '../../lib/sync/need-answers.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, SECRET, sleep, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

/** Memory storage whose reads of one key at a time (`get`) in `space` are counted. */
function countingStorage(space: string): { storage: StorageAdapter; reads: () => number } {
  const inner = memoryStorage();
  let reads = 0;
  const storage = new Proxy(inner, {
    get(target, p) {
      const v: unknown = Reflect.get(target, p, target);
      if (p === 'get') return (s: string, k: string) => ((s === space && reads++), (v as StorageAdapter['get']).call(target, s, k));
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, reads: () => reads };
}

const reader = (space: string) => createToken(SECRET, { spaces: { [space]: 'read' }, expiresIn: 60 });

/** A read-only session of `space` whose cursor is the relay's top: nothing to catch up, only what it asks for comes. */
async function caughtUp(url: string, space: string) {
  const s = rawSession(url, { token: reader(space) });
  const hello = await s.ready;
  s.send({ type: MsgType.Sync, spaces: [syncItem(space, { cursorEpoch: hello.epoch, cursorSeq: hello.top })] });
  await sleep(300);
  return s;
}

describe('NEEDs a client never lets the relay answer', () => {
  it(`fresh keys past ${MAX_NEEDING} waiting close the session (4400); asked again while waiting, a key counts once`, async () => {
    const relay = await t.relay({ secret: SECRET });
    await relay.replica.space('s').put('k', 'v');
    const s = await caughtUp(relay.url, 's');
    // The same 1 000 keys 40 times: 40 000 asks of 1 000 keys, none answered (no ACK ever goes).
    const same = Array.from({ length: 1000 }, (_, i) => [`same/${i}`, ''] as const);
    for (let i = 0; i < 40; i++) s.send({ type: MsgType.Need, space: 's', keys: same });
    await sleep(500);
    expect(s.isClosed, 'asks of keys already waiting hold nothing more').toBe(false);
    for (let i = 0; i < 40 && !s.isClosed; i++) {
      const keys = Array.from({ length: 1000 }, (_, j) => [`fresh/${i}/${j}`, ''] as const);
      s.send({ type: MsgType.Need, space: 's', keys });
      await sleep(10);
    }
    const closed = await Promise.race([s.closed, sleep(5000).then(() => undefined)]);
    s.close();
    expect(closed?.code, 'the asker is closed').toBe(CloseCode.PROTOCOL_ERROR);
    expect(closed?.reason).toMatch(/NEED/);
  }, 30_000);

  it('one NEED naming every stored key reads their states only as fast as the answers go', async () => {
    const { storage, reads } = countingStorage('big');
    const relay = await t.relay({ secret: SECRET, storage });
    const keys = Array.from({ length: 400 }, (_, i) => `k/${i}`);
    for (const k of keys) await relay.replica.space('big').put(k, `${k} `.repeat(4000));
    const s = await caughtUp(relay.url, 'big');
    const before = reads();
    s.send({ type: MsgType.Need, space: 'big', keys: keys.map((k) => [k, ''] as const) });
    // The window's 8 answer frames (16 states each) go; no ACK comes, so nothing more may.
    const answers = () => s.messages().filter((m) => m.type === MsgType.Changes && m.upTo === 0).length;
    await until(() => answers() >= 8, 'the first answers');
    await sleep(500);
    const read = reads() - before;
    s.close();
    expect(answers()).toBe(8);
    expect(read, 'states read (and held) for answers that cannot go yet').toBeLessThanOrEqual(9 * 16);
  }, 30_000);
});
