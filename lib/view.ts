/**
 * What a read sees of a key's state: live siblings ordered latest-HLC first (then replicaId, then counter),
 * equal values counted once, tombstones after the live versions, and — with a merge function — the merged
 * value. Pure: the replica decides separately whether to write a merge back (read repair).
 */
import { encodeContext, type KeyState, type StoredVersion } from './dvv.js';
import { deepEqual } from './equal.js';
import { decodeValue } from './values.js';
import type { GetResult, MergeFn, VersionInfo } from './types.js';

export function compareForRead(a: StoredVersion, b: StoredVersion): number {
  if (a.t !== b.t) return b.t - a.t;
  if (a.c !== b.c) return b.c - a.c;
  if (a.r !== b.r) return a.r < b.r ? -1 : 1;
  return b.n - a.n;
}

export function versionInfo(v: StoredVersion): VersionInfo {
  return v.d
    ? { replicaId: v.r, counter: v.n, hlc: { ms: v.t, logical: v.c }, deleted: true }
    : { replicaId: v.r, counter: v.n, hlc: { ms: v.t, logical: v.c }, deleted: false, value: decodeValue(v.v!) };
}

export interface View {
  /** Undefined when the key reads as deleted. */
  readonly result: GetResult | undefined;
  /**
   * What read repair writes back: 'value' when a merge function produced `result.value` from several
   * siblings or over a concurrent delete; 'delete' when a last-writer-wins merge let a later delete win.
   */
  readonly repair: 'value' | 'delete' | false;
}

/** A merge function that lets a concurrent delete with a later HLC win (last writer wins, deletes included). */
export interface DeleteAwareMerge {
  readonly latestDeleteWins?: boolean;
}

export class MergeError extends Error {}

/** Undefined when no live version survives. Throws MergeError when the merge function throws. */
export function readView(key: string, space: string, state: KeyState, merge: MergeFn | undefined): View | undefined {
  const ordered = [...state.vs].sort(compareForRead);
  const versions: VersionInfo[] = [];
  const tombstones: VersionInfo[] = [];
  for (const v of ordered) (v.d ? tombstones : versions).push(versionInfo(v));
  if (versions.length === 0) return undefined;
  if (merge && (merge as DeleteAwareMerge).latestDeleteWins && ordered[0]!.d) {
    return { result: undefined, repair: 'delete' };
  }
  const context = encodeContext(state.cc);

  // Equal values count as one: the representative of a value is its first (latest) version.
  const distinct: VersionInfo[] = [];
  for (const v of versions) {
    if (!distinct.some((d) => d === v || deepEqual(d.value, v.value))) distinct.push(v);
  }
  const all = versions.concat(tombstones);
  const siblings = distinct.map((v) => v.value);
  const contested = distinct.length > 1 || tombstones.length > 0;

  if (merge && contested) {
    let value: unknown;
    try {
      value = distinct.length === 1 ? siblings[0] : merge(siblings, { key, space, versions: distinct });
    } catch (cause) {
      throw new MergeError(`merge function for "${key}" threw`, { cause });
    }
    return { result: { value, siblings: [value], versions: all, conflict: false, context }, repair: 'value' };
  }
  return {
    result: { value: siblings[0], siblings, versions: all, conflict: contested, context },
    repair: false,
  };
}
