/**
 * What a read sees of a key's state: live siblings ordered latest-HLC first (then replicaId, then counter),
 * equal values counted once, tombstones after the live versions, and the merged value where there is a merge.
 * Pure: the replica decides separately whether to write a merge back (read repair), and reports what the view
 * could not do (`missingType`, `malformed`).
 *
 * Which merge: when every live sibling is a typed value of one type (typed.ts), that type's merge, on every
 * replica and whatever is registered for the key; a concurrent delete does not win over a typed value (the
 * value survives and is written back: add-wins, as the types themselves are). A type this process does not know
 * cannot merge: its siblings show unmerged (`conflict: true`) and `missingType` names it. Otherwise the merge
 * function registered for the key, if any, as before.
 *
 * A stored value that does not decode (storage written before values were validated on receipt), or a derived one
 * that cannot be materialized here (deltas.ts), never breaks a read: its version is left out of the view and
 * reported in `malformed`. So is a plain value the key's merge refuses (RefusingMerge: `merges.addWins` and
 * `merges.counter` beside a value that is no set or counter), where another version is one it takes.
 */
import { valueOf } from './deltas.js';
import { encodeContext, type KeyState, type StoredVersion } from './dvv.js';
import { deepEqual } from './equal.js';
import { ConcordError } from './errors.js';
import { typeNameOf, valueType } from './typed.js';
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
    : { replicaId: v.r, counter: v.n, hlc: { ms: v.t, logical: v.c }, deleted: false, value: decodeValue(valueOf(v)) };
}

/**
 * What a merge (the app's function, or a registered type's) is handed: the siblings decoded again, with infos of their
 * own. Merges often build their result in place over what they are handed (`Object.assign(siblings[0], …)`); handed the
 * read's own values and infos, such a merge rewrote the versions the read tells (`get().versions`, a read-only replica's
 * above all, which writes nothing back; `update`'s read) — hostile or careless, it must change nothing told. The values
 * decoded already (the read's) cannot fail to decode again: the same bytes.
 */
function handed(vs: readonly StoredVersion[]): VersionInfo[] {
  return vs.map(versionInfo);
}

export interface View {
  /** Undefined when the key reads as deleted. */
  readonly result: GetResult | undefined;
  /** A typed value's type that is not registered here, so its siblings could not merge. */
  readonly missingType?: string;
  /**
   * Versions whose stored value does not decode, left out of the view; and plain ones the key's merge refuses
   * (RefusingMerge), left out where another version is one it takes, else shown unmerged.
   */
  readonly malformed?: ConcordError[];
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

/**
 * A merge function of a typed value's kind that also takes plain siblings (`merges.addWins`, `merges.counter`: sets and
 * counters stored before they carried their type): `refuses(v)` says why a plain value is none of that kind. Its result
 * is written back as a typed value, so a plain sibling it refuses is left out of the view (reported in `malformed`, as a
 * value that does not decode) rather than merged into what every replica then fails to decode.
 */
export interface RefusingMerge {
  readonly refuses?: (value: unknown) => string | undefined;
}

/** Why `merge` refuses a decoded value (undefined: it takes it; typed values were checked by their decoder). */
function refusal(merge: MergeFn | undefined, value: unknown): string | undefined {
  const refuses = (merge as RefusingMerge | undefined)?.refuses;
  return refuses && typeNameOf(value) === '' ? refuses(value) : undefined;
}

export class MergeError extends Error {}

/**
 * Undefined when no live version survives. Throws MergeError when the merge function (or the typed merge) throws;
 * `typedMerge: false` then shows the siblings unmerged.
 */
export function readView(key: string, space: string, state: KeyState, merge: MergeFn | undefined, typedMerge = true): View | undefined {
  const ordered = [...state.vs].sort(compareForRead);
  const versions: VersionInfo[] = [];
  const live: StoredVersion[] = []; // live[i] is the version versions[i] tells
  const tombstones: VersionInfo[] = [];
  let malformed: ConcordError[] | undefined;
  let refused: Array<[VersionInfo, StoredVersion]> | undefined;
  for (const v of ordered) {
    if (v.d) {
      tombstones.push(versionInfo(v));
      continue;
    }
    let info: VersionInfo;
    try {
      info = versionInfo(v);
    } catch (e) {
      (malformed ??= []).push(e instanceof ConcordError ? e : new ConcordError('CORRUPT', `the value of "${key}" (${v.r}:${v.n}) does not decode`, { cause: e }));
      continue;
    }
    const why = refusal(merge, info.value);
    if (why !== undefined) {
      (malformed ??= []).push(new ConcordError('CORRUPT', `the value of "${key}" (${v.r}:${v.n}) is not one its merge takes: ${why}`));
      (refused ??= []).push([info, v]);
      continue;
    }
    versions.push(info);
    live.push(v);
  }
  // Where no live version is one the merge takes, they show as they are, unmerged (as a key without a merge shows):
  // nothing is merged nor written back, and the app's next write replaces them.
  if (refused && versions.length === 0) {
    for (const [info, v] of refused) versions.push(info), live.push(v);
    merge = undefined;
  }
  const problems = malformed ? { malformed } : {};
  if (versions.length === 0) return malformed ? { result: undefined, repair: false, ...problems } : undefined;
  const context = encodeContext(state.cc, state.pts);

  // Equal values count as one: the representative of a value is its first (latest) version.
  const distinct: VersionInfo[] = [];
  const distinctLive: StoredVersion[] = [];
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    if (!distinct.some((d) => d === v || deepEqual(d.value, v.value))) distinct.push(v), distinctLive.push(live[i]!);
  }
  const all = versions.concat(tombstones);
  const siblings = distinct.map((v) => v.value);
  const contested = distinct.length > 1 || tombstones.length > 0;
  const unmerged = { result: { value: siblings[0], siblings, versions: all, conflict: contested, context }, repair: false as const, ...problems };

  const typeName = typeNameOf(siblings[0]);
  if (typedMerge && typeName !== '' && siblings.every((s) => typeNameOf(s) === typeName)) {
    if (!contested) return unmerged;
    const type = valueType(typeName);
    if (!type) return { ...unmerged, missingType: typeName };
    let value: unknown;
    try {
      value = distinct.length === 1 ? siblings[0] : type.merge(handed(distinctLive).map((v) => v.value));
    } catch (cause) {
      throw new MergeError(`merging the "${typeName}" values of "${key}" failed`, { cause });
    }
    return { result: { value, siblings: [value], versions: all, conflict: false, context }, repair: 'value', ...problems };
  }

  if (merge && (merge as DeleteAwareMerge).latestDeleteWins && ordered[0]!.d) {
    return { result: undefined, repair: 'delete', ...problems };
  }
  if (merge && contested) {
    let value: unknown;
    try {
      if (distinct.length === 1) value = siblings[0];
      else {
        const infos = handed(distinctLive);
        value = merge(infos.map((v) => v.value), { key, space, versions: infos });
      }
    } catch (cause) {
      throw new MergeError(`merge function for "${key}" threw`, { cause });
    }
    return { result: { value, siblings: [value], versions: all, conflict: false, context }, repair: 'value', ...problems };
  }
  return unmerged;
}
