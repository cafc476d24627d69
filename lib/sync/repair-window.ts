/**
 * The session-wide window for repair frames: at most `size` unacknowledged, across spaces, and none sent
 * while the transport holds more than `highWater` bytes unsent (it drains without telling: look again shortly).
 */
export class RepairWindow {
  private inflight = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly buffered: () => number,
    private readonly setTimer: (fn: () => void, ms: number) => unknown,
    private readonly size = 8,
    private readonly highWater = 4 * 1024 * 1024,
  ) {}

  /** Resolves once a repair frame may go (or the session closed). */
  async room(closed: () => boolean): Promise<void> {
    while (!closed() && (this.inflight >= this.size || this.buffered() > this.highWater)) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        if (this.inflight < this.size) this.setTimer(resolve, 20);
      });
    }
  }

  sent(): void {
    this.inflight++;
  }

  acked(): void {
    if (this.inflight > 0) this.inflight--;
    this.wake();
  }

  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
