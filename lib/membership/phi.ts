/**
 * Phi-accrual failure detector (Hayashibara, Défago, Yared, Katayama, "The φ Accrual Failure Detector",
 * 2004), for a client watching its relay's heartbeats. Pure: time is passed in.
 *
 * Instead of a yes/no timeout it reports suspicion on a continuous scale: with the gaps between recent
 * heartbeats modelled as a normal distribution N(μ + pause, σ), φ(t) = −log10 P(gap > t − last), so
 * φ = 1 means a 10 % chance the heartbeat is merely late, φ = 3 a 0.1 % chance, and so on. The caller picks
 * the threshold (8 is a common choice). φ grows without bound during silence and is finite (never
 * Infinity): the tail probability is evaluated in log space.
 *
 * - `windowSize` most recent gaps are kept (a ring; sums are kept incrementally).
 * - `minStdDev` floors σ, so perfectly regular heartbeats do not make a 1 ms delay look fatal.
 * - `acceptableHeartbeatPause` is added to the mean: pauses up to it (GC, a busy relay) cost little.
 * - Until two heartbeats arrived, the gap is assumed to be `firstHeartbeatEstimate` (σ a quarter of it).
 *   Before the first heartbeat φ is 0: there is nothing to be late yet.
 */

export interface PhiOptions {
  windowSize?: number;
  minStdDev?: number;
  acceptableHeartbeatPause?: number;
  firstHeartbeatEstimate?: number;
}

const LN10 = Math.log(10);

/** ln(erfc(z)) for any real z, finite for large z (Chebyshev fit of erfc, relative error below 1.2e-7). */
export function logErfc(z: number): number {
  const x = Math.abs(z);
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const lnTail = Math.log(t) - x * x + poly;
  return z >= 0 ? lnTail : Math.log(2 - Math.exp(lnTail));
}

export class PhiDetector {
  readonly windowSize: number;
  readonly minStdDev: number;
  readonly acceptableHeartbeatPause: number;
  readonly firstHeartbeatEstimate: number;
  private readonly gaps: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;
  private last: number | undefined;

  constructor(options: PhiOptions = {}) {
    this.windowSize = options.windowSize ?? 100;
    this.minStdDev = options.minStdDev ?? 100;
    this.acceptableHeartbeatPause = options.acceptableHeartbeatPause ?? 0;
    this.firstHeartbeatEstimate = options.firstHeartbeatEstimate ?? 1000;
    if (!(Number.isSafeInteger(this.windowSize) && this.windowSize > 0)) throw new RangeError('PhiDetector: windowSize must be a positive integer');
    if (!(this.minStdDev > 0)) throw new RangeError('PhiDetector: minStdDev must be positive');
    if (!(this.acceptableHeartbeatPause >= 0)) throw new RangeError('PhiDetector: acceptableHeartbeatPause must be ≥ 0');
    if (!(this.firstHeartbeatEstimate > 0)) throw new RangeError('PhiDetector: firstHeartbeatEstimate must be positive');
  }

  /** Gaps currently in the window. */
  get samples(): number {
    return this.gaps.length;
  }

  /** Record a heartbeat arriving at `now`. A time earlier than the last heartbeat is ignored. */
  heartbeat(now: number): void {
    if (this.last !== undefined) {
      if (now < this.last) return;
      this.record(now - this.last);
    }
    this.last = now;
  }

  /** Suspicion level at `now`: 0 before the first heartbeat, then growing with silence. */
  phi(now: number): number {
    if (this.last === undefined) return 0;
    const elapsed = Math.max(0, now - this.last);
    let mean: number;
    let std: number;
    if (this.gaps.length === 0) {
      mean = this.firstHeartbeatEstimate;
      std = mean / 4;
    } else {
      const n = this.gaps.length;
      mean = this.sum / n;
      std = Math.sqrt(Math.max(0, this.sumSq / n - mean * mean));
    }
    std = Math.max(std, this.minStdDev);
    const y = (elapsed - (mean + this.acceptableHeartbeatPause)) / std;
    // P(gap > elapsed) = erfc(y / √2) / 2
    const log10Later = (logErfc(y / Math.SQRT2) - Math.LN2) / LN10;
    return Math.max(0, -log10Later);
  }

  /** true while φ(now) is below `threshold`. */
  isAvailable(now: number, threshold = 8): boolean {
    return this.phi(now) < threshold;
  }

  private record(gap: number): void {
    if (this.gaps.length < this.windowSize) {
      this.gaps.push(gap);
    } else {
      const old = this.gaps[this.next] as number;
      this.sum -= old;
      this.sumSq -= old * old;
      this.gaps[this.next] = gap;
      this.next = (this.next + 1) % this.windowSize;
    }
    this.sum += gap;
    this.sumSq += gap * gap;
  }
}
