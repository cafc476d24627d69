/**
 * A key the space's Merkle tree left out (hub.ts `unsettled`: its newest record was not durable when the tree was built)
 * whose transaction then failed (ENOSPC: rolled back, the log takes later writes). It joined the tree with its change
 * event — and a failed transaction has none, so it stayed out for good: every later run over the tree left it out,
 * exchanging nothing of it and confirming nothing (repair.ts `skipped`), until the index was evicted. A peer holding
 * nothing of k never got the writer's durable write, periodic runs or not, and the writer's log stayed pending. The
 * hub now puts such a key in at its durable record when the transaction is abandoned (hub.ts `logMoved`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { faultyIo, tempDir } from '../fs/helpers.js';
import { failingLog } from './failing-log.js';
import { until } from '../sync/support.js';
import type { SyncHub } from '../../lib/sync/hub.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

async function third(rs: Replica[]) {
  const t = await openReplica({ storage: memoryStorage() });
  for (let i = 0; i < 30; i++) await t.space('s').put(`held/${i}`, i);
  for (const r of rs) {
    const [x, y] = pairTransports();
    const links = [t.connect(x, { antiEntropyInterval: 0 }), r.connect(y, { antiEntropyInterval: 0 })];
    await until(async () => (await r.space('s').get('held/29')) !== undefined && r.status === 'synced', 'copy');
    for (const l of links) l.close();
  }
  await t.close();
}

describe('a key left out of the tree for a record whose transaction then failed', () => {
  it.each([0, 50])('goes back in at its durable record: a later run exchanges it and confirms the writer\'s log (anti-entropy every %i ms)', async (every) => {
    const log = failingLog();
    const { dir, cleanup } = await tempDir('left-out-rolled-back');
    undo.push(cleanup);
    const writer = await openReplica({ storage: fileStorage(dir, { io: faultyIo(log.faults) }) });
    const peer = await openReplica({ storage: memoryStorage() });
    undo.push(() => writer.close(), () => peer.close());
    await third([writer, peer]); // both hold the same keys and have never met: their meeting repairs by a run
    const first = await writer.space('s').put('k', 'old'); // durable; the peer holds nothing of k
    let synced = false;
    void first.synced.then(() => (synced = true));
    log.hold();
    const before = writer.space('s').put('z', 'zed'); // a group waiting for its fsync
    await until(() => log.state.gated > 0, "z's fsync waits");
    const rewrite = writer.space('s').put('k', 'new').then(() => 'durable', () => 'failed'); // queued behind it, to fail
    // The space's tree is built now (as a session with any peer would): k and z are not durable, so left out.
    await (writer as unknown as { hub: SyncHub }).hub.index('s');
    log.failAndRelease();
    expect(await rewrite).toBe('failed');
    await before;
    expect((await writer.space('s').get('k'))?.value, 'rolled back').toBe('old');
    const [ta, tb] = pairTransports();
    const links: Link[] = [writer.connect(ta, { antiEntropyInterval: every }), peer.connect(tb, { antiEntropyInterval: every })];
    undo.push(async () => links.forEach((l) => l.close()));
    await until(async () => (await peer.space('s').get('k'))?.value === 'old', 'the peer got k');
    await until(() => synced && writer.pending === 0 && writer.status === 'synced', 'the writer\'s writes synced');
  });
});
