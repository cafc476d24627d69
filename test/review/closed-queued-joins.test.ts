/**
 * Review of df23 (session.ts `fail` marks a closed session failed): only a failure stops the frames queued on a closed
 * session. A link that drops while the peer's joins wait for their log group (a slow fsync), with no failure, still
 * joins every frame queued behind. A guard (passes on main and on df23): a `failed` set on a normal close, or any close stopping the queue, fails it.
 */
import { describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { faultyIo, isLog, tempDir } from '../fs/helpers.js';
import { until } from '../sync/support.js';
import { paired, value } from './paired.js';

const { undo, connect } = paired();

describe('frames queued on a session whose link dropped, no join failing', () => {
  it('are all joined', async () => {
    let gate: Promise<void> | undefined;
    let open: (() => void) | undefined;
    let gated = 0;
    const { dir, cleanup } = await tempDir('closed-queued-joins');
    undo.push(cleanup);
    const peer = await openReplica({ storage: fileStorage(dir, { io: faultyIo({ beforeSync: (p) => (isLog(p) && gate ? (gated++, gate) : Promise.resolve()) }) }) });
    const writer = await openReplica({ storage: memoryStorage() });
    undo.push(() => writer.close(), () => peer.close());
    await writer.space('s').put('k0', 0);
    const first = connect(writer, peer);
    await until(async () => (await value(peer, 'k0')) === 0 && writer.status === 'synced' && peer.status === 'synced', 'met and synced');

    gate = new Promise((r) => (open = r));
    const other = peer.space('o').put('x', 1); // its fsync waits: the joins below go in the groups after it
    await until(() => gated > 0, "x's fsync waits");
    const writes = [];
    for (const k of ['k1', 'k2', 'k3']) {
      writes.push(await writer.space('s').put(k, k));
      await new Promise((r) => setTimeout(r, 10)); // one frame each
    }
    await until(async () => (await value(peer, 'k1')) === 'k1', "k1's frame joined (applied, waiting for its group)");
    for (const l of first) l.close();
    gate = undefined;
    open!();
    await other;
    await until(async () => (await value(peer, 'k3')) === 'k3', 'the frames queued behind k1 joined after the close', 2_000);
    expect([await value(peer, 'k2'), await value(peer, 'k3')]).toEqual(['k2', 'k3']);

    // Stored durably: the writer's next session counts them synced.
    connect(writer, peer);
    for (const w of writes) await w.synced;
  });
});
