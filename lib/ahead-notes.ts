/**
 * The pending-writes map's notes of records applied here and not heard of yet (pending.ts `ahead`): space → key → the
 * seq of the key's newest such record. A note is made for every record a transaction of this instance applies before it
 * is durable — on file storage, every put in flight until its group's fsync (100 000 puts in flight: 100 000 notes) —
 * and dropped when the record's change is heard; it is read only when an acknowledgement, a withhold or a waiter asks
 * after a key, which puts in flight alone never do.
 *
 * So notes made in rising seq order wait in a queue (record-queue.ts: no key looked up), and the change heard for the
 * oldest of them takes it off the front — the usual case: a group commit tells its writes' changes in the order they
 * were applied. The first thing that is not so (a question about a key, a note below the last one, a change heard for
 * another record, a note taken back) moves the queue into the maps, which answer from then on, as before, until they are
 * empty again. What the maps then hold is exactly what they would hold had every note gone to them: a queued note left
 * the queue only where its change was heard for exactly its record, which drops it from the maps too (no later note
 * of the key lies at or below that seq: the queue's seqs rise).
 */
import { RecordQueue } from './record-queue.js';

export class AheadNotes {
  /** space → key → seq, once the queue moved here (or anything but the usual case happened). */
  private readonly maps = new Map<string, Map<string, number>>();
  /** The notes made in rising seq order while the maps hold none, oldest first. */
  private readonly queue = new RecordQueue();

  /** Whether any note is held. */
  get any(): boolean {
    return this.maps.size > 0 || this.queue.size > 0;
  }

  /** A record of `key` was applied at `seq`: the note a key keeps is its newest. */
  note(space: string, key: string, seq: number): void {
    if (this.maps.size === 0 && (this.queue.size === 0 || this.queue.lastSeq < seq)) {
      this.queue.push(space, key, seq);
      return;
    }
    const keys = this.mapOf(space, true)!;
    if ((keys.get(key) ?? 0) < seq) keys.set(key, seq);
  }

  /** The seq of `key`'s note, if it has one (stale or not). */
  get(space: string, key: string): number | undefined {
    return this.mapOf(space, false)?.get(key);
  }

  /** Drops `key`'s note. */
  delete(space: string, key: string): void {
    const keys = this.mapOf(space, false);
    if (keys?.delete(key) && keys.size === 0) this.maps.delete(space);
  }

  /**
   * The change of `key`'s record at `seq` was heard, every record up to `durable` being durable: a note at or below both
   * goes (heard, and durable).
   */
  heard(space: string, key: string, seq: number, durable: number): void {
    const q = this.queue;
    if (q.size > 0 && q.firstSeq === seq && seq <= durable && q.firstKey === key && q.firstSpace === space) {
      q.shift();
      return;
    }
    if (!this.any) return;
    const a = this.get(space, key);
    if (a !== undefined && a <= seq && a <= durable) this.delete(space, key);
  }

  /** The note of `key` at `seq` goes, if that is its note (its transaction failed). */
  dropIf(space: string, key: string, seq: number): void {
    if (this.get(space, key) === seq) this.delete(space, key);
  }

  /** The space's map, with the queue moved into the maps first (`make`: made when absent). */
  private mapOf(space: string, make: boolean): Map<string, number> | undefined {
    if (this.queue.size > 0) this.spill();
    let keys = this.maps.get(space);
    if (!keys && make) this.maps.set(space, (keys = new Map()));
    return keys;
  }

  /** The queue into the maps (its seqs rise: a key's last note in it is its newest). */
  private spill(): void {
    this.queue.forEach((space, key, seq) => {
      let keys = this.maps.get(space);
      if (!keys) this.maps.set(space, (keys = new Map()));
      keys.set(key, seq);
    });
    this.queue.clear();
  }
}
