/**
 * Set-up shared by the withheld-key tests: replicas on memory storage (an "old" one speaks no protocol that takes a key
 * in parts, so a value over the link's frame limit is left out and withheld), links with an optional frame limit, and
 * everything closed after each test.
 */
import { afterEach, expect } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica, type Transport } from '../../lib/index.js';
import type { StorageAdapter, StorageTx } from '../../lib/storage.js';
import { until } from '../sync/support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { volatileStorage, type VolatileStorage } from '../support/volatile-storage.js';

/** The frame limit of a narrow link: a 30 KiB value does not cross it whole. */
export const FRAME = 16 * 1024;

const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

export async function replica(old = false, speaks: readonly number[] = SPEAKS_10, storage: StorageAdapter = memoryStorage()): Promise<Replica> {
  // Current replicas speak 10 (SPEAKS_10) unless told: a writer that met a peer at 11 tags, and an earlier-release peer
  // then gets none of its keys (item 6): these tests are of 10's path.
  const r = await openReplica({ storage, maxValueBytes: 64 * 1024, speaks });
  if (old) r.core.speaks = [5, 6, 7, 8, 9]; // takes no key in parts
  r.space('s');
  open.push(r);
  return r;
}

/** Closes `link` after the test. */
export function track(link: Link): Link {
  links.push(link);
  return link;
}

/** Links `a` and `b` (no periodic anti-entropy); `frame`: the link's frame limit (default: none). */
export function connect(a: Replica, b: Replica, frame?: number): Link[] {
  const [ta, tb] = frame === undefined ? pairTransports() : pairTransports({ maxFrameBytes: frame });
  const pair = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  links.push(...pair);
  return pair;
}

/**
 * The writer of `big` crashed and left `after` (what was durable): reopens it, links it again over `transport` (whose
 * other end is `old`'s link, dialing back), and checks that `big` is pending before and after the link, while `old`
 * never got it. The reopened replica and its link are closed after the test.
 */
export async function restartWithheld(after: StorageAdapter, transport: Transport, old: Replica): Promise<Replica> {
  const again = await openReplica({ storage: after, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  open.push(again);
  again.space('s');
  expect(again.pending, 'big pending after the restart').toBe(1);
  links.push(again.connect(transport, { antiEntropyInterval: 0 }));
  await until(() => old.status === 'synced' && again.status !== 'connecting', 'linked again');
  await new Promise((r) => setTimeout(r, 200));
  expect(await old.space('s').get('big'), 'the peer never got big').toBeUndefined();
  expect(again.pending, 'big still pending: no replica but the writer holds it').toBe(1);
  return again;
}

/** A volatile disk (durable at once) whose every store of the withheld keys first calls `onWithholdStore`. */
export function withholdDisk(onWithholdStore: (disk: VolatileStorage) => void): VolatileStorage {
  const disk = volatileStorage();
  const transact = disk.transact.bind(disk);
  disk.transact = (fn) =>
    transact((tx) =>
      fn({
        ...tx,
        setMeta(name: string, value: unknown) {
          if (name === 'withheld') onWithholdStore(disk);
          return tx.setMeta(name, value);
        },
      } as StorageTx),
    );
  return disk;
}

/**
 * The writer on `disk`, whose store of a withhold is not durable (autoFlush off), loses power: what was durable is
 * reopened by `restartWithheld` (the old process is let go first: its writes are flushed to a disk nobody reads).
 */
export async function crashWithheld(disk: VolatileStorage, writer: Replica, link: Link, transport: Transport, old: Replica): Promise<Replica> {
  const after = await disk.crashed();
  link.close();
  disk.flush();
  disk.autoFlush = true;
  await writer.close();
  const again = await restartWithheld(after, transport, old);
  expect(again.status).not.toBe('synced');
  return again;
}

/**
 * A writer of a 30 KiB `big` on a volatile disk (durable at once), linked to an old peer over one narrow pair of
 * transports (the peer's link lives on and dials again, so its next hello carries its cursor); returns once the writer
 * reported big too large for the link. Every store of the withheld keys first calls `onWithholdStore` (which may hold
 * the disk's durability back, or throw: the store fails). The writer is the caller's to crash and close.
 */
export async function withheldWriter(onWithholdStore: (disk: VolatileStorage) => void) {
  const disk = withholdDisk(onWithholdStore);
  const writer = await openReplica({ storage: disk, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
  const errors: unknown[] = [];
  writer.on('error', (e) => errors.push(e));
  await writer.space('s').put('big', 'x'.repeat(30 * 1024));
  const old = await replica(true); // takes no key in parts: big cannot cross the narrow link
  const [tw, to] = pairTransports({ maxFrameBytes: FRAME });
  links.push(old.connect(to, { antiEntropyInterval: 0, backoff: { base: 10, max: 50 } }));
  const link = writer.connect(tw, { antiEntropyInterval: 0 });
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
  return { disk, writer, errors, old, tw, link };
}

/**
 * `disk` whose next transaction, once `holdNext` was called, resolves only when its `release` is called: the record is
 * durable (`durable()` says when) and read by frames, but the write's change is not heard until then.
 */
export function holding<D extends VolatileStorage>(disk: D): D & { holdNext(): { release: () => void; durable: () => boolean } } {
  const transact = disk.transact.bind(disk);
  let hold: Promise<void> | undefined;
  let durable = false;
  disk.transact = async (fn) => {
    const h = hold;
    hold = undefined;
    const result = await transact(fn);
    durable = true;
    if (h) await h;
    return result;
  };
  return Object.assign(disk, {
    holdNext() {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      durable = false;
      return { release, durable: () => durable };
    },
  });
}

/**
 * `holder` (an instance holding big and small, pending) links to `old` over a narrow link: big is left out (reported to
 * `errors`), small taken, and the old peer's cursor passes big; the holder keeps big pending, and the link is closed.
 */
export async function holderWithholdsBig(holder: Replica, old: Replica, errors: readonly unknown[]): Promise<void> {
  const first = connect(holder, old, FRAME);
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
  await until(async () => (await old.space('s').get('small')) !== undefined, 'the peer got small');
  await until(() => holder.pending === 1, 'the holder keeps big pending');
  for (const l of first) l.close();
}
