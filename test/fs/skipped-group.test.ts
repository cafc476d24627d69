/**
 * A directory the writer of an earlier release left (before f52d6bb): a group whose write failed was cut back and its
 * number kept, so the group after it is two past the last complete one. A crash in that group (its first frame torn,
 * its later frames intact) must open as a torn tail — nothing of that group was acknowledged — not as damage: an app
 * upgrading opens what the earlier release wrote, every acknowledged write readable.
 * - built the way that writer numbered its groups (the group number skipped after the failure, on the simulated disk,
 *   each moment crashed in many seeded ways: SKIP_SEED=<n> SKIP_RUNS=1 replays one);
 * - built frame by frame (the group's first frame's header lost, or its payload cut);
 * - and damage stays damage: a bad frame whose header names a group before the one that follows it.
 */
import { open as openFile, readFile, stat } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { change, encodeBatch, FOLLOWS, framePieces, LAST_IN_GROUP, MAGIC } from '../../adapters/fs/frame.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageAdapter, StorageTx } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { crashWays as crashWaysOf, ways } from './crash-ways.js';
import { errnoError, faultyIo, holdSyncs, isLog, putAt, segmentFiles, tempDir, type Faults } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

beforeAll(loadHasher);

const WAYS = ways('SKIP', 150);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const FULL = 8192;
const fullBatch = (tx: StorageTx) => {
  for (let i = 0; i < FULL; i++) tx.put('sp', `x${i}`, rec(100 + i));
};

async function keys(s: StorageAdapter): Promise<string[]> {
  return (await s.index('sp')).map((e) => e.key).sort();
}

/**
 * A storage whose writer numbers groups as the earlier release did: a failed group's number is not given back — and it
 * marks no group as following another (frame.ts FOLLOWS came after): its segment is taken as holding none.
 */
function skipAfterFailure(s: ReturnType<typeof fileStorage>): void {
  const w = (s as unknown as { writer: { nextGroup: number; segment: { frames: number } } }).writer;
  w.nextGroup++;
  w.segment.frames = 0;
}

/** A file storage on a fresh simulated disk, with faults to inject, open (closed at cleanup). */
async function onDisk(tag: string): Promise<{ disk: PowerLossFs; faults: Faults; s: ReturnType<typeof fileStorage> }> {
  const disk = new PowerLossFs(tag);
  const faults: Faults = {};
  const s = fileStorage(`${disk.root()}/data`, { io: faultyIo(faults, disk.io()), compactOnClose: false, onError: () => {} });
  cleanups.push(() => s.close().catch(() => {}));
  await s.open();
  return { disk, faults, s };
}

/**
 * The next group — a full batch written ahead and 'y' after it — in flight, its fsync held: the power fails before it,
 * in many seeded ways; each crash must open and pass `check`.
 */
async function crashTheNextGroup(disk: PowerLossFs, faults: Faults, s: StorageAdapter, tag: string, check: (after: StorageAdapter) => Promise<void>): Promise<void> {
  const held = holdSyncs(faults, isLog);
  cleanups.push(async () => held.release());
  const full = s.transact(fullBatch);
  const y = s.transact(putAt('y', 9000));
  await held.entered;
  await crashWaysOf(disk, tag, WAYS, check);
  held.release();
  await Promise.all([full, y]);
}

describe('file storage: a directory whose group numbers skip a failed group (an earlier release)', () => {
  it(`the group after the failed one torn by a crash opens as a torn tail (${WAYS.runs} crashes)`, async () => {
    const { disk, faults, s } = await onDisk('skip');
    await s.transact(putAt('a', 1));
    let once = true;
    faults.write = (path) => (isLog(path) && once ? ((once = false), errnoError('ENOSPC', 'write')) : undefined);
    await expect(s.transact(putAt('b', 2))).rejects.toMatchObject({ code: 'STORAGE_FULL' });
    delete faults.write;
    skipAfterFailure(s);
    await crashTheNextGroup(disk, faults, s, 'skip', async (after) => {
      expect(await after.get('sp', 'a')).toEqual(rec(1));
      const found = await keys(after);
      expect(found.length === 1 || found.length === FULL + 2, `${found.length} keys`).toBe(true);
      expect(found).not.toContain('b');
      // and the reopened writer goes on after it
      await after.transact(putAt('c', 9500));
      expect(await after.get('sp', 'c')).toEqual(rec(9500));
    });
  }, 120_000);

  it(`the same with today's writer: the first group of a segment a compaction started, torn (${WAYS.runs} crashes)`, async () => {
    // the groups go on numbering across the rotation; the older segments are gone once the snapshot is durable, so
    // recovery has no complete group before the torn one to count from
    const { disk, faults, s } = await onDisk('skip-rotated');
    await s.transact(putAt('a', 1));
    await s.transact(putAt('b', 2));
    await s.compactNow();
    await crashTheNextGroup(disk, faults, s, 'skip-rotated', async (after) => {
      expect(await after.get('sp', 'b')).toEqual(rec(2));
      const found = await keys(after);
      expect(found.length === 2 || found.length === FULL + 3, `${found.length} keys`).toBe(true);
    });
  }, 120_000);

  /** A file storage in a fresh directory, open, 'a' put (group 1); its segment. */
  async function openedWithA(tag: string): Promise<{ dir: string; s: StorageAdapter; seg: string }> {
    const { dir, cleanup } = await tempDir(tag);
    cleanups.push(cleanup);
    const s = fileStorage(dir, { compactOnClose: false });
    await s.open();
    await s.transact(putAt('a', 1));
    const [seg] = await segmentFiles(dir);
    return { dir, s, seg: seg! };
  }

  /** 'a' in group 1 (written by the storage), then a group numbered 3 of two frames appended as that writer did. */
  async function withGroupThree(): Promise<{ dir: string; seg: string; first: number; second: number }> {
    const { dir, s, seg } = await openedWithA('skip');
    await s.close();
    const first = (await stat(seg)).size;
    const one = Buffer.concat(framePieces(encodeBatch([change('sp', 'p', rec(5))], new Map()), 3, 0));
    const two = Buffer.concat(framePieces(encodeBatch([change('sp', 'q', rec(6))], new Map()), 3, LAST_IN_GROUP));
    const f = await openFile(seg, 'r+');
    await f.write(Buffer.concat([one, two]), 0, one.length + two.length, first);
    await f.close();
    return { dir, seg, first, second: first + one.length };
  }

  async function keysAfterOpen(dir: string): Promise<string[]> {
    const s = fileStorage(dir, { compactOnClose: false });
    await s.open();
    try {
      return await keys(s);
    } finally {
      await s.close();
    }
  }

  async function zero(path: string, at: number, length: number): Promise<void> {
    const f = await openFile(path, 'r+');
    await f.write(Buffer.alloc(length), 0, length, at);
    await f.close();
  }

  it("the first frame's header lost (zeros), the last frame intact: a torn tail, cut where the group began", async () => {
    const { dir, seg, first, second } = await withGroupThree();
    await zero(seg, first, second - first);
    expect(await keysAfterOpen(dir)).toEqual(['a']);
    expect((await stat(seg)).size).toBe(first);
  });

  it("the first frame's payload lost, its header there (naming group 3): a torn tail", async () => {
    const { dir, seg, first, second } = await withGroupThree();
    await zero(seg, first + 24, second - first - 24);
    expect(await keysAfterOpen(dir)).toEqual(['a']);
    expect((await stat(seg)).size).toBe(first);
  });

  it('the whole group there: read as written (a skipped number between complete groups was always read)', async () => {
    const { dir } = await withGroupThree();
    expect(await keysAfterOpen(dir)).toEqual(['a', 'p', 'q']);
  });

  it("damage stays damage: a bad frame whose header names group 2, a valid frame of group 3 after it — 'CORRUPT'", async () => {
    const { dir, seg, first } = await withGroupThree();
    // the first frame renumbered 2 (and flagged last): the frame its header describes, its payload damaged
    const bytes = await readFile(seg);
    expect(bytes.indexOf(MAGIC, first)).toBe(first);
    const f = await openFile(seg, 'r+');
    const header = Buffer.alloc(8);
    header.writeUInt32LE(2, 0);
    header.writeUInt32LE(LAST_IN_GROUP, 4);
    await f.write(header, 0, 8, first + 12);
    await f.close();
    const size = (await stat(seg)).size;
    await expect(keysAfterOpen(dir)).rejects.toMatchObject({ code: 'CORRUPT' });
    expect((await stat(seg)).size, 'nothing cut').toBe(size);
  });

  describe("this release's directories: a group that follows another of its segment is marked (frame.ts FOLLOWS)", () => {
    /** 'a', 'b', 'c' put one group each by this release's writer; the offsets of b's and c's frames. */
    async function threeGroups(): Promise<{ dir: string; seg: string; b: number; c: number }> {
      const { dir, s, seg } = await openedWithA('follows');
      const b = (await stat(seg)).size;
      await s.transact(putAt('b', 2));
      const c = (await stat(seg)).size;
      await s.transact(putAt('c', 3));
      await s.close();
      return { dir, seg, b, c };
    }

    it("an acknowledged group whose header does not read, a later acknowledged group after it: 'CORRUPT' naming both, nothing cut", async () => {
      const { dir, seg, b, c } = await threeGroups();
      const bytes = await readFile(seg);
      expect(bytes.readUInt32LE(c + 16) & FOLLOWS, "c's group is marked").toBe(FOLLOWS);
      await zero(seg, b, 24); // b's frame header lost: before, read as a torn first frame of c's group, and b and c dropped
      const size = (await stat(seg)).size;
      await expect(keysAfterOpen(dir)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/commit group 3 at offset \d+, written after group 2/) });
      expect((await stat(seg)).size, 'nothing cut').toBe(size);
    });

    it('a torn first frame of the group after the last complete one, its marked last frame intact: still a torn tail', async () => {
      const { dir, seg, c } = await threeGroups();
      // c's group (3) as a crash leaves it when the writer wrote two frames: the first's header lost, the last intact
      const one = Buffer.concat(framePieces(encodeBatch([change('sp', 'p', rec(5))], new Map()), 3, FOLLOWS));
      const two = Buffer.concat(framePieces(encodeBatch([change('sp', 'q', rec(6))], new Map()), 3, FOLLOWS | LAST_IN_GROUP));
      const f = await openFile(seg, 'r+');
      await f.truncate(c);
      await f.write(Buffer.concat([one, two]), 0, one.length + two.length, c);
      await f.close();
      await zero(seg, c, 24);
      expect(await keysAfterOpen(dir)).toEqual(['a', 'b']);
      expect((await stat(seg)).size).toBe(c);
    });
  });
});
