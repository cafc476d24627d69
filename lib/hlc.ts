/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * A timestamp is 48 bits of wall-clock milliseconds and a 16-bit logical counter, held as two numbers
 * because together they exceed 2^53. Guarantees: timestamps a replica issues strictly increase, and a
 * timestamp issued after observing another is greater than it, whatever the wall clocks say. When the
 * logical part would overflow, the clock borrows the next millisecond rather than repeat a timestamp.
 */

export interface Hlc {
  readonly ms: number;
  readonly logical: number;
}

const MAX_LOGICAL = 0xffff;
const MAX_MS = 2 ** 48 - 1;

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.logical - b.logical;
}

export class HybridClock {
  private ms = 0;
  private logical = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A timestamp for a local event. */
  tick(): Hlc {
    const wall = Math.min(Math.floor(this.now()), MAX_MS);
    if (wall > this.ms) {
      this.ms = wall;
      this.logical = 0;
    } else if (this.logical < MAX_LOGICAL) {
      this.logical++;
    } else {
      this.ms++;
      this.logical = 0;
    }
    return { ms: this.ms, logical: this.logical };
  }

  /** Take a received timestamp into account, so that later local ones order after it. */
  observe(ms: number, logical: number): void {
    if (ms > this.ms || (ms === this.ms && logical > this.logical)) {
      this.ms = Math.min(ms, MAX_MS);
      this.logical = Math.min(logical, MAX_LOGICAL);
    }
  }
}
