import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStorage } from '../../adapters/fs/index.js';
import { runStorageContract } from './contract.js';

runStorageContract('fileStorage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-fs-contract-'));
  return {
    storage: fileStorage(dir),
    reopen: async () => fileStorage(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

// The same contract with compaction after nearly every write: values then come from snapshots.
runStorageContract('fileStorage (compacting)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-fs-contract-'));
  const options = { compactMinBytes: 1, compactRatio: 0, cacheRecords: 0 };
  return {
    storage: fileStorage(dir, options),
    reopen: async () => fileStorage(dir, options),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
