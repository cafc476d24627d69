/**
 * Virtual time for the simulation: a clock, a timer queue implementing `LinkOptions.timers`, and a seeded
 * PRNG. Nothing here touches real timers, so a run is a pure function of its seed: timers fire in
 * (time, creation order), and between two timers every pending microtask settles (`settle()` waits one
 * macrotask turn, and Node drains the whole microtask queue before it).
 *
 *   const clock = new VirtualClock();
 *   replica.connect(t, { timers: clock });     openReplica({ storage, now: clock.now })
 *   await clock.step();                        // fires the earliest timer, then lets everything settle
 */
import type { Timers } from '../../lib/sync/link.js';

/** The library's seeded PRNG (mulberry32), so a failing run replays from its seed. */
import { prng } from '../../lib/check-merge.js';
export { prng };

/** Helpers over a `random()` source. */
export class Rng {
  constructor(readonly next: () => number) {}
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  /** A derived, independent stream (so adding draws in one concern does not shift another's). */
  fork(): Rng {
    return new Rng(prng(Math.floor(this.next() * 2 ** 32)));
  }
}

/** Lets every pending microtask run (Node drains them all before the next macrotask). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Timer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Timers {
  private t: number;
  private order = 0;
  private readonly heap: Timer[] = [];

  /** Starts at a plausible wall-clock time, so HLC timestamps look like real ones. */
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  readonly now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { at: this.t + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    if (handle && typeof handle === 'object' && 'cancelled' in handle) (handle as Timer).cancelled = true;
  }

  /** Live timers still queued. */
  get pending(): number {
    let n = 0;
    for (const t of this.heap) if (!t.cancelled) n++;
    return n;
  }

  /** The time of the earliest live timer, or undefined. */
  nextAt(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /** Fires the earliest live timer (advancing the clock to it) and settles; false when none is queued. */
  async step(): Promise<boolean> {
    this.dropCancelled();
    const timer = this.pop();
    if (!timer) return false;
    if (timer.at > this.t) this.t = timer.at;
    timer.fn();
    await settle();
    return true;
  }

  /** Fires every timer due up to now + ms, then sets the clock to now + ms. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (let at = this.nextAt(); at !== undefined && at <= end; at = this.nextAt()) await this.step();
    this.t = Math.max(this.t, end);
    await settle();
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled) this.pop();
  }

  // A binary min-heap on (at, order).
  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
