/**
 * Simulator seed withheld 1735200251 (jittered, SIM_SPEAKS=mixed): a withheld key that another peer holds, whose
 * acknowledgement of it never arrived.
 *
 * b's write k1 was left out of its frames to c (a peer of an earlier release) and sent to a. a stored it and acknowledged,
 * but b crashed before the ACK came; a's next hello resumed b's log from its cursor, past k1. A resumed cursor counts no
 * withheld key held (acks.ts `ack`: it may have been reached under another id, by a peer restored from a copy), and b
 * wrote nothing more to a: k1 stayed pending for good, `whenSynced` and k1's `w.synced` never resolving, although a held
 * it. Now a resumed stream sends the withheld keys it passed again (as repair states): their acknowledgement, of frames
 * sent under the peer's id, counts them held (or the link leaves them out again: then they stay withheld from it too).
 *
 * Here the ACK is lost with the link (the writer never hears it), and, in the second test, with the writer's process.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { tapped, until } from '../sync/support.js';
import { connect, FRAME, replica, track } from './narrow-links.js';

/**
 * A writer of a 30 KiB `big` linked to an old peer over a narrow link (big left out, the old peer's cursor past it), then
 * to a wide peer that stores big while every ACK it sends is lost; that link closes. Returns with big pending.
 */
async function lostAck(storage: StorageAdapter) {
  const writer = await openReplica({ storage, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  writer.space('s');
  const errors: unknown[] = [];
  writer.on('error', (e) => errors.push(e));
  const old = await replica(true);
  const wide = await replica(false);
  const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
  let synced = false;
  void big.synced.then(() => (synced = true));
  connect(writer, old, FRAME);
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
  await until(() => old.status === 'synced', 'the old peer caught up, past big');
  expect(writer.pending).toBe(1);

  const [tw, tp] = pairTransports();
  const deaf = tapped(tp, (frame, conn) => void (typeof frame !== 'string' && frame[0] === MsgType.Ack ? undefined : conn.send(frame)));
  const lw = track(writer.connect(tw, { antiEntropyInterval: 0 }));
  const lp = track(wide.connect(deaf, { antiEntropyInterval: 0 }));
  await until(async () => (await wide.space('s').get('big')) !== undefined, 'the wide peer stored big');
  await until(() => wide.status === 'synced', "the wide peer's cursor past big");
  await new Promise((r) => setTimeout(r, 50));
  expect(writer.pending, 'no ACK of big reached the writer').toBe(1);
  lw.close();
  lp.close();
  return { writer, wide, old, synced: () => synced };
}

async function drains(writer: Replica, wide: Replica, old: Replica, synced?: () => boolean) {
  connect(writer, wide); // a new link: the wide peer's hello resumes the writer's log from its cursor, past big
  await until(() => wide.status === 'synced' && writer.status !== 'connecting', 'linked again');
  await until(() => writer.pending === 0, 'big no longer pending: the wide peer holds it', 2000);
  if (synced) await until(synced, "big's w.synced", 2000);
  expect(await old.space('s').get('big'), 'the old peer still lacks big').toBeUndefined();
}

describe('a withheld key another peer stored while its ACK was lost', () => {
  it('drains once that peer links again from its cursor past the key', async () => {
    const { writer, wide, old, synced } = await lostAck(memoryStorage());
    await drains(writer, wide, old, synced);
    await writer.close();
  });

  it('drains after the writer reopened (the withhold stored, the ACK never heard)', async () => {
    const storage = memoryStorage();
    const { writer, wide, old } = await lostAck(storage);
    await writer.close();
    const again = await openReplica({ storage, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
    again.space('s');
    expect(again.pending, 'big pending after the reopen').toBe(1);
    await drains(again, wide, old);
    await again.close();
  });
});
