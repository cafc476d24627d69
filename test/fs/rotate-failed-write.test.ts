/**
 * A compaction asked for while a group is being written, whose write then fails with the disk full (the segment cut
 * back, the writer still usable): the log writer dropped the rotation it was asked for (log-writer.ts failRotation
 * answered it only when the writer was broken), so the compaction waited for ever — `compactNow` never settled, no
 * compaction ran again (the compactor's `running` stayed set) and `close` never returned (it waits for the compaction
 * under way). Found by test/fs/put-model.property.test.ts (PUT_MODEL_SEED=2000: a compaction begun as a burst of puts
 * was written into a full disk). Now the rotation stays asked for, and happens before the next group.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage, type Io } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import { errnoError, faultyIo, isLog, tempDir, within, wrapLogs, type Faults } from './helpers.js';

beforeAll(loadHasher);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** faultyIo whose log writes wait at `hold` (while set), telling `entered` first. */
function holdingIo(faults: Faults, held: { hold?: Promise<void>; entered?: () => void }): Io {
  const wait = async () => {
    if (!held.hold) return;
    held.entered?.();
    await held.hold;
  };
  return wrapLogs(faultyIo(faults), (f) => ({
    write: async (b, o, l, p) => (await wait(), f.write(b, o, l, p)),
    ...(f.writev ? { writev: async (bs: readonly Uint8Array[], p: number) => (await wait(), f.writev!(bs, p)) } : {}),
  }));
}

describe('a compaction asked for while a group is written into a full disk', () => {
  it('goes on once the write failed: compactNow settles, later writes and compactions run, close returns', async () => {
    const { dir, cleanup } = await tempDir('rotate-failed');
    cleanups.push(cleanup);
    const faults: Faults = {};
    const held: { hold?: Promise<void>; entered?: () => void } = {};
    const s = fileStorage(dir, { io: holdingIo(faults, held), compactOnClose: false });
    cleanups.push(async () => void (await within(s.close(), 5000)));
    await s.open();
    await s.transact((tx) => {
      tx.put('sp', 'a', rec(1, 'kept'));
      tx.setMeta('seq', 1);
    });

    let release!: () => void;
    held.hold = new Promise<void>((res) => (release = res));
    const entered = new Promise<void>((res) => (held.entered = res));
    faults.write = (path) => (isLog(path) ? errnoError('ENOSPC', 'write') : undefined);
    const failing = s.transact((tx) => {
      tx.put('sp', 'b', rec(2, 'lost'));
      tx.setMeta('seq', 2);
    });
    await entered; // the group's write is under way
    const compacting = s.compactNow(); // its rotation is asked for now, between groups
    held.hold = undefined;
    release();
    await expect(failing).rejects.toMatchObject({ code: 'STORAGE_FULL' });
    delete faults.write;

    expect(await within(compacting.then(() => 'compacted'), 5000), 'the compaction asked for during the failed write').toBe('compacted');
    await s.transact((tx) => {
      tx.put('sp', 'c', rec(2, 'after'));
      tx.setMeta('seq', 2);
    });
    expect(await within(s.compactNow().then(() => 'compacted'), 5000), 'a compaction after it').toBe('compacted');
    expect(await within(s.close().then(() => 'closed'), 5000)).toBe('closed');

    const again = fileStorage(dir);
    await again.open();
    expect((await again.index('sp')).map((e) => e.key).sort()).toEqual(['a', 'c']);
    expect(await again.get('sp', 'a')).toEqual(rec(1, 'kept'));
    expect(await again.get('sp', 'c')).toEqual(rec(2, 'after'));
    expect(await again.getMeta('seq')).toBe(2);
    await again.close();
  });
});
