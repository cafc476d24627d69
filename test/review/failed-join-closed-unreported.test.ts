/**
 * Review of df23 (session.ts `fail`, branch df23 8d49054): a session closed already is now marked failed, so nothing
 * queued behind a failed join is joined. But `fail` still returns before its error event once closed (on main as on
 * df23): a received frame whose join failed on a full disk, after the link dropped while it ran, is reported nowhere.
 * The same failure on an open link emits STORAGE_FULL. Nothing is lost (the frame is not acknowledged, the writer sends
 * it again); what is lost is the one signal the application gets that its storage refuses writes.
 */
import { describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { faultyIo, tempDir } from '../fs/helpers.js';
import { failingLog } from './failing-log.js';
import { until } from '../sync/support.js';
import { paired, value } from './paired.js';

const { undo, connect } = paired();
const codes = (errors: unknown[]) => errors.map((e) => (e as { code?: string }).code ?? String(e));

/** The peer's join of the writer's k1 waits for its log group; `closeFirst`: the link drops before that group fails. */
async function failedJoin(closeFirst: boolean): Promise<string[]> {
  const log = failingLog();
  const { dir, cleanup } = await tempDir('failed-join-closed');
  undo.push(cleanup);
  const peer = await openReplica({ storage: fileStorage(dir, { io: faultyIo(log.faults) }) });
  const writer = await openReplica({ storage: memoryStorage() });
  undo.push(() => writer.close(), () => peer.close());
  const errors: unknown[] = [];
  peer.on('error', (e) => errors.push(e));
  await writer.space('s').put('k0', 0);
  const first = connect(writer, peer);
  await until(async () => (await value(peer, 'k0')) === 0 && writer.status === 'synced' && peer.status === 'synced', 'synced');
  log.hold();
  const other = peer.space('o').put('x', 1).then(() => 'durable', () => 'failed'); // its fsync waits: k1 goes in the next group
  await until(() => log.state.gated > 0, "x's fsync waits");
  await writer.space('s').put('k1', 'one');
  await until(async () => (await value(peer, 'k1')) === 'one', "k1's frame joined (applied, waiting for its group)");
  if (closeFirst) for (const l of first) l.close();
  log.failAndRelease(); // the log write of k1's group fails
  await other;
  await until(async () => (await value(peer, 'k1')) === undefined, 'k1 rolled back');
  await new Promise((r) => setTimeout(r, 50)); // whatever reports the failure, it has by now
  return codes(errors);
}

describe('a received frame whose join failed on a full disk', () => {
  it('is reported on an open link', async () => {
    expect(await failedJoin(false)).toContain('STORAGE_FULL');
  });

  // session.ts `fail` returned before emitting once the session was closed (before this change: no event at all).
  it('is reported too when the link dropped while the join ran', async () => {
    expect(await failedJoin(true)).toContain('STORAGE_FULL');
  });
});
