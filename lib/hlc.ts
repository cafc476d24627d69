/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * A timestamp is 48 bits of wall-clock milliseconds and a 16-bit logical counter, held as two numbers
 * because together they exceed 2^53. Guarantees: timestamps a replica issues strictly increase, and a
 * timestamp issued after observing another is greater than it, whatever the wall clocks say — for every
 * observed timestamp at most `maxDriftMs` ahead of this replica's wall clock. When the logical part would
 * overflow, the clock borrows the next millisecond rather than repeat a timestamp.
 *
 * Clock poisoning: a remote timestamp further ahead than `maxDriftMs` (default 60 s) is not adopted — the
 * version carrying it is still stored and synced (it is data), but this clock ignores it, so one peer with
 * a wrong clock (or a hostile one stamping 2^48 − 1) cannot drag every replica's timestamps into the far
 * future. The clock thus stays within `maxDriftMs` (plus one ms per 65 536 timestamps issued within one ms)
 * of its own wall clock. It never issues a timestamp past the wire limit (2^48 − 1 ms, the year 10889): a
 * wall clock reading beyond it counts as the limit, and at (2^48 − 1, 65 535) the clock stays there —
 * timestamps then repeat (dots, not timestamps, name versions, so nothing is lost; only the order of
 * concurrent writes by timestamp ties, broken by replicaId).
 */

export interface Hlc {
  readonly ms: number;
  readonly logical: number;
}

const MAX_LOGICAL = 0xffff;
/** The largest millisecond value the wire carries (48 bits). */
export const MAX_HLC_MS = 2 ** 48 - 1;
/** Remote timestamps more than this far ahead of the wall clock are not adopted (ms). */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.logical - b.logical;
}

export class HybridClock {
  private ms = 0;
  private logical = 0;
  private readonly maxDriftMs: number;
  /** Remote timestamps ignored because they were too far ahead of the wall clock. */
  ignored = 0;

  constructor(
    private readonly now: () => number = Date.now,
    options: { maxDriftMs?: number } = {},
  ) {
    const drift = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    if (!(drift >= 0) || !Number.isFinite(drift)) throw new RangeError('HybridClock: maxDriftMs must be a finite number ≥ 0');
    this.maxDriftMs = drift;
  }

  /** A timestamp for a local event. */
  tick(): Hlc {
    const wall = Math.min(Math.floor(this.now()), MAX_HLC_MS);
    if (wall > this.ms) {
      this.ms = wall;
      this.logical = 0;
    } else if (this.logical < MAX_LOGICAL) {
      this.logical++;
    } else if (this.ms < MAX_HLC_MS) {
      this.ms++;
      this.logical = 0;
    }
    return { ms: this.ms, logical: this.logical };
  }

  /**
   * Take a received timestamp into account, so that later local ones order after it — unless it is more
   * than `maxDriftMs` ahead of the wall clock (then it is ignored and counted). Returns whether it was adopted.
   */
  observe(ms: number, logical: number): boolean {
    // Every part is read on every call (the wall clock too, not only for a timestamp ahead of ours): which parts a call
    // needs depends on timing, and a part first run after V8 optimized the join that inlined this deoptimized it (a
    // client's, at a delivery in the same millisecond as its last, or first ahead of it: bench/floor/steady-deopts.mjs).
    const limit = Math.floor(this.now()) + this.maxDriftMs;
    const later = ms > this.ms;
    const same = ms === this.ms;
    const laterLogical = logical > this.logical;
    if (!(later || (same && laterLogical))) return true;
    if (ms > limit) {
      this.ignored++;
      return false;
    }
    this.ms = Math.min(ms, MAX_HLC_MS);
    this.logical = Math.min(logical, MAX_LOGICAL);
    return true;
  }
}
