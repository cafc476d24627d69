/**
 * `concord/fs`: durable storage on files, for Node.
 *
 *   import { fileStorage } from 'concord/fs';
 *   const replica = await openReplica({ storage: fileStorage('./data') });
 *
 * A write resolves only once it is fsynced; a crash loses nothing acknowledged; one process per directory.
 * See file-storage.ts for the invariants and the files it keeps.
 */
import { FileStorage, type FileStorageOptions } from './file-storage.js';

export type { FileStorageOptions } from './file-storage.js';
export type { Io, IoFile } from './io.js';
export { nodeIo } from './io.js';

export function fileStorage(dir: string, options?: FileStorageOptions): FileStorage {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('fileStorage(dir): dir must be a non-empty path');
  return new FileStorage(dir, options);
}

export type { FileStorage };
