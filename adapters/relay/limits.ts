/**
 * Token buckets for per-connection rate limits. Pure and clock-injected: `take(n, nowMs)` refills at
 * `rate` per second up to `burst`, then spends `n`; false means the caller exceeded its budget.
 * A bucket never holds more than `burst`, so an idle connection cannot save up for a flood.
 */

export class TokenBucket {
  private level: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.level = burst;
    this.last = now;
  }

  take(n: number, now: number): boolean {
    if (now > this.last) {
      this.level = Math.min(this.burst, this.level + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
    this.level -= n;
    return this.level >= 0;
  }
}

export interface RateLimit {
  /** Sustained inbound frames per second, and how many may come at once. */
  framesPerSecond: number;
  frameBurst: number;
  /** Sustained inbound bytes per second, and how many may come at once. */
  bytesPerSecond: number;
  byteBurst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = {
  framesPerSecond: 2_000,
  frameBurst: 10_000,
  bytesPerSecond: 16 * 1024 * 1024,
  byteBurst: 64 * 1024 * 1024,
};

/** Both budgets of one connection. */
export class ConnectionLimiter {
  private readonly frames: TokenBucket;
  private readonly bytes: TokenBucket;

  constructor(limit: RateLimit, now: number) {
    this.frames = new TokenBucket(limit.framesPerSecond, limit.frameBurst, now);
    this.bytes = new TokenBucket(limit.bytesPerSecond, limit.byteBurst, now);
  }

  /** False once the connection sent more than its budget. */
  admit(bytes: number, now: number): boolean {
    const a = this.frames.take(1, now);
    const b = this.bytes.take(bytes, now);
    return a && b;
  }
}
