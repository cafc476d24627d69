/**
 * The log writer's report of a group throwing: file-storage's `durable` (its bookkeeping: the entries pointed at the
 * file, the cache) or `failed` (the rollback) — no input is known to do it; the throw is injected into what they call.
 * Before, the writer's loop failed only the batches still queued: the group in hand was never settled (its puts waited
 * for ever), and a `failed` hook throwing again there escaped the loop (drain, and so close, rejected). Now every
 * transaction settles — those of a group on disk resolve (they are durable), those of a failed group reject — the
 * writer refuses further writes until a reopen (memory may not match the disk any more), close returns, and a reopen
 * reads back exactly what was acknowledged.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { FileStorage } from '../../adapters/fs/file-storage.js';
import { SpaceIndex } from '../../adapters/fs/keyspace.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { errnoError, faultyStorages, isLog, putAt, settled, type Faults } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('hook-throw', { compactOnClose: false });
afterEach(async () => {
  vi.restoreAllMocks();
  await storages.cleanup();
});

const outcome = settled;

/** `method` of `proto` throwing on its calls numbered in `which` (counted from 1), else as it is. */
function throwsOn(proto: object, method: string, which: (n: number) => boolean): void {
  const original = (proto as Record<string, (...a: unknown[]) => unknown>)[method]!;
  let n = 0;
  vi.spyOn(proto as Record<string, (...a: unknown[]) => unknown>, method).mockImplementation(function (this: unknown, ...args: unknown[]) {
    if (which(++n)) throw new Error(`injected: ${method} (call ${n})`);
    return original.apply(this, args);
  });
}

async function reopenedKeys(dir: string): Promise<string[]> {
  vi.restoreAllMocks();
  const again = fileStorage(dir, { compactOnClose: false });
  storages.track(() => again.close(), { first: true });
  await again.open();
  const keys = (await again.index('sp')).map((e) => e.key).sort();
  await again.close();
  return keys;
}

const REOPEN = expect.stringContaining('reopen');

describe("file storage: the log writer's report of a group throwing", () => {
  it('durable, before it settled the group: its puts resolve (they are on disk), later writes are refused until a reopen', async () => {
    const { dir, s } = await storages.setup({});
    await s.transact(putAt('a', 1));
    throwsOn(FileStorage.prototype, 'remember', (n) => n === 1);
    const b = s.transact(putAt('b', 2));
    const c = s.transact(putAt('c', 3)); // queued behind b's group, or in it
    expect(await outcome(b), 'the put of the group whose report threw').toBe('resolved');
    expect(await outcome(c), 'a put after it').not.toBe('never');
    await expect(s.transact(putAt('d', 4))).rejects.toMatchObject({ message: REOPEN });
    expect(await outcome(s.close()), 'close').toBe('resolved');
    const kept = await reopenedKeys(dir);
    expect(kept).toEqual((await outcome(c)) === 'resolved' ? ['a', 'b', 'c'] : ['a', 'b']);
  });

  it('durable, throwing part way through its entries: every put of the group is whole — acknowledged, read, and in the log a sync streams', async () => {
    const { dir, s } = await storages.setup({});
    await s.transact(putAt('a', 1));
    // one group of four puts; the cache's bookkeeping throws at the second (after the first entry is pointed at the file)
    throwsOn(FileStorage.prototype, 'remember', (n) => n === 2);
    const group = s.transact((tx) => {
      for (const [i, k] of ['b', 'c', 'd', 'e'].entries()) tx.put('sp', k, rec(2 + i));
    });
    expect(await outcome(group), 'the group is on disk').toBe('resolved');
    for (const [i, k] of ['b', 'c', 'd', 'e'].entries()) expect(await s.get('sp', k), k).toEqual(rec(2 + i));
    const logged = (await s.readLog('sp', 0, 10)).map(([k]) => k);
    expect(logged, 'the log a peer is streamed holds every acknowledged put').toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await s.readLog('sp', 1, 10)).map(([k]) => k)).toEqual(['b', 'c', 'd', 'e']);
    await expect(s.transact(putAt('f', 9))).rejects.toMatchObject({ message: REOPEN });
    expect(await outcome(s.close()), 'close').toBe('resolved');
    expect(await reopenedKeys(dir)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  /** 'a' written, then the rollback set to throw at its first restore and the next group's write to fail (ENOSPC, once). */
  async function rollbackThrowsOnce(): Promise<{ dir: string; s: StorageAdapter; faults: Faults }> {
    const faults: Faults = {};
    const { dir, s } = await storages.setup(faults);
    await s.transact(putAt('a', 1));
    throwsOn(SpaceIndex.prototype, 'restore', (n) => n === 1);
    let once = true;
    faults.write = (path) => (isLog(path) && once ? ((once = false), errnoError('ENOSPC', 'write')) : undefined);
    return { dir, s, faults };
  }

  it('failed, before it settled the group: its puts reject, later writes are refused until a reopen, nothing of it is kept', async () => {
    const { dir, s, faults } = await rollbackThrowsOnce();
    const b = s.transact(putAt('b', 2));
    expect(await outcome(b), 'the put of the failed group').toBe('rejected');
    delete faults.write;
    await expect(s.transact(putAt('d', 4))).rejects.toMatchObject({ message: REOPEN });
    expect(await outcome(s.close()), 'close').toBe('resolved');
    expect(await reopenedKeys(dir)).toEqual(['a']);
  });

  it('failed, the rollback throwing part way: no read until the reopen shows a write reported failed', async () => {
    const { dir, s, faults } = await rollbackThrowsOnce();
    // one group: 'a' replaced and 'b' added; the rollback (last write first) throws at 'b', 'a' never restored
    const failed = s.transact((tx) => {
      tx.put('sp', 'a', rec(5));
      tx.put('sp', 'b', rec(6));
    });
    expect(await outcome(failed), 'the group reported failed').toBe('rejected');
    delete faults.write;
    const shown = async (read: () => Promise<unknown>): Promise<unknown> => read().catch((e: unknown) => (e as Error).message);
    expect(await shown(() => s.get('sp', 'a')), 'a').not.toEqual(rec(5));
    expect(await shown(() => s.get('sp', 'b')), 'b').not.toEqual(rec(6));
    const index = await shown(() => s.index('sp'));
    if (Array.isArray(index)) expect(index.map((e: { key: string }) => e.key)).toEqual(['a']);
    const scanned = await shown(() => s.scan('sp', { limit: 10 }));
    if (Array.isArray(scanned)) expect(scanned).toEqual([['a', rec(1)]]);
    const logged = await shown(() => s.readLog('sp', 0, 10));
    if (Array.isArray(logged)) expect(logged).toEqual([['a', rec(1)]]);
    expect(await outcome(s.close()), 'close').toBe('resolved');
    expect(await reopenedKeys(dir)).toEqual(['a']);
    const again = fileStorage(dir, { compactOnClose: false });
    storages.track(() => again.close(), { first: true });
    await again.open();
    expect(await again.get('sp', 'a'), 'the acknowledged write, after the reopen').toEqual(rec(1));
    await again.close();
  });

  it('failed, throwing on every call (also for the batches queued behind): every put settles, close returns', async () => {
    const faults = {} as Parameters<typeof storages.setup>[0];
    const { dir, s } = await storages.setup(faults);
    await s.transact(putAt('a', 1));
    throwsOn(SpaceIndex.prototype, 'restore', () => true);
    let once = true;
    faults.write = (path) => (isLog(path) && once ? ((once = false), errnoError('ENOSPC', 'write')) : undefined);
    const puts = ['b', 'c', 'd', 'e'].map((k, i) => s.transact(putAt(k, 2 + i)));
    for (const p of puts) expect(await outcome(p)).not.toBe('never');
    expect(await outcome(puts[0]!)).toBe('rejected');
    delete faults.write;
    await expect(s.transact(putAt('f', 9))).rejects.toMatchObject({ message: REOPEN });
    expect(await outcome(s.close()), 'close').toBe('resolved');
    const kept = await reopenedKeys(dir);
    // what resolved is kept, what rejected is not
    const resolved: string[] = [];
    for (const [i, p] of puts.entries()) if ((await outcome(p)) === 'resolved') resolved.push(['b', 'c', 'd', 'e'][i]!);
    expect(kept).toEqual(['a', ...resolved]);
  });
});
