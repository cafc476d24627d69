// Writes run at once (transactNow) and transactions sharing a batch (one frame): durability is unchanged — each
// resolves only after the fsync of its frame, a failure rejects and rolls back every transaction of the batch and
// after it, and a reopen reads back exactly what was acknowledged.
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { MAGIC } from '../../adapters/fs/frame.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import { errnoError, type Faults, faultyStorages, isLog, putAt as put, segmentFiles } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('now', { compactOnClose: false });
const setup = storages.setup;
afterEach(() => storages.cleanup());

async function frames(dir: string): Promise<number> {
  let n = 0;
  for (const f of await segmentFiles(dir)) {
    const bytes = await readFile(f);
    for (let i = bytes.indexOf(MAGIC); i >= 0; i = bytes.indexOf(MAGIC, i + 1)) n++;
  }
  return n;
}

describe('file storage: writes at once, batches shared by transactions', () => {
  it('transactNow applies at once and resolves `durable` only after the fsync; readLog shows the entry only then', async () => {
    let release!: () => void;
    let gate: Promise<void> | undefined = new Promise((r) => (release = r));
    const { s } = await setup({ beforeSync: (p) => (isLog(p) && gate ? gate : Promise.resolve()) });
    const now = s.transactNow!(put('a', 1));
    expect(now?.value).toBe(1);
    let durable = false;
    void now!.durable!.then(() => (durable = true));
    // the next transaction (at once, or queued) sees it; the log and the promise wait for the disk
    expect(s.transactNow!((tx) => tx.get('sp', 'a'))?.value).toEqual(rec(1));
    expect(await s.get('sp', 'a')).toEqual(rec(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(durable).toBe(false);
    expect(await s.readLog('sp', 0, 10)).toEqual([]);
    gate = undefined;
    release();
    await now!.durable;
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a']);
  });

  it('transactNow runs nothing while a transaction is queued, or when a record it reads is only on disk', async () => {
    const { dir, s } = await setup({});
    await s.transact(put('a', 1));
    const queued = s.transact(put('b', 2));
    expect(s.transactNow!(put('c', 3))).toBeUndefined();
    await queued;
    await s.close();
    const again = fileStorage(dir, { cacheRecords: 0, compactOnClose: false });
    storages.track(() => again.close(), { first: true });
    await again.open();
    let ran = false;
    expect(again.transactNow!((tx) => ((ran = true), tx.get('sp', 'a')))).toBeUndefined(); // 'a' is on disk only
    expect(ran).toBe(true);
    expect(again.transactNow!(put('c', 3))).toMatchObject({ value: 3 }); // a new key needs no read from disk
    expect(await again.transact((tx) => tx.get('sp', 'a'))).toEqual(rec(1));
    expect(await again.get('sp', 'c')).toEqual(rec(3));
  });

  it('transactions committed while the writer is busy share frames; a reopen reads every one back', async () => {
    const { dir, s } = await setup({});
    const n = 500;
    const done: Array<Promise<unknown>> = [];
    for (let i = 1; i <= n; i++) {
      const now = s.transactNow!(put(`k${i}`, i));
      done.push(now?.durable ?? s.transact(put(`k${i}`, i)));
    }
    await Promise.all(done);
    expect(await frames(dir)).toBeLessThan(n / 10);
    await s.close();
    const again = fileStorage(dir);
    storages.track(() => again.close(), { first: true });
    await again.open();
    expect((await again.index('sp')).length).toBe(n);
    expect(await again.get('sp', 'k321')).toEqual(rec(321));
    expect(await again.getMeta('seq')).toBe(n);
  });

  it('a failed write rejects every transaction of its batch and after it, and rolls all of them back', async () => {
    const faults: Faults = {};
    const { dir, s } = await setup(faults);
    await s.transact(put('a', 1));
    faults.write = (path) => (isLog(path) ? errnoError('ENOSPC', 'write') : undefined);
    const results = [s.transactNow!(put('b', 2))!.durable!, s.transactNow!(put('c', 3))!.durable!, s.transact(put('d', 4))];
    for (const r of await Promise.allSettled(results)) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_FULL' });
    }
    expect((await s.index('sp')).map((e) => e.key)).toEqual(['a']);
    expect(await s.getMeta('seq')).toBe(1);
    delete faults.write;
    await s.transactNow!(put('e', 2))!.durable;
    await s.close();
    const again = fileStorage(dir);
    storages.track(() => again.close(), { first: true });
    await again.open();
    expect((await again.index('sp')).map((e) => e.key).sort()).toEqual(['a', 'e']);
    expect(await again.getMeta('seq')).toBe(2);
  });
});
