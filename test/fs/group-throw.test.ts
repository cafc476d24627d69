/**
 * A batch whose encoding throws inside the log writer (no input is known to do it: the throw is injected into
 * PendingBatch.encode) — while it is written ahead, or after the writer took it into a group and before the group was
 * reported. It must fail safely: every transaction of its group and of the batches after it settles with an error, the
 * storage goes on taking writes, and nothing acknowledged before is lost (a reopen reads it back).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { PendingBatch } from '../../adapters/fs/batch.js';
import { loadHasher } from '../../lib/hash.js';
import type { StorageTx } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { faultyStorages, putAt, settled } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('group-throw', { compactOnClose: false });
afterEach(async () => {
  vi.restoreAllMocks();
  await storages.cleanup();
});

/** PendingBatch.encode throwing on the `nth` call for the batch numbered `id` (every later call too when `always`). */
function encodeThrows(id: number, nth: number, always: boolean): void {
  const original = PendingBatch.prototype.encode;
  const calls = new Map<PendingBatch, number>();
  vi.spyOn(PendingBatch.prototype, 'encode').mockImplementation(function (this: PendingBatch) {
    const n = (calls.get(this) ?? 0) + 1;
    calls.set(this, n);
    if (this.id === id && (n === nth || (always && n > nth))) throw new Error(`injected: encoding batch ${id} (call ${n})`);
    return original.call(this);
  });
}

const FULL = 8192;
const fullBatch = (tx: StorageTx) => {
  for (let i = 0; i < FULL; i++) tx.put('sp', `x${i}`, rec(100 + i));
};

const outcome = settled;

async function reopened(dir: string): Promise<{ keys: string[]; close: () => Promise<void> }> {
  const again = fileStorage(dir, { compactOnClose: false });
  storages.track(() => again.close(), { first: true });
  await again.open();
  return { keys: (await again.index('sp')).map((e) => e.key).sort(), close: () => again.close() };
}

describe('file storage: a batch whose encoding throws inside the log writer', () => {
  it('while written ahead: its transactions and the later ones fail, the storage goes on, nothing durable is lost', async () => {
    const { dir, s } = await storages.setup({});
    await s.transact(putAt('a', 1)); // batch 1
    encodeThrows(2, 1, true);
    // batch 2 takes 8 192 puts and no more; 'y' opens batch 3, and batch 2 is written ahead
    const full = s.transact(fullBatch);
    const y = s.transact(putAt('y', 9000));
    const t = s.transact(putAt('t', 9001)); // in batch 3 too
    expect(await outcome(full), 'the batch that cannot be encoded').toBe('rejected');
    expect(await outcome(y), 'the batch after it').toBe('rejected');
    // each failed as the writer fails a group (a storage error naming the cause), not by the throw escaping a commit
    for (const p of [full, y, t]) await expect(p).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('injected: encoding batch 2') });
    expect(await outcome(s.transact(putAt('z', 2))), 'a write after the failure').toBe('resolved');
    expect(await outcome(s.transact(putAt('w', 3))), 'and another').toBe('resolved');
    expect(await s.get('sp', 'x0')).toBeUndefined();
    await s.close();
    vi.restoreAllMocks();
    const after = await reopened(dir);
    expect(after.keys).toEqual(['a', 'w', 'z']);
  });

  it('after the writer took it into a group, before the group was reported: the group settles failed, the storage goes on', async () => {
    const { dir, s } = await storages.setup({});
    await s.transact(putAt('a', 1)); // batch 1
    // batch 2 is encoded when the writer takes its group, and throws when the group's frames are made of it
    encodeThrows(2, 2, false);
    const b = s.transact(putAt('b', 2));
    expect(await outcome(b), 'the put of the group').toBe('rejected');
    expect(await outcome(s.transact(putAt('z', 3))), 'a write after the failure').toBe('resolved');
    expect(await s.get('sp', 'b')).toBeUndefined();
    await s.close();
    vi.restoreAllMocks();
    const after = await reopened(dir);
    expect(after.keys).toEqual(['a', 'z']);
  });
});
