/**
 * A background compaction that failed (here: its rotation's new segment could not be created, a disk full once) is tried
 * again on a schedule (adapters/fs/compactor.ts: 1 s after the first failure, doubling to 60 s). Before, the next waited
 * until the log had grown to twice its size at the failure: a disk that filled once let a large log double (and replay
 * at every open) before compaction tried again. The schedule is read from performance.now, faked here: no test waits
 * for time, none asserts a duration. No retry storm either: before the schedule allows, puts start none.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FileStorage } from '../../adapters/fs/file-storage.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { errnoError, faultyStorages, segmentFiles, snapshotFiles, type Faults } from './helpers.js';
import { stat } from 'node:fs/promises';

beforeAll(loadHasher);

const errors: unknown[] = [];
const storages = faultyStorages('compact-retry', { compactOnClose: false, compactMinBytes: 64 << 10, compactRatio: 0, onError: (e) => void errors.push(e) });
afterEach(async () => {
  vi.useRealTimers();
  errors.length = 0;
  await storages.cleanup();
});

async function logBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await segmentFiles(dir)) n += (await stat(f).catch(() => ({ size: 0 }))).size; // gone meanwhile: compacted
  return n;
}

/** Real turns (file operations finish), boundedly, until `done`. */
async function until(done: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

describe('file storage: a background compaction that failed', () => {
  it('is tried again on a bounded schedule, long before the log doubles, and only once the schedule allows', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const faults: Faults = {};
    let opens = 0;
    let full = true;
    const { dir, s } = (await storages.setup(faults)) as { dir: string; s: StorageAdapter & FileStorage };
    // Every segment file after the first: the disk is full until `full` is cleared.
    faults.open = (path, flags) => (/log-\d+\.log$/.test(path) && flags === 'wx+' && (opens++, full) ? errnoError('ENOSPC', 'open') : undefined);
    let n = 0;
    const put = () => {
      const i = ++n;
      return s.transact((tx) => tx.put('sp', `k${i % 50}`, rec(i, 'x'.repeat(400))));
    };
    while (errors.length === 0 && n < 1000) await put();
    expect(await until(async () => errors.length > 0), 'a compaction failed').toBe(true);
    expect(errors[0]).toMatchObject({ message: expect.stringContaining('ENOSPC') });
    const atFailure = await logBytes(dir);
    expect(opens).toBe(1);
    full = false; // room again

    // Not yet: puts while the schedule holds start no compaction.
    for (let i = 0; i < 5; i++) await put();
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 5)); // what a put started runs
    expect(opens, 'no retry before the schedule allows').toBe(1);

    vi.advanceTimersByTime(60_000); // the longest wait of the schedule
    await put();
    expect(await until(async () => (await snapshotFiles(dir)).length > 0), 'compacted again').toBe(true);
    expect(errors).toHaveLength(1);
    expect(atFailure, 'the log was far from doubling').toBeGreaterThan(0);
    expect(await logBytes(dir)).toBeLessThan(2 * atFailure);
    for (let i = 1; i <= n; i++) if (i > n - 50) expect(await s.get('sp', `k${i % 50}`)).toEqual(rec(i, 'x'.repeat(400)));
  });
});
