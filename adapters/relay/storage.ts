/**
 * Where a relay keeps its data: the default storage factory. With a `dataDir`, file storage in it;
 * without one, memory (an ephemeral relay, for tests and demos). One line to change.
 */
import { memoryStorage } from '../../lib/memory-storage.js';
import type { StorageAdapter } from '../../lib/storage.js';

export type StorageFactory = (dataDir: string | undefined) => StorageAdapter | Promise<StorageAdapter>;

export const defaultStorage: StorageFactory = async (dataDir) => {
  if (dataDir === undefined) return memoryStorage();
  // TODO(fs): fileStorage lands on main with issue 4; until then a dataDir still gets memory storage.
  return memoryStorage();
};

/** True when the default factory keeps data across restarts. */
export const DEFAULT_STORAGE_IS_DURABLE = false;
