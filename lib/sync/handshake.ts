/**
 * What a session decides, as pure functions of what both hellos and sync items said. Both ends compute
 * the same decision from the same inputs, so they agree without another round trip:
 *
 *   per space    both cursors valid (or one side empty)  → stream each log from the cursor the peer holds
 *                otherwise                               → Merkle anti-entropy first (initiator: the smaller
 *                                                          replicaId), then stream from the top at its start
 *   echoes       records that came from the peer are not streamed back: those of this session always, those
 *                of earlier sessions only while our cursor into the peer's log is valid — a peer whose log
 *                lost an epoch (restored, or emptied) gets back what it once sent
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
  /** Our stream skips records that came from the peer and sit above this seq of our log (the peer holds them). */
  readonly echoFloor: number;
}

export function decideSpace(mine: SyncItem, theirs: SyncItem, me: LogView, peer: LogView): SpaceDecision {
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
    echoFloor: inValid ? 0 : me.top,
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
