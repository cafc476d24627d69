export { openReplica, Replica, type ReplicaOptions, type ReplicaEvents } from './replica.js';
export { Space, WriteResult, type SpaceOptions, type WriteOptions } from './space.js';
export { memoryStorage } from './memory-storage.js';
export { ConcordError, isConcordError, type ConcordErrorCode } from './errors.js';
export { merges } from './merges/index.js';
export { checkMerge, type CheckMergeResult, type CheckMergeOptions } from './check-merge.js';
export type { StorageAdapter, StorageTx, KeyRecord, IndexEntry, ScanOptions } from './storage.js';
export type { KeyState, StoredVersion, VersionVector } from './dvv.js';
export type * from './types.js';
