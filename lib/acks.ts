/**
 * Tracks which local changes peers have stored. Peers acknowledge per space "I hold your change log up
 * to seq s"; a write is synced once any peer acknowledged a seq at or beyond its own (the key's later
 * state contains or supersedes it). Waiters are only created when someone awaits `w.synced`.
 *
 * Also kept: each peer's own acknowledgement per space (a relay counts how many relays of its cluster hold
 * a change), and the replication counts relays report to a client (`w.replicated(n)`): "n relays hold your
 * log in this space up to seq u" — monotone in u, since acknowledgements are cursors.
 */
interface Waiter {
  seq: number;
  n: number;
  resolve: () => void;
}

export class AckTracker {
  private readonly acked = new Map<string, number>();
  private readonly waiters = new Map<string, Array<{ seq: number; resolve: () => void }>>();
  /** peer → space → highest seq it acknowledged. */
  private readonly byPeer = new Map<string, Map<string, number>>();
  private readonly peerListeners = new Set<(peer: string, space: string, upTo: number) => void>();
  /** space → [upTo, count] announcements, upTo increasing, count decreasing (dominated ones dropped). */
  private readonly reps = new Map<string, Array<readonly [number, number]>>();
  private readonly repWaiters = new Map<string, Waiter[]>();

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

  /** A peer acknowledged our log in `space` up to `upTo` (`peer`: its replicaId, when known). */
  ack(space: string, seq: number, peer?: string): void {
    if (peer !== undefined && seq > 0) {
      let m = this.byPeer.get(peer);
      if (!m) this.byPeer.set(peer, (m = new Map()));
      if ((m.get(space) ?? 0) < seq) {
        m.set(space, seq);
        for (const l of this.peerListeners) l(peer, space, seq);
      }
    }
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

  /**
   * The peer's last session ended: forget its acknowledgements (a relay meets countless clients; a peer that
   * comes back acknowledges again when its stream restarts from its cursor).
   */
  forgetPeer(peer: string): void {
    this.byPeer.delete(peer);
  }

  /**
   * A re-identification re-issued the writes after `point` at new seqs (`moved`: space, new seq): a write
   * waiting at an old seq past the point now waits for the newest re-issued seq of its space.
   */
  reissued(point: number, moved: ReadonlyArray<readonly [string, number]>): void {
    const top = new Map<string, number>();
    for (const [space, seq] of moved) top.set(space, Math.max(top.get(space) ?? 0, seq));
    for (const [space, list] of this.waiters) {
      const t = top.get(space);
      if (t !== undefined) for (const w of list) if (w.seq > point && w.seq < t) w.seq = t;
    }
  }

  /** The seq up to which `peer` acknowledged our log in `space` (0 when it did not). */
  ackedBy(peer: string, space: string): number {
    return this.byPeer.get(peer)?.get(space) ?? 0;
  }

  /** Called on every per-peer acknowledgement that advanced; returns the unsubscribe function. */
  onPeerAck(listener: (peer: string, space: string, upTo: number) => void): () => void {
    this.peerListeners.add(listener);
    return () => void this.peerListeners.delete(listener);
  }

  // ---- replication counts reported by relays ------------------------------------------------------

  /** How many relays hold our log in `space` up to `seq`, as far as we were told (0 when unknown). */
  replicatedCount(space: string, seq: number): number {
    let best = 0;
    for (const [u, n] of this.reps.get(space) ?? []) if (u >= seq && n > best) best = n;
    return best;
  }

  /** A relay reported that `count` relays hold our log in `space` up to `upTo`. */
  replicated(space: string, upTo: number, count: number): void {
    const list = (this.reps.get(space) ?? []).filter(([u, n]) => !(u <= upTo && n <= count));
    if (list.some(([u, n]) => u >= upTo && n >= count)) return;
    list.push([upTo, count]);
    list.sort((a, b) => a[0] - b[0]);
    this.reps.set(space, list);
    const waiting = this.repWaiters.get(space);
    if (!waiting) return;
    const keep = waiting.filter((w) => {
      if (this.replicatedCount(space, w.seq) < w.n) return true;
      w.resolve();
      return false;
    });
    if (keep.length) this.repWaiters.set(space, keep);
    else this.repWaiters.delete(space);
  }

  waitReplicated(space: string, seq: number, n: number): Promise<void> {
    if (this.replicatedCount(space, seq) >= n) return Promise.resolve();
    return new Promise((resolve) => {
      let list = this.repWaiters.get(space);
      if (!list) this.repWaiters.set(space, (list = []));
      list.push({ seq, n, resolve });
    });
  }
}
