/**
 * Log epochs and restore detection, as pure functions.
 *
 * A replica's change log is one sequence of seqs. Every open of its storage starts a new *epoch*: a random
 * label with the seq the log stood at (`from`). The history of epochs is stored with the identity:
 *
 *     history  [E1 from 0] [E2 from 140] [E3 from 512]      E3 is current; E1 covered seqs 1..140
 *
 * A cursor (epoch E, seq s) into this log is valid when E is in the history and s does not pass E's end
 * (the next epoch's `from`, or the durable top for the current one). A copy of the storage opened elsewhere
 * (a restored backup, a copied directory, a VM snapshot) has a history that stops inside some epoch and
 * continues with an epoch of its own: cursors into the lost part are refused, whatever the log grows to.
 *
 * The same history tells a replica that it was restored. A peer remembers, per replica, the highest own dot
 * that replica delivered to it directly and the epoch the replica announced then (`Seen`). When the replica
 * hears that record back and finds the epoch missing from its history, or the dot beyond that epoch's end,
 * its storage lost writes that left it: it must re-identify before any dot of its later writes leaves it
 * (a dot names one value), and re-issue those writes under the new id (identity.ts).
 *
 * Storage shared by live instances (browser tabs) does not start an epoch when another instance is open:
 * the log then simply continues, and no record made through one instance contradicts another's.
 */

/** One epoch: its label and the log's seq when it started. */
export type EpochEntry = readonly [epoch: string, from: number];

/**
 * The length of a *root label*: an epoch labelled so forks from the untagged root at its `from` (epoch-points.ts
 * Epochs.learn), whatever sits before it in a history. Only such epochs take one (identity.ts): an id's first epoch whose
 * dots name it (Identity.tagged), and a fresh id's first epoch where its replica speaks protocol 11. Every other label
 * has 8 characters, as every label of every release before did. So a history alone says where its tagged chain starts,
 * and a peer learns that chain from a hello at 11 (sync/epoch-chain.ts helloRecords): the records the sender's registry
 * holds, by construction, with no chain frame.
 */
export const ROOT_LABEL = 7;

/** Whether epoch label `e` is a root label (ROOT_LABEL). */
export const isRootLabel = (e: string): boolean => e.length === ROOT_LABEL;

/** The index of the last entry of `history` with a root label; -1 when none has one. */
export function lastRootIndex(history: readonly EpochEntry[]): number {
  let at = history.length - 1;
  while (at >= 0 && !isRootLabel(history[at]![0])) at--;
  return at;
}

/** Epochs kept in storage; a cursor from an epoch older than these falls back to anti-entropy. */
export const MAX_STORED_EPOCHS = 64;
/** Epochs a hello carries (the peer validates its cursor into our log against them). */
export const MAX_SENT_EPOCHS = 8;

/** The history after an open that starts an epoch at seq `top`. */
export function startEpoch(history: readonly EpochEntry[], epoch: string, top: number): EpochEntry[] {
  return [...history, [epoch, top] as const].slice(-MAX_STORED_EPOCHS);
}

/** The last seq of epoch `e` in `history` (`top` for the current one); undefined when `e` is not in it. */
export function epochEnd(history: readonly EpochEntry[], e: string, top: number): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]![0] === e) return i === history.length - 1 ? top : history[i + 1]![1];
  }
  return undefined;
}

/** Whether a cursor (epoch, seq) into a log with this history and durable top names a position it holds. */
export function cursorValid(history: readonly EpochEntry[], top: number, epoch: string, seq: number): boolean {
  if (epoch === '') return false;
  const end = epochEnd(history, epoch, top);
  return end !== undefined && seq <= end;
}

/** A peer's record of the highest own dot a replica delivered to it directly, and the epoch announced then. */
export interface Seen {
  readonly e: string;
  readonly n: number;
  /**
   * Kept by the peer that records it, never sent: the epochs the replica announced before `e` then, oldest first.
   * Should `e` later be missing from the history it announces, its history forked from the one these name (it was
   * restored from a copy, then opened again): `seenFor` names the last epoch both share instead.
   */
  readonly h?: readonly string[];
}

/**
 * What to tell a replica of the highest dot it delivered to us (`seen`), given the history it announces now. When
 * the epoch it delivered in is gone from that history but an earlier one it had announced then is still there, its
 * storage continued that earlier epoch without the lost one: the claim names that epoch instead, so the replica
 * re-issues from where its history forked (reidentify.ts), not only from its latest open.
 */
export function seenFor(seen: Seen, now: readonly EpochEntry[] | undefined): Seen {
  const plain = { e: seen.e, n: seen.n };
  if (!now || !seen.h) return plain;
  const ids = new Set(now.map(([e]) => e));
  if (ids.has(seen.e)) return plain;
  for (let i = seen.h.length - 1; i >= 0; i--) if (ids.has(seen.h[i]!)) return { e: seen.h[i]!, n: seen.n };
  return plain;
}

/**
 * Whether a replica whose storage has this history and durable top lost writes that left it: a peer holds a
 * dot it delivered beyond what its history holds.
 */
export function lostWrites(history: readonly EpochEntry[], top: number, seen: Seen | undefined): boolean {
  if (!seen || seen.n <= 0) return false;
  const end = epochEnd(history, seen.e, top);
  return end === undefined || seen.n > end;
}

/**
 * The restore point: the seq after which this replica's own dots may name other values than the ones its
 * peers hold. `told` is the last epoch this replica announced to the peer that noticed (as its storage
 * remembers); everything after that epoch's end is suspect. Without such a memory, everything after the
 * first epoch is.
 */
export function restorePoint(history: readonly EpochEntry[], top: number, told: string | undefined): number {
  const end = told === undefined ? undefined : epochEnd(history, told, top);
  if (end !== undefined && end < top) return end;
  // The epoch we last announced is the current one (or unknown): the loss began at the latest open.
  return history.length > 1 ? history[history.length - 1]![1] : 0;
}
