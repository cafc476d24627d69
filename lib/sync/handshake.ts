/**
 * What a session decides, as pure functions of what both hellos and sync items said. Both ends compute
 * the same decision from the same inputs, so they agree without another round trip:
 *
 *   per space    both cursors valid (or one side empty)  → stream each log from the cursor the peer holds
 *                otherwise                               → Merkle anti-entropy first (initiator: the smaller
 *                                                          replicaId), then stream from the top at its start
 *   echoes       records that came from the peer are not streamed back: those of this session always, those
 *                of earlier sessions only while the peer's log still holds everything we took from it — our
 *                cursor into it, and our reach (below) — so a peer whose log lost an epoch or the end of one
 *                (restored, or emptied) gets back what it once sent
 *   restore      the peer remembers a dot we delivered that our history does not hold → re-identify
 *   periodic     anti-entropy rounds on a synced session start from the smaller replicaId, on both ends'
 *                timers (whoever dialed), so every link is repaired periodically
 *
 * A cursor is validated against the log owner's epoch history as its hello carried it (the last
 * MAX_SENT_EPOCHS epochs), on both ends alike.
 */
import { cursorValid, MAX_SENT_EPOCHS, type EpochEntry } from '../epochs.js';
import { PROTOCOL_VERSIONS, type SyncItem } from './messages.js';

/** One end's view of a log: its epoch history as sent in its hello, and the top it announced. */
export interface LogView {
  readonly history: readonly EpochEntry[];
  readonly top: number;
}

/** The history a hello carries (and that cursors into this log are judged by, on both ends). */
export function sentHistory(history: readonly EpochEntry[]): EpochEntry[] {
  return history.slice(-MAX_SENT_EPOCHS);
}

export interface SpaceDecision {
  /** The peer's cursor into our log is valid: it holds our log up to `theirs.cursorSeq`. */
  readonly outValid: boolean;
  /** Our cursor into the peer's log is valid. */
  readonly inValid: boolean;
  /** Stream right away (true), or run anti-entropy first (false). */
  readonly stream: boolean;
  /** Where our log stream to the peer starts when streaming right away. */
  readonly from: number;
  /** Whether we store a fresh cursor (the peer's epoch, seq 0) so the next session can stream. */
  readonly freshCursor: boolean;
  /**
   * Our stream skips records that came from the peer and sit above this seq of our log (the peer holds them): 0 when
   * the peer still holds all we took from it (`echoesHeld`: reachHeld), else our top (only this session's echoes).
   */
  readonly echoFloor: number;
}

/**
 * How far into the peer's log the records we took from it may come from: the highest `upTo` of any of its log frames
 * we stored entries of (a frame held back for a missing delta base stores its entries but not the cursor), in its
 * epoch `e`; `s` is REACH_OPEN once we stored its repair states, which name no log position (the peer's durable
 * state then, up to wherever its log stood).
 */
export interface Reach {
  readonly e: string;
  readonly s: number;
}

export const REACH_OPEN = Number.MAX_SAFE_INTEGER;

/**
 * Whether the peer's log, as its hello shows it, still holds everything we took from it up to `reach`: its epoch
 * is still the current one (an epoch never loses its end while it is open), or the epoch ended at or past the reach.
 * A peer restored from a copy (or emptied) since then fails this, and a reach we never stored counts as lost too.
 */
export function reachHeld(reach: Reach | undefined, peerEpoch: string, peer: LogView): boolean {
  if (!reach) return false;
  if (reach.e === peerEpoch) return true;
  return reach.s !== REACH_OPEN && cursorValid(sentHistory(peer.history), peer.top, reach.e, reach.s);
}

/** `reach` moved on by the peer's frame (its epoch now, `upTo` 0 for a repair state). */
export function reachAfter(reach: Reach | undefined, peerEpoch: string, upTo: number): Reach {
  const s = upTo === 0 ? REACH_OPEN : upTo;
  return { e: peerEpoch, s: reach && reach.e === peerEpoch ? Math.max(reach.s, s) : s };
}

export function decideSpace(mine: SyncItem, theirs: SyncItem, me: LogView, peer: LogView, echoesHeld = true): SpaceDecision {
  const outValid = cursorValid(sentHistory(me.history), me.top, theirs.cursorEpoch, theirs.cursorSeq);
  const inValid = cursorValid(sentHistory(peer.history), peer.top, mine.cursorEpoch, mine.cursorSeq);
  const empty = theirs.keys === 0 || mine.keys === 0;
  const outOk = outValid || empty;
  const inOk = inValid || empty;
  return {
    outValid,
    inValid,
    stream: outOk && inOk,
    from: outValid ? theirs.cursorSeq : 0,
    freshCursor: inOk && !inValid,
    echoFloor: inValid && echoesHeld ? 0 : me.top,
  };
}

/** Whether this end starts anti-entropy runs with the peer (on connect and periodically). */
export function initiatesAntiEntropy(myId: string, peerId: string): boolean {
  return myId < peerId;
}

/** Why a hello's protocol versions cannot be spoken here (none in common), or undefined when one can. */
export function versionRefusal(versions: readonly number[]): string | undefined {
  if (versions.some((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v))) return undefined;
  return `no common protocol version: peer speaks [${versions.join(', ')}], this replica [${PROTOCOL_VERSIONS.join(', ')}]`;
}
