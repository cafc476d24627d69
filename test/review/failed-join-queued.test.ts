/**
 * disk-full 23 (the simulator's first CI chunk of the family): relay a's disk was full while its session with f had
 * f's log frames queued, and the connection dropped meanwhile. The join of one frame failed (STORAGE_FULL, nothing of it
 * kept); `Session.fail` returned at once for a session already closed, so it was not marked failed, and the frames
 * queued behind went on being joined — the last one storing the cursor into f's log past the frame that failed. a's
 * next hello told that cursor: f counted its lost writes synced, and streamed from past them (never sent again).
 *
 * Here: the peer's log fsync is held (its own write in another space waits for it), the writer's frame of k1 is
 * applied there and waits in the next group, the frame of k2 queues behind it, the writer's link closes, and then the
 * log write of k1's group fails. Once they meet again, the peer must hold k1 (a cursor stored past it would skip it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { faultyIo, tempDir } from '../fs/helpers.js';
import { failingLog } from './failing-log.js';
import { tapped, until } from '../sync/support.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

/** Links `a` and `b`; `sent` counts the frames `a` sends. */
function connect(a: Replica, b: Replica, sent = { frames: 0 }): Link[] {
  const [ta, tb] = pairTransports();
  const counted = tapped(ta, (frame, conn) => (sent.frames++, conn.send(frame)));
  const links = [a.connect(counted, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  undo.push(async () => links.forEach((l) => l.close()));
  return links;
}

const value = async (r: Replica, key: string) => (await r.space('s').get(key))?.value;

describe('a log frame whose join failed, on a session closed meanwhile', () => {
  it('is not covered by the cursor a frame queued behind it stores: the writer sends it again', async () => {
    const log = failingLog();
    const { dir, cleanup } = await tempDir('failed-join-queued');
    undo.push(cleanup);
    const peer = await openReplica({ storage: fileStorage(dir, { io: faultyIo(log.faults) }) });
    const writer = await openReplica({ storage: memoryStorage() });
    undo.push(() => writer.close(), () => peer.close());
    peer.on('error', () => {}); // the failed join is reported; expected here
    await writer.space('s').put('k0', 0);
    await peer.space('s').put('p', 0); // each holds a cursor into the other's log: they meet again by streaming
    const sent = { frames: 0 };
    const first = connect(writer, peer, sent);
    await until(async () => (await value(peer, 'k0')) === 0 && (await value(writer, 'p')) === 0 && writer.status === 'synced' && peer.status === 'synced', 'met and synced');

    log.hold();
    const other = peer.space('o').put('x', 1).then(() => 'durable', () => 'failed'); // its fsync waits
    await until(() => log.state.gated > 0, "x's fsync waits");
    const k1 = await writer.space('s').put('k1', 'one');
    let k1Synced = false;
    void k1.synced.then(() => (k1Synced = true), () => {});
    await until(async () => (await value(peer, 'k1')) === 'one', "k1's frame joined (applied, waiting for its group)");
    const before = sent.frames;
    await writer.space('s').put('k2', 'two');
    await until(() => sent.frames > before, "k2's frame sent"); // and delivered (a microtask): queued behind k1's join
    for (const l of first) l.close();
    log.failAndRelease(); // the log write of k1's group fails
    await other; // its group may fail with k1's (one log write)
    await until(async () => (await value(peer, 'k1')) === undefined, 'k1 rolled back');
    await new Promise((r) => setTimeout(r, 50)); // what the closed session still does with the frames queued, it does now

    connect(writer, peer);
    await until(() => writer.status === 'synced' && peer.status === 'synced', 'synced again');
    await until(async () => (await value(peer, 'k2')) === 'two', 'k2 held');
    expect(await value(peer, 'k1'), "k1 sent again: no cursor covers the frame that failed").toBe('one');
    await until(() => k1Synced, 'k1 synced once held');
  });
});
