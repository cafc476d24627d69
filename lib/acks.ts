/**
 * Tracks which local changes a peer has stored. Peers acknowledge per space "I hold your change log up
 * to seq s"; a write is synced once any peer acknowledged a seq at or beyond its own (the key's later
 * state contains or supersedes it). Waiters are only created when someone awaits `w.synced`.
 */
export class AckTracker {
  private readonly acked = new Map<string, number>();
  private readonly waiters = new Map<string, Array<{ seq: number; resolve: () => void }>>();

  isAcked(space: string, seq: number): boolean {
    return (this.acked.get(space) ?? 0) >= seq;
  }

  wait(space: string, seq: number): Promise<void> {
    if (this.isAcked(space, seq)) return Promise.resolve();
    return new Promise((resolve) => {
      let list = this.waiters.get(space);
      if (!list) this.waiters.set(space, (list = []));
      list.push({ seq, resolve });
    });
  }

  ack(space: string, seq: number): void {
    if ((this.acked.get(space) ?? 0) >= seq) return;
    this.acked.set(space, seq);
    const list = this.waiters.get(space);
    if (!list) return;
    const keep = [];
    for (const w of list) {
      if (w.seq <= seq) w.resolve();
      else keep.push(w);
    }
    if (keep.length) this.waiters.set(space, keep);
    else this.waiters.delete(space);
  }
}
