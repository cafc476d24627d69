// File storage reads and writes racing compaction and failures (found by an adversarial review): shared batches, transactNow, rollback, batched reads.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage, nodeIo, type Io } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { errnoError, type Faults, faultyIo, faultyStorages, isLog, putAt as put, tempDir } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('races', { compactOnClose: false });
const setup = storages.setup;
afterEach(() => storages.cleanup());

/** A storage that stored 'a', then failed to write 'b' (ENOSPC, rolled back, not broken); the fault is gone. */
async function afterFailedWrite() {
  const faults: Faults = {};
  const { s } = await setup(faults);
  await s.transact(put('a', 1));
  faults.write = (path) => (isLog(path) ? errnoError('ENOSPC', 'write') : undefined);
  await expect(s.transact(put('b', 2))).rejects.toMatchObject({ code: 'STORAGE_FULL' });
  delete faults.write;
  return s;
}

describe('file storage write path', () => {
  it('a read-only transaction after a failed (rolled back, not broken) write succeeds', async () => {
    const s = await afterFailedWrite();
    // The storage is not broken (the failed write was truncated away): a read needs no disk write at all.
    expect(await s.transact((tx) => tx.get('sp', 'a'))).toEqual(rec(1));
  });

  it('a read-only transactNow after a failed write is not reported as failed', async () => {
    const s = await afterFailedWrite();
    const now = s.transactNow!((tx) => tx.get('sp', 'a'));
    expect(now?.value).toEqual(rec(1));
    if (now?.durable) await expect(now.durable).resolves.toBeUndefined();
  });
});

describe('batched and chained reads racing compaction', () => {
  it('a chained record being read while compaction stores it whole reads back right (not CORRUPT)', async () => {
    const { dir, cleanup } = await tempDir('review2-chain');
    storages.track(cleanup);
    const bytes = (...b: number[]) => new Uint8Array(b);
    const r1: KeyRecord = { vs: [{ r: 'A', n: 1, t: 1, c: 0, v: bytes(1, 2, 3) }], cc: { A: 1 }, seq: 1, h: '0000000000000001' };
    const r2: KeyRecord = {
      vs: [
        { r: 'A', n: 1, t: 1, c: 0, v: bytes(1, 2, 3) },
        { r: 'B', n: 1, t: 2, c: 0, v: bytes(4) },
      ],
      cc: { A: 1, B: 1 },
      seq: 2,
      h: '0000000000000002',
    };
    const first = fileStorage(dir, { compactOnClose: false });
    await first.open();
    await first.transact((tx) => tx.put('sp', 'k', r1));
    await first.transact((tx) => tx.put('sp', 'k', r2)); // stored chained to r1 (a reference to A:1)
    await first.close();

    // Reopen; hold back the first read of a log segment (the get's read of the chained record).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    const io: Io = {
      ...nodeIo,
      async open(path, flags) {
        const f = await nodeIo.open(path, flags);
        if (!/log-\d+\.log$/.test(path)) return f;
        return {
          ...f,
          read: async (b, o, l, p) => {
            if (!held) {
              held = true;
              await gate;
            }
            return f.read(b, o, l, p);
          },
          write: (b, o, l, p) => f.write(b, o, l, p),
          datasync: () => f.datasync(),
          truncate: (n) => f.truncate(n),
          size: () => f.size(),
          close: () => f.close(),
        };
      },
    };
    const s = fileStorage(dir, { compactOnClose: false, io });
    storages.track(() => s.close(), { first: true });
    held = true; // recovery reads pass
    await s.open();
    held = false;
    const got = s.get('sp', 'k');
    got.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    expect(held).toBe(true);
    await s.compactNow(); // reads k whole, writes the snapshot, re-points k at it (no longer chained)
    release();
    expect(await got).toEqual(r2);
  });
});

describe('batched record reads and the record cache', () => {
  it('a scan of more records than the cache holds reads each record once (the batched read is not thrown away)', async () => {
    const { dir, cleanup } = await tempDir('review2-scan');
    storages.track(cleanup);
    const first = fileStorage(dir, { compactOnClose: false });
    await first.open();
    for (let i = 0; i < 200; i++) await first.transact(put(`k${String(i).padStart(3, '0')}`, i + 1));
    await first.close();
    const faults: Faults = {};
    const s = fileStorage(dir, { compactOnClose: false, cacheRecords: 10, io: faultyIo(faults) });
    storages.track(() => s.close(), { first: true });
    await s.open();
    faults.reads = 0;
    const got = await s.scan('sp', { limit: 200 });
    expect(got.length).toBe(200);
    // 200 neighbouring records: a handful of runs. On main every record but the last 10 is read a second time,
    // one positioned read each, because the first pass's cache eviction drops what it just read.
    expect(faults.reads).toBeLessThan(20);
  });
});
