/**
 * Where a relay keeps its data: the default storage factory. With a `dataDir`, file storage in it
 * (concord/fs: fsync before a write is acknowledged, one process per directory); without one, memory
 * (an ephemeral relay, for tests and demos).
 */
import { memoryStorage } from '../../lib/memory-storage.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { fileStorage } from '../fs/index.js';

export type StorageFactory = (dataDir: string | undefined) => StorageAdapter | Promise<StorageAdapter>;

export const defaultStorage: StorageFactory = (dataDir) => (dataDir === undefined ? memoryStorage() : fileStorage(dataDir));

/** True when the default factory keeps data across restarts (a relay given a dataDir). */
export const DEFAULT_STORAGE_IS_DURABLE = true;
