/** Public types shared by the replica, the merges and the sync engine. */
import type { Context } from './dvv.js';
import type { Hlc } from './hlc.js';

export type { Context } from './dvv.js';
export type { Hlc } from './hlc.js';

/** One surviving version of a key, as `get` and merge functions see it. */
export interface VersionInfo {
  readonly replicaId: string;
  readonly counter: number;
  readonly hlc: Hlc;
  readonly deleted: boolean;
  /** The version's value (undefined for a tombstone). */
  readonly value?: unknown;
}

export interface MergeInfo {
  readonly key: string;
  readonly space: string;
  /** `versions[i]` describes `siblings[i]`. */
  readonly versions: readonly VersionInfo[];
}

/** Reconciles concurrent values. Must be a join: commutative, associative, idempotent (see `checkMerge`). */
export type MergeFn<T = any> = (siblings: T[], info: MergeInfo) => T;

export type MergeTable = Record<string, MergeFn>;

export interface GetResult<T = unknown> {
  /** The merged value, or without a merge function the sibling with the latest HLC. */
  readonly value: T;
  /** Live values, latest HLC first, then replicaId; equal values count once. `[value]` after a merge. */
  readonly siblings: T[];
  /** Every surviving version, tombstones after the live ones. */
  readonly versions: VersionInfo[];
  /** More than one distinct live value, or a live value beside a concurrent delete, and no merge resolved it. */
  readonly conflict: boolean;
  /** Pass to `put(key, v, { context })` to supersede exactly what this read saw. */
  readonly context: Context;
}

export interface ChangeEvent<T = unknown> {
  readonly key: string;
  readonly value: T | undefined;
  readonly siblings: T[];
  readonly conflict: boolean;
  readonly deleted: boolean;
  readonly origin: 'local' | 'remote';
}

export type Durability = 'local' | 'synced' | 'replicated';

export type ReplicaStatus = 'offline' | 'connecting' | 'syncing' | 'synced';
