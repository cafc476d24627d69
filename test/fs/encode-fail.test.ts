// A transaction's records are written into its batch's record area before it is applied (batch.ts encodeWrites): a
// record that cannot be encoded, after others of the same transaction that were (a chunk filled and sealed meanwhile),
// leaves the area, the index and the log as they were; the transactions around it in the same batch keep their bytes.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import type { KeyRecord } from '../../lib/storage.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import { faultyStorages } from './helpers.js';

beforeAll(loadHasher);

const storages = faultyStorages('encode-fail', { compactOnClose: false });
afterEach(() => storages.cleanup());

const unencodable = (seq: number): KeyRecord => ({ ...rec(seq), cc: { replicaA: BigInt(seq) as unknown as number } });

describe('file storage: a record that cannot be encoded', () => {
  it('fails its transaction, at once or queued, and keeps nothing of it in the batch it shared', async () => {
    const { dir, s } = await storages.setup({});
    const a = s.transactNow!((tx) => tx.put('sp', 'a', rec(1)));
    // 300 records (past the area's first chunks) and then one JSON.stringify refuses, in one transaction
    expect(() =>
      s.transactNow!((tx) => {
        for (let i = 0; i < 300; i++) tx.put('sp', `x${i}`, rec(100 + i, 'v'.repeat(40)));
        tx.put('sp', 'bad', unencodable(999));
      }),
    ).toThrow(TypeError);
    const b = s.transactNow!((tx) => tx.put('sp', 'b', rec(2)));
    await expect(s.transact((tx) => tx.put('sp', 'bad2', unencodable(998)))).rejects.toThrow(TypeError);
    await Promise.all([a!.durable, b!.durable]);
    expect(await s.get('sp', 'x0')).toBeUndefined();
    expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['a', 'b']);
    await s.close();
    const again = fileStorage(dir, { compactOnClose: false, cacheRecords: 0 });
    storages.track(() => again.close(), { first: true });
    await again.open();
    expect(await again.get('sp', 'a')).toEqual(rec(1));
    expect(await again.get('sp', 'b')).toEqual(rec(2));
    expect((await again.readLog('sp', 0, 10)).map(([k, r]) => [k, r.seq])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });
});
