/**
 * Change events in log order, per key. Storage promises no order in which this instance hears its transactions
 * resolve in: one group commit resolves several at once, and a join's path takes more turns than a local write's (or
 * a storage answers late). A join of a peer's state of a key (seq n) may so be heard after this instance's later write
 * of the key (seq n + 1). Its change then describes a record the key no longer has: told after the newer one, it would
 * set back whatever follows the key's records — the pending count (pending.ts), the Merkle tree's leaf (hub.ts: an
 * anti-entropy run then sees no difference where there is one, and confirms what it never sent), the app's view.
 *
 * So the core notes the seqs of the records it applied (`applied`) until their changes are told or their
 * transactions fail (`told`), and while an older record of a key is untold keeps the newest seq told of it: an older
 * change told after it is stale and not emitted (the newer record supersedes or contains it, as the log does). Only
 * keys of transactions in flight are held.
 */
export class ChangeOrder {
  /** space\nkey → seqs of records applied and not told yet. */
  private readonly untold = new Map<string, number[]>();
  /** space\nkey → the newest seq told while an older one was untold. */
  private readonly newest = new Map<string, number>();

  /** The lowest seq applied and not told yet (Infinity: none). */
  lowestUntold(): number {
    let low = Infinity;
    for (const seqs of this.untold.values()) for (const n of seqs) if (n < low) low = n;
    return low;
  }

  applied(space: string, key: string, seq: number): void {
    const id = `${space}\n${key}`;
    const seqs = this.untold.get(id);
    if (seqs) seqs.push(seq);
    else this.untold.set(id, [seq]);
  }

  /**
   * The change of `key`'s record at `seq` is to be told now (or its transaction failed): true when a newer record of
   * the key was told before it (then it is stale, and not to be told).
   */
  told(space: string, key: string, seq: number): boolean {
    if (this.untold.size === 0) return false;
    const id = `${space}\n${key}`;
    const seqs = this.untold.get(id);
    if (seqs === undefined) return false;
    const at = seqs.indexOf(seq);
    if (at >= 0) seqs.splice(at, 1);
    const stale = (this.newest.get(id) ?? 0) > seq;
    if (seqs.length === 0) {
      this.untold.delete(id);
      this.newest.delete(id);
    } else if (!stale && seqs.some((n) => n < seq)) this.newest.set(id, seq);
    return stale;
  }
}
