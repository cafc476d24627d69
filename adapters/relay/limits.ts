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

/**
 * What ws may buffer of one incoming message before it is whole: its fragments (continuation frames), and the socket's
 * chunks of one frame. Each costs some 135–185 bytes held however few bytes it brings: ws's defaults (16 384 fragments,
 * 262 144 chunks) let a frame sent a byte a write hold ~48 MiB a connection for 262 KiB sent, and 1-byte fragments
 * 2.2 MiB (test/security/fragments.test.ts). Honest senders send a message as one frame (browsers, adapters/ws), and
 * a frame of `maxPayload` read in chunks of 256 bytes or more on average — half the smallest segment an honest TCP path
 * carries (524 B of data: test/review/honest-chunks.test.ts), so a slow reader's split keeps twice its room: the bounds
 * leave that, and hold at most ~3 MiB (fragments: 140 KiB).
 */
export const MAX_FRAGMENTS = 1024;
export const maxBufferedChunks = (maxPayload: number): number => Math.max(1024, Math.ceil(maxPayload / 256));

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
