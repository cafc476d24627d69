/**
 * When the ACKs of a peer's log frames go. Since protocol 6 an ACK acknowledges every frame up to its seq (the
 * sender's window, outgoing.ts, drops them all), so one ACK may answer several frames.
 *
 * A frame someone may be waiting for is acknowledged at once:
 *   - one that carries a version the sender wrote itself (its `w.synced`, its pending count and `whenSynced` wait
 *     for our ACK; a peer's forged version under the sender's id only makes us answer sooner);
 *   - every frame, where this replica is a relay (the relays of a cluster count from each other's ACKs how many
 *     hold a client's write: `w.replicated`);
 *   - every frame of a peer that speaks protocol 5 only (it takes each ACK for one frame).
 * Any other frame — a relay passing on other replicas' writes, what a client mostly receives — is acknowledged by
 * the next ACK that goes, at the latest once ACK_EVERY frames wait or ACK_DELAY ms after the first of them: the
 * sender's window stays open (ACK_EVERY is well below WINDOW) and its status reaches `synced` a moment later. A relay
 * fanning a write out to n clients then reads far fewer than n ACKs per write (TCP delays its acknowledgements
 * for the same reason). Deferring costs nothing in safety: the cursor is stored with the entries before any ACK,
 * and an ACK that never goes (the session ends) only makes the next session start from that stored cursor.
 */
import type { KeyState } from '../dvv.js';
import type { Timers } from './session-state.js';

/** The protocol version from which an ACK acknowledges every frame up to its seq. */
export const CUMULATIVE_ACKS = 6;
/** Frames acknowledged together at most (the sender's WINDOW is 32). */
export const ACK_EVERY = 16;
/** How long an ACK nobody waits for may wait for the next one. */
export const ACK_DELAY = 100;

/** Whether a frame's entries hold a version `writer` wrote itself. */
export function holdsOwnWrite(entries: ReadonlyArray<readonly [string, KeyState]>, writer: string): boolean {
  for (const [, s] of entries) for (const v of s.vs) if (v.r === writer) return true;
  return false;
}

export class AckPolicy {
  /** The highest upTo stored and not acknowledged yet (0: none), and how many frames it answers. */
  private upTo = 0;
  private frames = 0;
  private timer: unknown;

  constructor(
    private readonly send: (upTo: number) => void,
    private readonly timers: Timers,
    private readonly closed: () => boolean,
  ) {}

  /** Frame `upTo` is stored (its cursor with it): acknowledge it now (`now`) or with a later ACK. */
  stored(upTo: number, now: boolean): void {
    if (upTo > this.upTo) this.upTo = upTo;
    this.frames++;
    if (now || this.frames >= ACK_EVERY) return this.flush();
    this.timer ??= this.timers.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, ACK_DELAY);
  }

  /** Sends the ACK that waits, if any. */
  flush(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const upTo = this.upTo;
    if (this.frames === 0 || this.closed()) return;
    this.upTo = 0;
    this.frames = 0;
    this.send(upTo);
  }
}
