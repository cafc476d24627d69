/**
 * The keys of ours an anti-entropy run (repair.ts) left out since its last turn went, their newest records not durable:
 * the next turn goes only once those records are durable.
 *
 * Why: the peer takes the top we told as its cursor into our log at the run's end, and that top passes such a key's
 * older record, which went neither way (the newer one goes by the log stream). Were the newer record lost in a crash,
 * the older would come back below the peer's cursor, never sent, and the cursor, resumed in the next hello, would count
 * it held (acks.ts): a write reported synced that no other replica holds (simulator seed withheld 1736500179). Once the
 * newer record is durable, the key's durable record lies past the top for good, and the stream from the top sends it.
 * The wait is one fsync of our own storage at most: nothing the peer does lengthens it.
 */
import type { RepairPort } from './repair-port.js';

export class LeftOut {
  /** The highest seq of a record left out that was read. */
  private seq = 0;
  /** The tree left keys out (hub.ts `unsettled`): their records are read when the turn waits. */
  private tree = false;
  /** The keys left out (at most MAX_LEFT_OUT named). */
  private readonly keys = new Set<string>();

  /** `keys` left out, their newest record at `seq`; 0: keys the tree left out. */
  note(seq: number, keys: Iterable<string>): void {
    if (seq === 0) this.tree = true;
    else if (seq > this.seq) this.seq = seq;
    for (const k of keys) {
      if (this.keys.size >= MAX_LEFT_OUT) break;
      this.keys.add(k);
    }
  }

  /**
   * Waits until every record noted (and of the keys the tree still leaves out) is durable — or its transaction failed
   * (core.ts `abandonedSeq`): then the key is back at an older record, which may lie at or below the run's top. Returns
   * the keys noted, for the run to look at again.
   */
  async settle(port: Pick<RepairPort, 'index' | 'get' | 'durableTo'>): Promise<ReadonlySet<string>> {
    let seq = this.seq;
    if (this.tree) for (const k of (await port.index()).unsettled ?? []) seq = Math.max(seq, (await port.get(k))?.seq ?? 0);
    await port.durableTo(seq);
    return this.keys;
  }
}

/** Keys a run names as left out, at most (the stream sends each once it settles, echo or not: outgoing.ts `owed`). */
export const MAX_LEFT_OUT = 4096;

/** Notes `keys` left out of `run` (named up to MAX_LEFT_OUT). */
export function leaveOut(run: { skipped?: Set<string> }, keys: Iterable<string>): void {
  const left = (run.skipped ??= new Set());
  for (const k of keys) {
    if (left.size >= MAX_LEFT_OUT) return;
    left.add(k);
  }
}
