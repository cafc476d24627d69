/**
 * A withhold stored under a newer record of its key than the one its frame left out (simulator seed withheld 21249,
 * SIM_SPEAKS=mixed: relay a counted k21 pending for good after its restarts though every other node held it).
 *
 * A frame left `big` (30 KiB) out on a narrow link to an old peer, so pending.ts stores that withhold with `big`'s entry
 * seq. Then `big` is written again (small): its record is applied and durable, but its change is not heard yet, when
 * another withhold stores the list again. The store stamped `big`'s items with that newer record's seq (`entryOf`: the
 * newest record applied, for a frame that read it before its change was heard), though the frame that left `big` out
 * read its log no further than the older record. Once the change was heard the withhold was released in memory (the
 * frame's log position lay below it: acks.ts `release`) and the peer's acknowledgement cleared `big`, but the stored
 * items stayed (their seq matched the key's entry, which is what tells a withhold still valid), and the next open
 * restored them: `big` withheld from the peer that holds it, pending for good (a user's `whenSynced` hangs). A crash
 * before the change was heard restored them the same way.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { openReplica, pairTransports, type StorageAdapter, type Transport } from '../../lib/index.js';
import { until } from '../sync/support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { FRAME, holding, replica, track } from './narrow-links.js';

const BIG = 'x'.repeat(30 * 1024);

/** A writer of `keys` (30 KiB each) on a holding disk, linked to an old peer over a narrow link that left them all out. */
async function leftOut(keys: string[]) {
  const disk = holding(volatileStorage());
  const writer = await openReplica({ storage: disk, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  const s = writer.space('s');
  const tooLarge: string[] = [];
  writer.on('error', (e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE' && tooLarge.push(e.message));
  for (const key of keys) await s.put(key, BIG);
  const old = await replica(true); // takes no key in parts
  const [tw, to] = pairTransports({ maxFrameBytes: FRAME });
  track(old.connect(to, { antiEntropyInterval: 0, backoff: { base: 10, max: 50 } }));
  const link = track(writer.connect(tw, { antiEntropyInterval: 0 }));
  await until(() => tooLarge.length >= keys.length, 'every key left out');
  await until(() => old.status === 'synced', 'the peer caught up');
  expect(writer.pending).toBe(keys.length);
  return { disk, writer, s, old, tw, link, tooLarge };
}

/** Runs `write` on the holding disk: returns once its record is durable, its change not heard until `release`. */
async function rewriteUnheard(disk: ReturnType<typeof holding>, write: () => Promise<unknown>) {
  const { release, durable } = disk.holdNext();
  const put = write();
  await until(durable, 'the rewrite durable');
  return { put, release };
}

/**
 * A writer whose `stuck` and `big` (both 30 KiB) a narrow link to an old peer left out; then `big` written small, its
 * record durable and its change not heard (until `release`), while a second old peer's catch-up leaves `stuck` out: a
 * fresh withhold, so the withheld keys are stored again meanwhile. `stuck` never crosses: it stays pending, and keeps
 * the acknowledged floor below `big`'s records (the next open reads them again).
 */
async function storedWhileUnheard() {
  const { disk, writer, s, old, tw, link, tooLarge } = await leftOut(['stuck', 'big']);
  const { put, release } = await rewriteUnheard(disk, () => s.put('big', 'small'));
  const other = await replica(true);
  const [tw2, to2] = pairTransports({ maxFrameBytes: FRAME });
  track(other.connect(to2, { antiEntropyInterval: 0 }));
  track(writer.connect(tw2, { antiEntropyInterval: 0 }));
  await until(async () => {
    const stored = await disk.getMeta<Array<[string, string, string]>>('withheld');
    return Array.isArray(stored) && stored.some(([, key, peer]) => key === 'stuck' && peer === other.replicaId);
  }, 'the withholds stored again, the second peer\'s with them');
  return { disk, writer, s, old, tw, link, release, put };
}

/** Opens the writer again on `storage`, links it to `old` over `transport`; returns it once the peer's acknowledgement from its cursor came. */
async function reopen(storage: StorageAdapter, transport: Transport, old: Awaited<ReturnType<typeof replica>>) {
  const again = await openReplica({ storage, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  again.space('s');
  const link = track(again.connect(transport, { antiEntropyInterval: 0 }));
  await until(() => old.status === 'synced' && again.status !== 'connecting', 'linked again');
  await until(async () => (await old.space('s').get('big'))?.value === 'small', 'the peer holds the small big');
  return { again, link };
}

describe('a withhold stored while a newer record of its key was not heard yet', () => {
  it('does not come back at the next open once the newer record reached the peer', async () => {
    const { disk, writer, s, old, tw, link, release, put } = await storedWhileUnheard();
    release();
    await put;
    await until(async () => (await old.space('s').get('big'))?.value === 'small', 'the peer got the small big');
    // The peer's next acknowledgement (of a later write) passes big's new entry.
    await s.put('tick', 1);
    await until(() => writer.pending === 1, 'big acknowledged: only stuck pending');

    // A clean close, and the writer opens again: big is held by the peer, and must not be pending again.
    link.close();
    await writer.close();
    const { again, link: next } = await reopen(await disk.crashed(), tw, old);
    const top = await again.core.storedTop();
    await until(() => again.core.acks.ackedUpTo('s') >= top, 'the peer acknowledged the log');
    expect(again.pending, 'only stuck pending: the peer holds big').toBe(1);
    next.close();
    await again.close();
  });

  it('does not come back after a crash before the newer record\'s change was heard', async () => {
    const { disk, writer, old, tw, link, release, put } = await storedWhileUnheard();
    const after = await disk.crashed();
    link.close();
    release();
    await put;
    await writer.close();
    // The small big is durable: the writer opens with it, sends it to the peer, and the peer's acknowledgement counts.
    const { again, link: next } = await reopen(after, tw, old);
    await until(() => again.pending === 1, 'only stuck pending: the peer holds big');
    next.close();
    await again.close();
  });
});

// The same race without a second store: the old peer's next session streamed the small big (its record durable, its
// change not heard yet) and the peer acknowledged it while big was still counted at its withheld entry, so that acknowledgement
// kept it. Hearing the change then released the withhold (the frame that left big out read the log below the new
// record), but nothing weighed the acknowledgement already come again: big stayed pending until a later write's
// acknowledgement (a user's `whenSynced` waited for one; a reconnect's resumed cursor, no higher, did not clear it).
describe('a withheld key whose newer record a peer acknowledged before its change was heard', () => {
  it('is not pending once the change is heard', async () => {
    const { disk, writer, s, old, tw, link } = await leftOut(['big']);
    link.close();
    const { put, release } = await rewriteUnheard(disk, () => s.put('big', 'small'));
    const at = await writer.core.storedTop();
    // The next session's catch-up reads the log from the peer's cursor: the small big's record, durable.
    track(writer.connect(tw, { antiEntropyInterval: 0 }));
    await until(async () => (await old.space('s').get('big'))?.value === 'small', 'the peer got the small big');
    await until(() => writer.core.acks.ackedUpTo('s') >= at, 'the peer acknowledged it');
    expect(writer.pending, 'the change not heard yet: big counted at its withheld entry').toBe(1);
    release();
    await put;
    await until(() => writer.pending === 0, 'big no longer pending');
    await writer.whenSynced();
    await writer.close();
  });
});
