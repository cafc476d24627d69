/**
 * The seqs of the memory storage's change log of one space (memory-storage.ts `logSeq`), in increasing order, kept in
 * Float64Array chunks: a number array of them was a backing store on the collected heap that every put grew by one
 * (copied whole each time it outgrew its capacity, then copied again by the young-generation collector while young) —
 * a client of a relay stores every key the relay fans out to it, so it was part of what each delivery left on the heap
 * (bench/floor/s7-client-kept.mjs). A chunk outside that heap is never copied once full (the first grows to CHUNK from
 * 64, so a small log stays small).
 */

const SHIFT = 12;
const CHUNK = 1 << SHIFT;
const MASK = CHUNK - 1;

export class SeqColumn {
  private readonly chunks: Float64Array[] = [new Float64Array(64)];
  /** Entries pushed. */
  length = 0;

  push(seq: number): void {
    const i = this.length;
    const c = i >> SHIFT;
    let chunk = this.chunks[c];
    if (chunk === undefined) this.chunks.push((chunk = new Float64Array(CHUNK)));
    else if ((i & MASK) >= chunk.length) {
      const grown = new Float64Array(Math.min(chunk.length * 2, CHUNK));
      grown.set(chunk);
      this.chunks[c] = chunk = grown;
    }
    chunk[i & MASK] = seq;
    this.length = i + 1;
  }

  /** The seq at `i` (< length). */
  at(i: number): number {
    return this.chunks[i >> SHIFT]![i & MASK]!;
  }

  /** The first index whose seq is > `seq` (sorted.ts upperBound over the column). */
  upperBound(seq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
