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
 *
 * The lowest untold seq (pending.ts asks it whenever a space's floor would move) is the top of a min-heap of the untold
 * seqs. A told seq leaves the heap at once when it is the top (changes are mostly told in the order they were applied)
 * and otherwise later, when it reaches the top (`gone` counts those): O(log n) per record applied, O(1) amortised per
 * question, rather than a walk of every record in flight each time.
 *
 * Most records are told in the order they were applied (a group commit resolves its writes in order): while every
 * untold record was applied above the ones before it and each is told when it is the oldest, they wait in a queue
 * instead (`inOrder`), and no key is looked up at all — none of them can be stale (a key's newest told record is
 * only kept while an older one is untold) nor make one stale. The first record applied out of order, or told while
 * it is not the oldest, moves the queue into the maps and the heap, which answer from then on until nothing is untold.
 */
import { RecordQueue } from './record-queue.js';

export class ChangeOrder {
  /** The untold records, in the order applied (seqs increasing), while the maps hold none. */
  private readonly inOrder = new InOrder();
  /** space → key → the seq (or seqs, in the order applied) of its records applied and not told yet. */
  private readonly untold = new Map<string, Map<string, number | number[]>>();
  /** Keys in `untold`. */
  private keys = 0;
  /** space → key → the newest seq told while an older one was untold. */
  private readonly newest = new Map<string, Map<string, number>>();
  /** Min-heap of the untold seqs, and of told ones not yet removed from it (each counted in `gone`). */
  private readonly heap: number[] = [];
  /** seq → how many of the heap's entries of it were told (removed lazily, at the top). */
  private readonly gone = new Map<number, number>();

  /** Whether nothing applied is untold (no key's newest told seq kept either: those go with the last untold record). */
  get idle(): boolean {
    return this.keys === 0 && this.inOrder.lowest() === Infinity;
  }

  /** The lowest seq applied and not told yet (Infinity: none). */
  lowestUntold(): number {
    if (this.keys === 0) return this.inOrder.lowest();
    this.settleTop();
    return this.heap.length > 0 ? this.heap[0]! : Infinity;
  }

  applied(space: string, key: string, seq: number): void {
    if (this.keys === 0) {
      if (this.inOrder.push(space, key, seq)) return;
      this.inOrder.drain((s, k, n) => this.note(s, k, n));
    }
    this.note(space, key, seq);
  }

  private note(space: string, key: string, seq: number): void {
    let inSpace = this.untold.get(space);
    if (!inSpace) this.untold.set(space, (inSpace = new Map()));
    const seqs = inSpace.get(key);
    if (seqs === undefined) {
      inSpace.set(key, seq);
      this.keys++;
    } else if (typeof seqs === 'number') inSpace.set(key, [seqs, seq]);
    else seqs.push(seq);
    heapPush(this.heap, seq);
  }

  /**
   * The change of `key`'s record at `seq` is to be told now (or its transaction failed): true when a newer record of
   * the key was told before it (then it is stale, and not to be told).
   */
  told(space: string, key: string, seq: number): boolean {
    if (this.keys === 0) {
      if (this.inOrder.shift(space, key, seq)) return false;
      this.inOrder.drain((s, k, n) => this.note(s, k, n));
      if (this.keys === 0) return false;
    }
    const inSpace = this.untold.get(space);
    const seqs = inSpace?.get(key);
    if (seqs === undefined) return false;
    let removed = false;
    /** What stays untold of the key (undefined: nothing), and whether some of it is older than `seq`. */
    let left: number | number[] | undefined;
    let older = false;
    if (typeof seqs === 'number') {
      if (seqs === seq) removed = true;
      else {
        left = seqs;
        older = seqs < seq;
      }
    } else {
      const at = seqs.indexOf(seq);
      if (at >= 0) {
        seqs.splice(at, 1);
        removed = true;
      }
      left = seqs.length === 0 ? undefined : seqs.length === 1 ? seqs[0] : seqs;
      older = seqs.some((n) => n < seq);
    }
    if (removed) this.remove(seq);
    const newestIn = this.newest.size > 0 ? this.newest.get(space) : undefined;
    const stale = (newestIn?.get(key) ?? 0) > seq;
    if (left === undefined) {
      // The space's map stays (a client's space empties and fills again on every join: a map made and dropped each).
      inSpace!.delete(key);
      if (--this.keys === 0) this.clear();
      else if (newestIn?.delete(key) && newestIn.size === 0) this.newest.delete(space);
    } else {
      if (left !== seqs) inSpace!.set(key, left);
      if (!stale && older) {
        if (newestIn) newestIn.set(key, seq);
        else this.newest.set(space, new Map([[key, seq]]));
      }
    }
    return stale;
  }

  /** One untold record at `seq` is told: out of the heap now if it is the top, else once it gets there. */
  private remove(seq: number): void {
    if (this.heap[0] === seq) {
      heapPop(this.heap);
      this.settleTop();
    } else this.gone.set(seq, (this.gone.get(seq) ?? 0) + 1);
  }

  /** Pops told seqs off the top. */
  private settleTop(): void {
    const heap = this.heap;
    while (this.gone.size > 0 && heap.length > 0) {
      const top = heap[0]!;
      const n = this.gone.get(top);
      if (n === undefined) return;
      if (n === 1) this.gone.delete(top);
      else this.gone.set(top, n - 1);
      heapPop(heap);
    }
  }

  /** Nothing is untold: whatever the heap still holds was told. */
  private clear(): void {
    this.heap.length = 0;
    // Only maps that hold something: clear() makes a map's table anew even when it is empty.
    if (this.gone.size > 0) this.gone.clear();
    if (this.newest.size > 0) this.newest.clear();
  }
}

/** Records applied in increasing seq order and told oldest first (ChangeOrder.inOrder), in a queue of chunks (record-queue.ts). */
class InOrder {
  private readonly q = new RecordQueue();

  lowest(): number {
    return this.q.size > 0 ? this.q.firstSeq : Infinity;
  }

  /** Queues a record applied above every queued one; false (nothing queued) when it is not above them. */
  push(space: string, key: string, seq: number): boolean {
    if (this.q.size > 0 && this.q.lastSeq >= seq) return false;
    this.q.push(space, key, seq);
    return true;
  }

  /** Takes the oldest record off when it is this one; false (nothing taken) when it is not. */
  shift(space: string, key: string, seq: number): boolean {
    const q = this.q;
    if (q.size === 0 || q.firstSeq !== seq || q.firstKey !== key || q.firstSpace !== space) return false;
    q.shift();
    return true;
  }

  /** Hands every queued record to `to`, oldest first, and empties the queue. */
  drain(to: (space: string, key: string, seq: number) => void): void {
    this.q.forEach(to);
    this.q.clear();
  }
}

function heapPush(heap: number[], x: number): void {
  let i = heap.length;
  heap.push(x);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent]!;
    if (p <= x) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = x;
}

function heapPop(heap: number[]): void {
  const last = heap.pop()!;
  const n = heap.length;
  if (n === 0) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]! < heap[l]! ? r : l;
    if (heap[c]! >= last) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = last;
}
