/**
 * The piggyback queue: membership updates waiting to ride on outgoing pings, acks and gossip.
 *
 * Invariants: at most one queued update per member (a newer update about a member replaces the older
 * one and starts its count afresh); `take` returns the least-transmitted updates first (ties: the most
 * recently queued first), so fresh news is never starved by old news; an update leaves the queue after
 * `limit` transmissions, the limit being computed by the caller from the cluster size at that moment.
 */
import type { Update } from './messages.js';

interface Queued {
  update: Update;
  transmits: number;
  /** Insertion order, for tie-breaking. */
  order: number;
}

export class BroadcastQueue {
  private readonly queued = new Map<string, Queued>();
  private order = 0;

  get size(): number {
    return this.queued.size;
  }

  push(update: Update): void {
    this.queued.set(update.id, { update, transmits: 0, order: this.order++ });
  }

  /** Up to `max` updates to piggyback now, each counted as transmitted once more. */
  take(max: number, limit: number, skip?: string): Update[] {
    if (this.queued.size === 0 || max <= 0) return [];
    const all = [...this.queued.values()];
    all.sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: Update[] = [];
    for (const q of all) {
      if (out.length >= max) break;
      if (q.update.id === skip) continue;
      out.push(q.update);
      q.transmits++;
      if (q.transmits >= limit) this.queued.delete(q.update.id);
    }
    return out;
  }
}
