/**
 * The repair frames (CHANGES with upTo 0) a session sent for one space, and the peer's acknowledgements of them
 * (ACK upTo 0, sent once a frame's states are durable there). An anti-entropy run's end tells the writer the peer
 * holds our state as of the run's start (`w.synced`), which is true only once every state sent to it is stored:
 * `settled` resolves when no repair frame is waiting for its acknowledgement (frames sent after it was asked count
 * too: a NEED answered meanwhile carries states the run promised), or when the peer refused them (a read-only client's
 * states are answered with DENIED, not acknowledged).
 */
export class RepairAcks {
  private sentFrames = 0;
  private ackedFrames = 0;
  private refusedAny = false;
  private waiters: Array<(stored: boolean) => void> = [];

  sent(): void {
    this.sentFrames++;
  }

  acked(): void {
    // An acknowledgement beyond what was sent is the peer's error; it settles nothing early.
    if (this.ackedFrames < this.sentFrames) this.ackedFrames++;
    if (this.ackedFrames === this.sentFrames) this.settle(!this.refusedAny);
  }

  /** The peer refused our states for the space (DENIED: read-only here): what we sent is not stored, nor will be. */
  refused(): void {
    this.refusedAny = true;
    this.settle(false);
  }

  /**
   * Resolves once every repair frame sent is acknowledged (true), or once the peer refused them (false); never, if
   * the session ends first.
   */
  settled(): Promise<boolean> {
    if (this.refusedAny) return Promise.resolve(false);
    if (this.ackedFrames === this.sentFrames) return Promise.resolve(true);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settle(stored: boolean): void {
    for (const resolve of this.waiters.splice(0)) resolve(stored);
  }
}
