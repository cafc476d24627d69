/**
 * A compaction's `then` (compactor.ts: run by the log writer once it switched to the new segment) throwing — no input is
 * known to do it; the throw is injected into building the snapshot's view (SpaceIndex.materializeAll). The compaction
 * is reported failed (as the compaction's failure: before, as the new segment's start failing, which it did not) while
 * writes go on in the new segment. Whatever a crash then leaves (the simulated disk,
 * power-loss-io.ts, crashed many seeded ways: THEN_SEED=<n> THEN_RUNS=1 replays one), the directory opens with every
 * acknowledged write, from before the rotation and after it; a later compaction and a clean reopen keep them too.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { SpaceIndex } from '../../adapters/fs/keyspace.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { crashWays, ways } from './crash-ways.js';
import { faultyIo, putAt, type Faults } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

beforeAll(loadHasher);

const WAYS = ways('THEN', 100);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function keys(s: StorageAdapter): Promise<string[]> {
  return (await s.index('sp')).map((e) => e.key).sort();
}

describe("file storage: a compaction's then throwing after the writer switched segments", () => {
  it(`the compaction fails, writes go on in the new segment, and a crash keeps every acknowledged write (${WAYS.runs} crashes)`, async () => {
    const disk = new PowerLossFs('then');
    const faults: Faults = {};
    const errors: unknown[] = [];
    const s = fileStorage(`${disk.root()}/data`, { io: faultyIo(faults, disk.io()), compactOnClose: false, onError: (e) => errors.push(e) });
    cleanups.push(() => s.close().catch(() => {}));
    await s.open();
    await s.transact(putAt('a', 1));
    await s.transact(putAt('b', 2));
    const original = SpaceIndex.prototype.materializeAll;
    let thrown = 0;
    vi.spyOn(SpaceIndex.prototype, 'materializeAll').mockImplementation(function (this: SpaceIndex) {
      if (thrown++ === 0) throw new Error('injected: building the snapshot view');
      return original.call(this);
    });
    const failed = await s.compactNow().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failed?.message).toMatch(/injected/);
    // the compaction failed, not the segment's start (it started: the writes below go to it)
    expect(failed?.message).not.toMatch(/while starting segment/);
    expect(thrown, 'the then ran (after the switch)').toBe(1);
    await s.transact(putAt('c', 3)); // acknowledged, in the new segment
    await s.transact((tx) => tx.put('sp', 'a', rec(4)));
    await crashWays(disk, 'then', WAYS, async (after) => {
      expect(await keys(after)).toEqual(['a', 'b', 'c']);
      expect(await after.get('sp', 'a')).toEqual(rec(4));
      expect(await after.get('sp', 'c')).toEqual(rec(3));
    });
    // a later compaction on the same storage, then a clean reopen
    await s.compactNow();
    await s.transact(putAt('d', 5));
    await s.close();
    vi.restoreAllMocks();
    const again = fileStorage(`${disk.root()}/data`, { io: disk.io(), compactOnClose: false });
    cleanups.push(() => again.close().catch(() => {}));
    await again.open();
    expect(await keys(again)).toEqual(['a', 'b', 'c', 'd']);
    expect(await again.get('sp', 'a')).toEqual(rec(4));
    const names = (await disk.io().readdir(`${disk.root()}/data`)).filter((n) => /^log-/.test(n));
    expect(names.length, `log segments left: ${names.join(', ')}`).toBe(1);
  }, 120_000);
});
