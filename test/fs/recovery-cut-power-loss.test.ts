/**
 * Recovery cuts a torn tail back (recovery.ts), then the writer appends after the cut; the power is lost before the first
 * new group's fsync, and after it. On the power-loss disk (power-loss-io.ts) an unsynced cut may be undone: the torn
 * group's bytes would come back behind the new group's frame — a torn group of two whole frames and a third cut short
 * leaves, behind a shorter new frame of the same group number, a whole frame of a group that is not the one after the
 * last complete one, which recovery takes for damage (CORRUPT). Recovery fsyncs its cut before the open returns, so the
 * cut is never undone: these pass on main, and fail with that fsync taken out (checked: 'CORRUPT' within the first
 * crashes). The moment after the new group's fsync cannot fail even so: fdatasync makes the file's whole state durable,
 * the cut with it. Seeded: RECUT_SEED=<n> RECUT_RUNS=1 replays a crash the failure names.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageAdapter, StorageTx } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { crashWays, ways } from './crash-ways.js';
import { faultyIo, holdSyncs, isLog, putAt, type Faults } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

beforeAll(loadHasher);

const WAYS = ways('RECUT', 100);
const RUNS = WAYS.runs;

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** One transaction of 8 192 puts: its batch takes no more (batch.ts), so the next one is a frame of its own. */
const FULL = 8192;
const fullBatch = (tag: string) => (tx: StorageTx) => {
  for (let i = 0; i < FULL; i++) tx.put('sp', `${tag}${i}`, rec(100 + i));
};

async function keys(s: StorageAdapter): Promise<string[]> {
  return (await s.index('sp')).map((e) => e.key).sort();
}

/**
 * A disk whose log holds 'a' (group 1) and a torn group 2: two whole frames (full batches written ahead) and the last
 * one cut short — what a crash in the middle of that group's write leaves, made durable.
 */
async function tornDisk(): Promise<PowerLossFs> {
  const disk = new PowerLossFs('recut');
  const dir = `${disk.root()}/data`;
  const s = fileStorage(dir, { io: disk.io(), compactOnClose: false });
  await s.open();
  await s.transact(putAt('a', 1));
  await Promise.all([s.transact(fullBatch('x')), s.transact(fullBatch('z')), s.transact(putAt('y', 2))]);
  await s.close();
  const io = disk.io();
  const [log] = (await io.readdir(dir)).filter((n) => isLog(n));
  const f = await io.open(`${dir}/${log}`, 'r+');
  await f.truncate((await f.size()) - 10);
  await f.datasync();
  await f.close();
  return disk;
}

describe("file storage: recovery's cut of a torn tail, then a new group, then the power lost", () => {
  it(`before and after the new group's fsync: every crash opens, with 'a', nothing of the torn group (${RUNS} crashes each)`, async () => {
    const disk = await tornDisk();
    const faults: Faults = {};
    const s = fileStorage(`${disk.root()}/data`, { io: faultyIo(faults, disk.io()), compactOnClose: false });
    cleanups.push(() => s.close().catch(() => {}));
    await s.open(); // recovery cuts the torn group 2 back
    expect(await keys(s)).toEqual(['a']);
    // the first new group (number 2 again: the one after the last complete one), its fsync held
    const g = holdSyncs(faults, isLog);
    cleanups.push(async () => g.release());
    const c = s.transact(putAt('c', 3));
    await g.entered;
    await crashWays(disk, 'recut-before', WAYS, async (after) => {
      const found = await keys(after);
      expect(found.filter((k) => k !== 'c'), 'nothing of the torn group').toEqual(['a']);
      expect(await after.get('sp', 'a')).toEqual(rec(1));
    });
    g.release();
    await c;
    delete faults.beforeSync;
    await crashWays(disk, 'recut-after', WAYS, async (after) => {
      expect(await keys(after)).toEqual(['a', 'c']);
      expect(await after.get('sp', 'c')).toEqual(rec(3));
    });
  }, 180_000);
});
