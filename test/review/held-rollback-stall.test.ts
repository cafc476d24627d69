/**
 * A stream held back behind a key's durable record (StorageAdapter readLog) while the key's newer record waits for its
 * fsync — and that batch fails: its fsync (EIO: the log is broken until reopened) or its write (ENOSPC: truncated back,
 * the log takes later writes). The file storage rolls the batch back (the key's durable record is its current one
 * again) and the log reads on past it, but nothing told the stream: no change event comes for a transaction that
 * failed, and the stream pumps only on change events and acknowledgements. Before the fix the peer never got `o` (nor
 * `k`'s durable record) and the link never reached `synced`, however long it stayed up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { errnoError, faultyIo, isLog, tempDir, type Faults } from '../fs/helpers.js';
import { until } from '../sync/support.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

async function heldThenFailed(how: 'fsync' | 'write' | 'collect'): Promise<void> {
  let gate: Promise<void> | undefined;
  let open!: () => void;
  let failSync = false;
  let failWrite = false;
  let gated = 0;
  const faults: Faults = {
    beforeSync: (p) => (isLog(p) && gate ? (gated++, gate) : Promise.resolve()),
    datasync: (p) => (isLog(p) && failSync ? errnoError('EIO', 'fdatasync') : undefined),
    write: (p) => (isLog(p) && failWrite ? errnoError('ENOSPC', 'write') : undefined),
  };
  const { dir, cleanup } = await tempDir('held-rollback');
  undo.push(cleanup);
  const writer: Replica = await openReplica({ storage: fileStorage(dir, { io: faultyIo(faults) }) });
  const peer: Replica = await openReplica({ storage: memoryStorage() });
  writer.on('error', () => {}); // a broken log refuses the writer's later stores (floors, cursors)
  undo.push(() => writer.close(), () => peer.close());
  let links: Link[] = [];
  const connect = () => {
    const [ta, tb] = pairTransports();
    links.push(writer.connect(ta, { antiEntropyInterval: 0 }), peer.connect(tb, { antiEntropyInterval: 0 }));
  };
  undo.push(async () => links.forEach((l) => l.close()));
  connect();
  // Both hold a cursor into the other's log, so the reconnect streams from them (no anti-entropy run).
  await (await writer.space('s').put('first', 1)).synced;
  await peer.space('s').put('p', 1);
  await until(async () => (await writer.space('s').get('p')) !== undefined, "the writer got the peer's write");
  links.forEach((l) => l.close());
  links = [];
  if (how === 'collect') {
    // k: a third replica's tombstone, durable here (not the peer's own, so not an echo to it); collected below
    const third = await openReplica({ storage: memoryStorage() });
    undo.push(() => third.close());
    const [ta, tb] = pairTransports();
    const pair = [writer.connect(ta, { antiEntropyInterval: 0 }), third.connect(tb, { antiEntropyInterval: 0 })];
    await third.space('s').put('k', 'old');
    await (await third.space('s').delete('k')).synced;
    await until(async () => (await writer.space('s').get('k')) === undefined && (await writer.core.storage.get('s', 'k')) !== undefined, 'the writer holds the tombstone');
    pair.forEach((l) => l.close());
    await new Promise((r) => setTimeout(r, 5)); // the tombstone is older than a grace of 0
  } else await writer.space('s').put('k', 'old'); // durable
  await writer.space('s').put('o', 'other'); // durable
  gate = new Promise((r) => (open = r));
  // 'write': a group (z) waits for its fsync, and k's rewrite queues behind it; its write will fail
  const before = how === 'write' ? writer.space('s').put('z', 'zed') : undefined;
  if (before) await until(() => gated > 0, "z's fsync waits");
  const rewrite = (how === 'collect' ? writer.core.collectTombstones(0) : writer.space('s').put('k', 'new')).then(
    () => 'durable',
    () => 'failed',
  );
  await new Promise((r) => setTimeout(r, 20));
  connect();
  await until(() => writer.status !== 'offline' && peer.status !== 'offline', 'the link is up');
  await new Promise((r) => setTimeout(r, 500)); // past every deferred ACK (ACK_LATEST is 200 ms: ack-policy.ts)
  expect(await peer.space('s').get('o'), 'held behind k (sanity: the stream waits)').toBeUndefined();
  if (how !== 'write') failSync = true;
  else failWrite = true;
  gate = undefined;
  open();
  expect(await rewrite).toBe('failed');
  if (before) await before; // z, in the group before, is durable
  failWrite = false;
  const k = how === 'collect' ? (r?: { vs: unknown[] }) => r?.vs.length : (r?: { value: unknown }) => r?.value;
  const kOf = async (r: Replica) => (how === 'collect' ? k((await r.core.storage.get('s', 'k')) as never) : k((await r.space('s').get('k')) as never));
  const kOld = how === 'collect' ? 1 : 'old';
  expect(await kOf(writer), 'rolled back').toBe(kOld);
  await until(async () => (await peer.space('s').get('o')) !== undefined, 'the peer got o', 2000).catch(() => {});
  expect({ o: (await peer.space('s').get('o'))?.value, k: await kOf(peer) }).toEqual({ o: 'other', k: kOld });
  await until(() => writer.status === 'synced' && writer.pending === 0, 'the link settles');
}

describe('a held stream whose held batch fails', () => {
  it('its fsync (EIO): reads on past the rolled-back key; the peer gets the durable log and the link settles', () => heldThenFailed('fsync'));
  it('its write (ENOSPC, behind a group waiting for its fsync): likewise', () => heldThenFailed('write'));
  it('a tombstone collection whose fsync fails (EIO): likewise', () => heldThenFailed('collect'));
});
