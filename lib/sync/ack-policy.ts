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
 * the next ACK that goes: at the latest at the link's next phase point, one every ACK_EVERY frames (the sender's
 * window stays open: ACK_EVERY is well below WINDOW), or once the stream went quiet for ACK_DELAY (between ACK_DELAY
 * and ACK_LATEST after its last frame: its sender's status reaches `synced` a moment later). A relay fanning a write
 * out to n clients then reads about n / ACK_EVERY ACKs per write (TCP delays its acknowledgements for the same
 * reason), and
 *   - not more when the writes slow down (a loaded machine): a timer counted from the first frame waiting would
 *     fire every few frames of a slowed stream, and the ACKs it sent would load the relay further;
 *   - not all on one write: the clients of a relay receive the same frames, so counting ACK_EVERY from the same
 *     start would make all n acknowledge the same frame at once; each link's phase (a hash of the replica's id and
 *     the space) spreads them over the frames.
 * Deferring costs nothing in safety: the cursor is stored with the entries before any ACK, and an ACK that never goes
 * (the session ends) only makes the next session start from that stored cursor.
 *
 * Where both ends speak WIDE_ACKS (protocol 12), a sender keeps up to WIDE_WINDOW frames unacknowledged while none of
 * them is larger than SMALL_FRAME bytes (outgoing.ts), and its peer acknowledges small frames one in WIDE_EVERY: a
 * relay fanning small writes out reads a quarter of the ACKs. Both ends measure the same thing, the bytes of the frame
 * carrying the upTo as it went on the wire, so a frame the sender counts large the receiver counts large too; once one
 * waits, the ACK goes at ACK_EVERY frames at the latest, below the sender's WINDOW. A sender of an earlier release
 * (window 32) or a receiver of one (ACK_EVERY) is never met by the other rule: each follows what both hellos spoke.
 * Tiny frames (at most TINY_FRAME bytes: a relay passing on one small write a frame) go further the same way: up to
 * TINY_WINDOW out while every frame out is tiny, one ACK in TINY_EVERY; what a slow peer makes the sender buffer beyond
 * WINDOW's frames stays below the small frames' bound in bytes (992 x 256 B against 96 x 4 KB). The tiers nest: the
 * ACK goes by the rule of the largest frame waiting, and at once when as many frames wait as that rule allows (tiny ones
 * before a small one: the sender's window is WIDE_WINDOW again while it has that one out). Protocol 12 is unreleased
 * (11 is this release: docs/deploy.md), so the tiny tier is part of what 12 means, not a version of its own.
 */
import type { KeyState } from '../dvv.js';
import type { Timers } from './session-state.js';
import { fnv1a } from './sketch.js';

/** The protocol version from which an ACK acknowledges every frame up to its seq. */
export const CUMULATIVE_ACKS = 6;
/** Frames acknowledged together at most (the sender's WINDOW is 32). */
export const ACK_EVERY = 16;
/** The protocol version from which small frames are acknowledged one in WIDE_EVERY (and the sender's window is wide). */
export const WIDE_ACKS = 12;
/** Small frames acknowledged together at most where both ends speak WIDE_ACKS (the sender's WIDE_WINDOW is 128). */
export const WIDE_EVERY = 64;
/** A frame of at most this many bytes is small: deferred by WIDE_EVERY, and held in a wide window. */
export const SMALL_FRAME = 4096;
/** Tiny frames acknowledged together at most where both ends speak WIDE_ACKS (the sender's TINY_WINDOW is 1024). */
export const TINY_EVERY = 512;
/** A frame of at most this many bytes is tiny: deferred by TINY_EVERY, and held in the widest window. */
export const TINY_FRAME = 256;
/** How long a quiet stream's ACK nobody waits for waits (the timer's period). */
export const ACK_DELAY = 100;
/** The latest an ACK nobody waits for goes after the last frame it answers (the timer runs in periods of ACK_DELAY). */
export const ACK_LATEST = 2 * ACK_DELAY;

/** Whether a frame's entries hold a version `writer` wrote itself. */
export function holdsOwnWrite(entries: ReadonlyArray<readonly [string, KeyState]>, writer: string): boolean {
  for (const [, s] of entries) for (const v of s.vs) if (v.r === writer) return true;
  return false;
}

export class AckPolicy {
  /** The highest upTo stored and not acknowledged yet (0: none), and how many frames it answers. */
  private upTo = 0;
  private frames = 0;
  /** Frames stored on this link in all, and as many when the timer was set. */
  private total = 0;
  private armedAt = 0;
  /** The timer (kept once its period ended where `timers` can refresh it: armed again, it stays one object) and whether it runs a period. */
  private timer: unknown;
  private armed = false;
  /** The frames the largest frame waiting may wait with: TINY_EVERY, WIDE_EVERY or ACK_EVERY (`every`). */
  private every = TINY_EVERY;
  /** Where in each TINY_EVERY frames this link's deferred ACK goes (modulo a smaller tier's: in each of its). */
  private readonly phase: number;

  /** `link`: names the link among the replica's and its peers' (the replica's id and the space): its phase. */
  constructor(
    private readonly send: (upTo: number) => void,
    private readonly timers: Timers,
    private readonly closed: () => boolean,
    link: string,
  ) {
    this.phase = fnv1a(link) % TINY_EVERY;
  }

  /**
   * Frame `upTo` is stored (its cursor with it): acknowledge it now (`now`) or with a later ACK. `bytes`: the frame's on
   * the wire where the peer speaks WIDE_ACKS (else Infinity: every frame counts large).
   */
  stored(upTo: number, now: boolean, bytes = Infinity): void {
    if (upTo > this.upTo) this.upTo = upTo;
    this.frames++;
    this.total++;
    const every = bytes <= TINY_FRAME ? TINY_EVERY : bytes <= SMALL_FRAME ? WIDE_EVERY : ACK_EVERY;
    if (every < this.every) this.every = every;
    if (now || this.due()) return this.flush();
    if (!this.armed) this.arm();
  }

  /**
   * Whether the ACK goes with this frame: at the link's phase in each `every` frames (the tier of the largest frame
   * waiting), and at once when `every` wait (smaller ones before a larger one: the sender's window shrank to that
   * tier's while it has the larger one out). ACK_EVERY divides WIDE_EVERY, which divides TINY_EVERY, and the link's phase
   * in each is its phase modulo that tier's: a stream of one tier alone meets a phase point every `every` frames.
   */
  private due(): boolean {
    return this.total % this.every === this.phase % this.every || this.frames >= this.every;
  }

  /** The timer's period: it ends with an ACK if no frame came meanwhile, else with another period. */
  private arm(): void {
    this.armedAt = this.total;
    this.armed = true;
    if (this.timer !== undefined && this.timers.refresh?.(this.timer)) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer); // one `refresh` could not start again
    this.timer = this.timers.setTimeout(this.fire, ACK_DELAY);
  }

  private readonly fire = (): void => {
    if (!this.armed) return; // a period `flush` ended, on a timer kept to be refreshed
    this.armed = false;
    if (!this.timers.refresh) this.timer = undefined; // ran: the next period makes another
    if (this.frames > 0 && this.total !== this.armedAt && !this.closed()) this.arm();
    else this.flush();
  };

  /** Sends the ACK that waits, if any. */
  flush(): void {
    if (this.armed) {
      this.armed = false;
      // Kept where it can be refreshed (it fires once more, and does nothing), else cleared.
      if (!this.timers.refresh) {
        this.timers.clearTimeout(this.timer);
        this.timer = undefined;
      }
    }
    const upTo = this.upTo;
    if (this.frames === 0 || this.closed()) return;
    this.upTo = 0;
    this.frames = 0;
    this.every = TINY_EVERY;
    this.send(upTo);
  }
}
