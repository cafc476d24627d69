/**
 * rev42: the wait before an anti-entropy run's next turn (lib/sync/left-out.ts) is for a record that may never become
 * durable: its transaction fails (ENOSPC: rolled back, the log's seq taken back, hub.ts logMoved). `whenDurable(seq)`
 * then resolves only once some later transaction of this instance commits past that seq — with no later write here and
 * nothing for the run to join, never. The run's task holds the space's repair outbox for good: the run never ends, no
 * later run begins (`Repair.running`), and the link never reports 'synced' again (`whenSynced` waits for ever).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports, type Link } from '../../lib/index.js';
import { faultyIo, tempDir } from '../fs/helpers.js';
import { failingLog } from './failing-log.js';
import { durableWaits, until } from '../sync/support.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

describe('a run waiting for a left-out record whose transaction then fails', () => {
  it('goes on: later runs end and the link reports synced again', async () => {
    const log = failingLog();
    const { dir, cleanup } = await tempDir('left-out-wait-failed');
    undo.push(cleanup);
    const writer = await openReplica({ storage: fileStorage(dir, { io: faultyIo(log.faults) }) });
    const peer = await openReplica({ storage: memoryStorage() });
    undo.push(() => writer.close(), () => peer.close());
    for (let i = 0; i < 20; i++) await writer.space('s').put(`k${i}`, i);
    await writer.space('o').put('y', 0);
    peer.space('s');
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const [ta, tb] = pairTransports();
    const links: Link[] = [writer.connect(ta, { antiEntropyInterval: 20 }), peer.connect(tb, { antiEntropyInterval: 20 })];
    undo.push(async () => links.forEach((l) => l.close()));
    await until(async () => (await peer.space('s').get('k19')) !== undefined && writer.status === 'synced' && peer.status === 'synced', 'met and synced');
    // z, in another space, holds the log's fsync: no run of 's' can wait for it (one that did would hold that space's
    // outbox until the gate opens, and no later run would meet k3's record: the race the loaded CI machine lost).
    const waits = durableWaits(writer, 's');
    log.hold();
    const before = writer.space('o').put('z', 'zed').then(() => 'durable', () => 'failed'); // a group waiting for its fsync
    await until(() => log.state.gated > 0, "z's fsync waits");
    const rewrite = writer.space('s').put('k3', 'new').then(() => 'durable', () => 'failed'); // queued behind it, to fail
    // The space's tree is dropped (as an idle index is, hub.ts evict): the next run builds it again and leaves k3 out,
    // its record not durable (hub.ts `unsettled`), so it waits for it — the trees being equal, a run would otherwise
    // meet k3 only if it happened to read its range.
    const hub = (writer as unknown as { hub: { indexes: Map<string, unknown>; built: Map<string, unknown> } }).hub;
    hub.indexes.delete('s');
    hub.built.delete('s');
    await until(() => waits(), 'a periodic run waits for a left-out record to be durable');
    log.failAndRelease();
    expect(await rewrite).toBe('failed');
    await before; // its group may fail with k3's (one log write)
    expect((await writer.space('s').get('k3'))?.value, 'rolled back').toBe(3);
    expect(errors, 'no session failed on the write').toEqual([]);
    let runs = 0;
    writer.on('antiEntropy', () => runs++);
    await until(() => runs >= 2, 'later runs of the writer end', 3000);
    await until(() => writer.status === 'synced' && peer.status === 'synced', 'synced again', 3000);
  });
});
