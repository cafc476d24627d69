/**
 * disk-full 1743700184 (df23's soak of the family): c, restored to an old copy, re-identified while its disk was full. The
 * re-issue's transaction stored the new identity (applied, waiting for its group commit); a local write queued behind it
 * found the log moved and adopted the stored identity (local-write.ts mint → core.ts withStoredIdentity). The group
 * failed (STORAGE_FULL: the re-issue and the write with it, the applied state back to the durable one), but c kept the
 * failed identity in memory: its next writes minted under an id whose epoch record was stored nowhere.
 *
 * Here: the log's fsync is held (a write in another space waits for it), the re-identification's transaction is applied
 * and waits in the next group, a write of k2 runs behind it, and that group's log write fails. The replica must be back
 * at its durable identity, and a later write must name the id the storage holds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { IDENTITY_META } from '../../lib/identity.js';
import { openReplica, type Replica } from '../../lib/index.js';
import { faultyIo, tempDir } from '../fs/helpers.js';
import { failingLog } from './failing-log.js';
import { until } from '../sync/support.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

const storedId = async (r: Replica) => (await r.core.storage.getMeta<{ id: string }>(IDENTITY_META))?.id;
const idsOf = async (r: Replica, key: string) => ((await r.space('s').get(key))?.versions ?? []).map((v) => v.replicaId);

/**
 * A replica on a file storage whose re-identification's group commit fails with a write queued behind it (`produce`:
 * one that applies a record, or one that writes nothing), or with the identity read again meanwhile as a session's
 * hello reads it (`refresh`).
 */
async function failedReidentification(behind: 'produce' | 'nothing' | 'refresh') {
  const log = failingLog();
  const { dir, cleanup } = await tempDir('reidentify-failed-write');
  undo.push(cleanup);
  const c = await openReplica({ storage: fileStorage(dir, { io: faultyIo(log.faults) }) });
  undo.push(() => c.close());
  const errors: unknown[] = [];
  c.on('error', (e) => void errors.push(e));
  const events: Array<{ oldId: string; newId: string }> = [];
  c.core.events.on('reidentified', (e) => void events.push(e));
  await c.space('s').put('k1', 'before');
  const oldId = c.replicaId;

  log.hold();
  const other = c.space('o').put('x', 1).then(() => 'durable', () => 'failed'); // its fsync waits
  await until(() => log.state.gated > 0, "x's fsync waits");
  const reid = c.core.reidentify('a-peer').then(() => 'done', () => 'failed');
  await until(async () => (await storedId(c)) !== oldId, "the re-identification's transaction applied");
  const failedId = (await storedId(c))!;
  // Behind it: a write that finds the log moved reads the identity stored (applied, not durable yet).
  if (behind === 'refresh') await c.core.refreshIdentity();
  const k2 =
    behind === 'produce'
      ? c.space('s').put('k2', 'queued').then(() => 'durable', () => 'failed')
      : behind === 'nothing'
        ? c.core.write('s', 'k2', () => undefined).then(() => 'durable', () => 'failed')
        : Promise.resolve('failed');
  await until(async () => (behind === 'produce' ? (await idsOf(c, 'k2')).length > 0 : c.replicaId === failedId), 'k2 ran behind it');
  log.failAndRelease(); // the group of the re-issue and k2 fails
  expect(await reid).toBe('failed');
  expect(await k2).toBe('failed');
  await other;
  return { c, oldId, failedId, events, errors };
}

describe('a re-identification whose transaction fails', () => {
  it('leaves no trace: the replica writes on under the identity its storage holds', async () => {
    const { c, oldId, failedId } = await failedReidentification('produce');
    expect(await storedId(c), 'the storage rolled back').toBe(oldId);
    expect(c.replicaId, 'the failed identity is not kept in memory').toBe(oldId);
    expect(c.core.formerIds.has(failedId)).toBe(false);
    expect(c.core.formerIds.has(oldId)).toBe(false);
    await c.space('s').put('k3', 'after');
    expect(await idsOf(c, 'k3'), 'a later write names the stored id, whose epoch record the storage holds').toEqual([oldId]);
    // The re-identification, tried again, starts from the durable identity and re-issues what was written since.
    await c.core.reidentify('a-peer');
    const newId = c.replicaId;
    expect(newId).not.toBe(oldId);
    expect(newId).not.toBe(failedId);
    expect(await storedId(c)).toBe(newId);
    expect(await idsOf(c, 'k3')).toEqual([newId]);
    expect(c.core.formerIds.has(oldId)).toBe(true);
  });

  it('a queued write that wrote nothing (its update returned undefined) still lets the failed identity go', async () => {
    const { c, oldId } = await failedReidentification('nothing');
    expect(await storedId(c)).toBe(oldId);
    expect(c.replicaId).toBe(oldId);
    await c.space('s').put('k3', 'after');
    expect(await idsOf(c, 'k3')).toEqual([oldId]);
  });

  it('an identity a re-read took meanwhile (as a session hello does) goes with the transaction that failed', async () => {
    const { c, oldId, failedId } = await failedReidentification('refresh');
    expect(await storedId(c)).toBe(oldId);
    expect(c.replicaId).toBe(oldId);
    expect(c.core.formerIds.has(failedId)).toBe(false);
    await c.space('s').put('k3', 'after');
    expect(await idsOf(c, 'k3')).toEqual([oldId]);
  });
});
