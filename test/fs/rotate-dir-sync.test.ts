/**
 * A rotation (compaction's new segment) whose file was created but whose directory fsync failed: the file stays, empty.
 * Before, every later rotation opened the same name exclusively and failed with EEXIST until a reopen — no compaction
 * ever ran again and the log grew without bound while the replica went on. Now the next rotation takes that empty file
 * of its own number (log-writer.ts openSegment) and fsyncs the directory again; a file of that number holding bytes is
 * not the writer's, and the rotation refuses it, naming it, and leaves it as it is.
 * On the power-loss disk (power-loss-io.ts) the leftover's entry may survive a crash or not: either way the directory
 * opens with every acknowledged write (an empty last segment is where the next open appends). Seeded: ROTATE_SEED=<n>
 * ROTATE_RUNS=1 replays a crash the failure names.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import type { FileStorage } from '../../adapters/fs/file-storage.js';
import { segName } from '../../adapters/fs/snapshot.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { crashWays, ways } from './crash-ways.js';
import { errnoError, faultyIo, faultyStorages, putAt, segmentFiles, type Faults } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';
import { rec } from '../storage/contract.js';

beforeAll(loadHasher);

const WAYS = ways('ROTATE', 60);
const RUNS = WAYS.runs;

/** Each crash opens with `want`, takes a write (in its last segment, maybe the leftover) and opens again with it. */
const crashesKeep = (disk: PowerLossFs, tag: string, want: string[]) =>
  crashWays(disk, `rotate-${tag}`, WAYS, async (s) => {
    expect(await keys(s)).toEqual(want);
    await s.transact(putAt('after', 9));
    await s.close();
    await s.open();
    expect(await keys(s)).toEqual([...want, 'after'].sort());
  });

const storages = faultyStorages('rotate-dir-sync', { compactOnClose: false });
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
  await storages.cleanup();
});

/** A file storage on faultyIo (compactNow is the file storage's own). */
async function setup(faults: Faults): Promise<{ dir: string; s: FileStorage }> {
  const { dir, s } = await storages.setup(faults);
  return { dir, s: s as FileStorage };
}

/** The next directory fsync fails with EIO (once). */
function failNextDirSync(faults: Faults): () => boolean {
  let left = 1;
  faults.syncDir = () => (left > 0 ? (left--, errnoError('EIO', 'fsync')) : undefined);
  return () => left === 0;
}

async function keys(s: StorageAdapter): Promise<string[]> {
  return (await s.index('sp')).map((e) => e.key).sort();
}

describe("file storage: a rotation whose directory fsync failed", () => {
  it('leaves an empty segment file that the next rotation takes: compaction goes on, nothing is lost', async () => {
    const faults: Faults = {};
    const { dir, s } = await setup(faults);
    await s.transact(putAt('a', 1));
    const failed = failNextDirSync(faults);
    await expect(s.compactNow()).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('starting segment') });
    expect(failed(), "the rotation's directory fsync failed").toBe(true);
    expect((await segmentFiles(dir)).length, 'the new segment file was left').toBe(2);
    await s.transact(putAt('b', 2)); // still in the first segment
    await s.compactNow(); // before: EEXIST, and so every compaction after
    await s.transact(putAt('c', 3)); // in the segment the compaction started
    await s.compactNow();
    expect(await keys(s)).toEqual(['a', 'b', 'c']);
    await s.close();
    const again = fileStorage(dir);
    storages.track(() => again.close(), { first: true });
    await again.open();
    expect(await keys(again)).toEqual(['a', 'b', 'c']);
    expect(await again.get('sp', 'c')).toEqual(rec(3));
    expect(await again.getMeta('seq')).toBe(3);
  });

  it('refuses a file of the next number that holds bytes (not its own), names it, and leaves it as it is', async () => {
    const faults: Faults = {};
    const { dir, s } = await setup(faults);
    await s.transact(putAt('a', 1));
    const [only] = await segmentFiles(dir);
    const next = segName(Number(/log-(\d+)\.log$/.exec(only!)![1]) + 1);
    const foreign = Buffer.from('not a segment of this writer');
    await writeFile(join(dir, next), foreign);
    await expect(s.compactNow()).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining(next) });
    expect(await readFile(join(dir, next))).toEqual(foreign);
    await s.transact(putAt('b', 2)); // the writer goes on in its segment
    expect(await keys(s)).toEqual(['a', 'b']);
  });

  it(`on the power-loss disk: every crash after the failed rotation, and after the one that took its file, opens with what was acknowledged (${RUNS} crashes each)`, async () => {
    const disk = new PowerLossFs('rotate-dir-sync');
    const faults: Faults = {};
    const s = fileStorage(`${disk.root()}/data`, { io: faultyIo(faults, disk.io()), compactOnClose: false, onError: () => {} });
    cleanups.push(() => s.close().catch(() => {}));
    await s.open();
    await s.transact(putAt('a', 1));
    failNextDirSync(faults);
    await expect(s.compactNow()).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
    await s.transact(putAt('b', 2));
    await crashesKeep(disk, 'failed', ['a', 'b']);
    await s.compactNow();
    await s.transact(putAt('c', 3));
    await crashesKeep(disk, 'taken', ['a', 'b', 'c']);
  }, 120_000);
});
