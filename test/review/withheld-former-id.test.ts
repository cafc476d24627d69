/**
 * A write a replica made under its id before a re-identification (withheld 21814, 22728: seen in the simulator, where
 * the checker had it backwards). A replica restored from a copy learns from a peer that it lost writes, mints a new
 * id and re-issues only what it wrote after the restore point: its earlier writes keep the old id. One of them that no
 * link could carry (a value over a narrow link's frame limit, to a peer that takes no key in parts) is held by no other
 * node, so `replica.pending` must go on counting it (DESIGN: `pending` is the local writes no relay or peer
 * acknowledged; it must never claim a write is held when it is not) — also once its key's record changes, and after a
 * reopen, when the count is derived from the log again.
 */
import { describe, expect, it } from 'vitest';
import { openReplica, type Replica } from '../../lib/index.js';
import { journaledStorage } from '../sim/backup.js';
import { until } from '../sync/support.js';
import { connect, FRAME, replica } from './narrow-links.js';

const BIG = 'x'.repeat(2 * FRAME);
const MAX = 64 * 1024;

/**
 * `writer` puts `big` (too large for the narrow link) and, after a copy of its storage is taken, `k2`; a peer that
 * takes no key in parts gets k2 only. The writer is restored from the copy (it keeps `big`, loses k2), connects to the
 * peer, learns of the restore and re-identifies. Returns the restored replica, its storage, the peer and the old id.
 */
async function restoredWriter() {
  const storage = journaledStorage();
  const writer = await openReplica({ storage, maxValueBytes: MAX });
  writer.on('error', () => {});
  await writer.space('s').put('big', BIG);
  const mark = storage.mark;
  await writer.space('s').put('k2', 'after the copy');
  const peer = await replica(true);
  peer.on('error', () => {});
  const [link] = connect(writer, peer, FRAME);
  await until(async () => (await peer.space('s').get('k2'))?.value === 'after the copy', 'k2 reaches the peer');
  await until(() => writer.pending === 1, 'the writer counts big alone');
  link!.close();
  await writer.close();

  const copy = await storage.restore(mark);
  const restored = await openReplica({ storage: copy, maxValueBytes: MAX });
  restored.on('error', () => {});
  restored.space('s');
  const oldId = restored.replicaId;
  expect(restored.pending).toBe(1);
  connect(restored, peer, FRAME);
  await until(() => restored.replicaId !== oldId, 'the restored writer re-identifies');
  await until(async () => (await peer.space('s').get('k2')) !== undefined && restored.status === 'syncing', 'the links are back');
  return { restored, copy, peer, oldId };
}

describe('a write under the id a replica had before re-identifying, held by no other node', () => {
  it('stays pending after a reopen', async () => {
    const { restored, copy, oldId } = await restoredWriter();
    expect(restored.pending).toBe(1);
    expect((await restored.space('s').get('big'))?.versions.map((v) => v.replicaId)).toEqual([oldId]);
    await restored.close();

    const reopened: Replica = await openReplica({ storage: copy, maxValueBytes: MAX });
    try {
      reopened.space('s');
      expect(reopened.replicaId).not.toBe(oldId);
      // Derived from the log again: `big` holds a write of this replica (under its old id) that nobody acknowledged.
      expect(reopened.pending).toBe(1);
    } finally {
      await reopened.close();
    }
  });

  it('stays pending when a peer\'s concurrent write joins its key', async () => {
    const { restored, peer } = await restoredWriter();
    expect(restored.pending).toBe(1);
    // The peer writes `big` small, knowing nothing of the big write: the join keeps both, and the old id's version is
    // still held nowhere else (the peer's state does not cover it).
    await peer.space('s').put('big', 'small, concurrent');
    await until(async () => ((await restored.space('s').get('big'))?.versions.length ?? 0) === 2, 'the join reaches the restored writer');
    expect(restored.pending).toBe(1);
  });
});
