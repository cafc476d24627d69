/**
 * A first-in first-out queue of (space, key, seq) triples — records applied and not told or heard of yet (change-order.ts
 * `inOrder`, ahead-notes.ts): every put in flight on file storage passes through two of them until its group's fsync.
 * Held in fixed chunks, so the queue never copies what it holds as it grows (an array pushed to 100 000 times copies its
 * contents again and again, ~80 bytes a triple allocated in all), nor as it drains (a chunk the front passed is
 * dropped whole, not sliced off).
 */
const CHUNK = 1024;

export class RecordQueue {
  /** Chunks of CHUNK triples (space, key, seq) in order; the front one is read from `head`, the last filled to `tail`. */
  private chunks: unknown[][] = [];
  private head = 0;
  private tail = CHUNK;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(space: string, key: string, seq: number): void {
    if (this.tail === CHUNK) {
      this.chunks.push(new Array<unknown>(3 * CHUNK));
      this.tail = 0;
    }
    const c = this.chunks[this.chunks.length - 1]!;
    const at = 3 * this.tail++;
    c[at] = space;
    c[at + 1] = key;
    c[at + 2] = seq;
    this.count++;
  }

  /** The front triple's fields (the queue is not empty). */
  get firstSpace(): string {
    return this.chunks[0]![3 * this.head] as string;
  }

  get firstKey(): string {
    return this.chunks[0]![3 * this.head + 1] as string;
  }

  get firstSeq(): number {
    return this.chunks[0]![3 * this.head + 2] as number;
  }

  /** The seq of the triple pushed last (the queue is not empty). */
  get lastSeq(): number {
    return this.chunks[this.chunks.length - 1]![3 * this.tail - 1] as number;
  }

  /** Takes the front triple off. */
  shift(): void {
    if (--this.count === 0) return this.clear();
    if (++this.head === CHUNK) {
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Hands every triple to `to`, front first. */
  forEach(to: (space: string, key: string, seq: number) => void): void {
    let i = this.head;
    let left = this.count;
    for (const c of this.chunks) {
      for (; i < CHUNK && left > 0; i++, left--) to(c[3 * i] as string, c[3 * i + 1] as string, c[3 * i + 2] as number);
      i = 0;
    }
  }

  clear(): void {
    // the last chunk is kept for the next triples (a queue that empties and fills again allocates none)
    if (this.chunks.length > 1) this.chunks = [this.chunks[this.chunks.length - 1]!];
    this.head = this.tail = this.count = 0;
    if (this.chunks.length === 0) this.tail = CHUNK;
  }
}
