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
  /**
   * The keys left out, every one (not capped as a run's `skipped` is: they are keys with a record in flight or unsettled
   * in the tree, all held in memory already, and a key past a cap would go unchecked — rev43).
   */
  private readonly keys = new Set<string>();

  /** `keys` left out, their newest record at `seq`; 0: keys the tree left out. */
  note(seq: number, keys: Iterable<string>): void {
    if (seq === 0) this.tree = true;
    else if (seq > this.seq) this.seq = seq;
    for (const k of keys) this.keys.add(k);
  }

  /**
   * Waits until every record noted (and of the keys the tree still leaves out) is durable — or its transaction failed
   * (core.ts `abandonedSeq`): then the key is back at an older record, which may lie at or below the run's top. Returns
   * the keys noted, for the run to look at again, and the space's durable top read after the wait.
   */
  async settle(port: Pick<RepairPort, 'index' | 'get' | 'durableTo'>): Promise<{ keys: ReadonlySet<string>; durable: number }> {
    let seq = this.seq;
    if (this.tree) for (const k of (await port.index()).unsettled ?? []) seq = Math.max(seq, (await port.get(k))?.seq ?? 0);
    await port.durableTo(seq);
    return { keys: this.keys, durable: (await port.index()).lastSeq };
  }
}

/** What of a run `settleRun` reads and keeps (repair.ts `Run`). */
export interface Settling {
  myTop: number;
  /** Keys whose state went to the peer in the run. */
  sent: Set<string>;
  leftOut?: LeftOut;
  /** Keys whose states `settleRun` sent back in the run: each goes once. */
  resent?: Set<string>;
}

/** Rounds of one settle: each after the first waits for records written again while the one before waited. */
const MAX_ROUNDS = 4;

/**
 * Before a run's next turn, after it left keys out: waits until their records are durable (LeftOut.settle). A key whose
 * newer record's transaction failed meanwhile (rolled back) is back at its durable record, which may lie at or below the
 * run's top: the stream, from the top, never reads it, and nothing of the run carried it — `send` sends its state now
 * (once a run), or the peer's acknowledgements past the top would count the write held (rev42). A key written again
 * while we waited (its record not durable after the wait, which may fail too: rev43) is waited for in the next round.
 * Not durable, rather than past the seq waited for: a failed transaction's seqs are taken back and given again, so the
 * rewrite may lie at that very seq or below it (flk45: a group of two failed, the rewrite took the seq waited for, the
 * run ended, the rewrite failed too, and the peer's acknowledgements past the top counted the write it never got).
 * `going`: the run is still ours and the session open.
 */
export async function settleRun(run: Settling, port: Pick<RepairPort, 'index' | 'get' | 'durableTo'>, send: (keys: string[]) => Promise<readonly string[]>, going: () => boolean): Promise<void> {
  const resent = (run.resent ??= new Set());
  for (let round = 0; run.leftOut && round < MAX_ROUNDS && going(); round++) {
    const left = run.leftOut;
    run.leftOut = undefined;
    const { keys, durable } = await left.settle(port);
    const back: string[] = [];
    for (const k of keys) {
      const rec = await port.get(k);
      if (rec && rec.seq > durable) (run.leftOut ??= new LeftOut()).note(rec.seq, [k]);
      else if (rec && rec.seq <= run.myTop && !resent.has(k)) {
        resent.add(k);
        run.sent.delete(k);
        back.push(k);
      }
    }
    // Their states may leave keys out again (a newer write): the next round waits for those, and such a key's state did
    // not go — it may go back once its newer record fails too.
    if (back.length > 0 && going()) {
      const went = new Set(await send(back));
      for (const k of back) if (!went.has(k)) resent.delete(k);
    }
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
