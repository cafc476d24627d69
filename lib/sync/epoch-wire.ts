/**
 * Dots that name their epoch, on the wire: protocol 11 (docs/design/epochs-build.md, stage 2 item 2).
 *
 * Versions, delta bases, context entries and anti-entropy claims are written as before, with one flag each (where it
 * goes is wire-state.ts's and ae-codec.ts's to say): `named` 0 — the dot's epoch is the one it implies; 1 — an epoch
 * reference follows.
 *
 *   implied     a dot (r, n) of the frame's sender: the epoch of the chain it implies (EpochSide: what the receiver
 *               holds of the sender's chain, oldest first, each epoch with the counter it forked at; from its last
 *               root label on: impliedEpoch) whose range holds n — untagged '' at or below the first one's fork point;
 *               any dot of a sender whose side is `plain`: untagged; a dot of any other replica: untagged, but in a LIVE
 *               frame the epoch the link's last entry for that replica named, as of the frame's start (epoch-table.ts).
 *               So an untagged state costs no byte for its epochs, nor a state whose dots are all the sender's own in
 *               its current chain, nor a writer's keystroke a relay forwards once the link named the writer's epoch.
 *   plain       a side turns plain (for good) at the first reference of a frame to its sender's untagged epoch (a
 *               dot of the sender's own named untagged): the sender does not tag above where its chain implied it
 *               does (a replica that does not tag, identity.ts `tagged`: its history's epochs, even a root label minted
 *               for a first epoch it never tagged in, name none of its dots), so that dot is the last to pay for it.
 *               Within the frame both ends turn at that reference (EpochFrame.turnsPlain: every implied epoch is
 *               taken where the dot is written and read, in one order); for the link, between frames: the sender as
 *               the frame goes (ToldChains commit), the receiver once the frame decoded whole (messages.ts); never at
 *               a PART frame (EpochOut.done), whose turn stays its own. A tagging sender names no own dot untagged
 *               above its root label's fork, so it never turns plain.
 *   reference   an index into the frame's table of epochs, grown as the frame names them (like its string table;
 *               a LIVE frame's is the link's, kept from frame to frame and bounded: epoch-table.ts): 0, then a new
 *               entry; else 1 + the index of an entry made before, which must be of the same replica as the dot that
 *               names it. A new entry: 0 for the untagged epoch; else k × 2 + whole, then
 *               k records (label, fork) oldest first, the last one the epoch named: each epoch forked from the one
 *               before it at that counter, the oldest from the untagged epoch when `whole` (else its parent is not
 *               told and it is left out, as Epochs.learn does with a hello's history); or 1 then the label alone, for an
 *               epoch whose chain the receiver holds (an earlier frame of the link carried it: ToldChains), which the
 *               receiver's registry must then hold.
 *
 * The decoder checks every reference and record (bounds, labels, a label twice in one chain, fork points going
 * down) and refuses the frame with a ProtocolError; the records of a frame that decoded whole are handed to the
 * receiver's registry (Epochs.learnChain), one call per entry. A peer that negotiated 10 or less gets the bytes it
 * always did, and a state naming an epoch is refused for it (wire-state.ts: sending it untagged is item 6's rule).
 */
import { CausalParts, isReplicaId, type Causal } from '../dvv.js';
import { MAX_FRAME_RECORDS, UNTAGGED, type EpochRecord, type EpochRegistry } from '../epoch-points.js';
import { lastRootIndex, type EpochEntry } from '../epochs.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { LinkEpochsIn, LinkEpochsOut } from './epoch-table.js';
import type { ToldChains } from './told-chains.js';

/** The first protocol version whose dots may name epochs. */
export const EPOCH_DOTS = 11;

/** Records one table entry may carry (a stored history's cap, epochs.ts MAX_STORED_EPOCHS). */
export const MAX_CHAIN_RECORDS = 64;
/** Entries one frame's epoch table may hold. */
export const MAX_FRAME_EPOCHS = 1024;
/** A table entry's head for an epoch named by its label alone, its chain held by the receiver (k = 0, whole). */
const HELD = 1;

const MAX_COUNTER = 2 ** 48;

/**
 * A side of a connection: its replica id and the chain its dots imply (oldest first): the records of its epochs the
 * receiver holds, as both ends agree on it — at the start what the receiver said it holds (a server's hello, HELLO
 * `holds`), from the sender's EPOCHS frames on its whole chain (epoch-chain.ts). It changes only between frames, at an
 * EPOCHS frame, the same on both ends (the sender as the frame leaves, the receiver as it learns the frame).
 */
export interface EpochSide {
  readonly id: string;
  chain: readonly EpochEntry[];
  /** Every dot of the sender implies the untagged epoch (`plain` above). */
  plain?: boolean;
}

/**
 * The epoch a side's chain implies for its sender's dot at counter `n`: chainEpoch of its entries from the last root
 * label on (epochs.ts ROOT_LABEL: where the sender's tagging starts, every own dot at or below its fork untagged); of
 * the whole chain where none is among them (a tagger whose root label left the hello's last epochs).
 */
export function impliedEpoch(chain: readonly EpochEntry[], n: number): string {
  return chainEpoch(chain, n, Math.max(lastRootIndex(chain), 0));
}

export { ToldChains } from './told-chains.js';

/** A connection where both hellos announced protocol 11. */
export interface EpochLink {
  readonly me: EpochSide;
  readonly peer: EpochSide;
  /** What the receiver holds (the sender's side): an epoch whose chain it holds is named by its label alone. */
  readonly told?: ToldChains;
  /** The registry the records of the epochs we name are taken from. */
  readonly reg: () => EpochRegistry;
  /**
   * Learns the chain records of a frame received whole (the registry's `Epochs.learnChain`, all or none); returns why
   * they were refused (a record conflicting with a known one, a bound passed), and the frame is then refused with it.
   * Whose records a frame may teach is the link's to decide (wire.ts `Wire.start`: its sender's own, others' only from
   * a trusted relay).
   */
  readonly learn: (r: string, records: readonly EpochRecord[]) => string | undefined;
}

/** The epoch of counter `n` in a tagged chain (its entries from `at` on): the last epoch that forked below n, untagged when none did. */
export function chainEpoch(chain: readonly EpochEntry[], n: number, at = 0): string {
  let e = UNTAGGED;
  for (let i = at; i < chain.length; i++) {
    const [label, from] = chain[i]!;
    if (n <= from) break;
    e = label;
  }
  return e;
}

/**
 * The records of epoch `e` of `r` as the registry knows them, oldest first, and whether they reach the untagged epoch.
 * Cut (the oldest record then names an epoch whose parent is not told) where the registry knows no more, after
 * MAX_CHAIN_RECORDS, and where what it was told cannot be a history — a loop, or a fork point above its child's
 * (counters go on across epochs): such records are not sent, since a receiver refuses them.
 */
export function frameChain(reg: EpochRegistry, r: string, e: string): { records: EpochEntry[]; whole: boolean } {
  const up: EpochEntry[] = [];
  const seen = new Set<string>();
  let tag = e;
  let limit = Infinity;
  for (;;) {
    const p = reg.parentOf(r, tag);
    if (p === undefined || p.fork > limit || up.length >= MAX_CHAIN_RECORDS - 1) {
      up.push([tag, 0]);
      return { records: up.reverse(), whole: false };
    }
    up.push([tag, p.fork]);
    seen.add(tag);
    limit = p.fork;
    if (p.parent === UNTAGGED) return { records: up.reverse(), whole: true };
    if (seen.has(p.parent)) return { records: up.reverse(), whole: false };
    tag = p.parent;
  }
}

abstract class EpochFrame {
  constructor(
    protected readonly sender: EpochSide,
    private readonly last: { implied(r: string): string | undefined },
  ) {}

  /**
   * The epoch a dot (r, n) implies when it names none: for the sender's, untagged for a plain side and past where the
   * frame turned it; for another replica's, the epoch its last entry in the link's table named (LIVE: epoch-table.ts).
   */
  implied(r: string, n: number): string {
    if (r !== this.sender.id) return this.last.implied(r) ?? UNTAGGED;
    return this.sender.plain !== true && !this.turnsPlain ? impliedEpoch(this.sender.chain, n) : UNTAGGED;
  }

  /** Whether `r` is the frame's sender. */
  own(r: string): boolean {
    return r === this.sender.id;
  }

  /**
   * Whether the frame named a dot of its sender untagged (`plain`): the rest of the frame implies its sender's dots
   * untagged — both ends turn at that reference, read and written in one order — and the side turns plain after it
   * (not at a PART frame).
   */
  turnsPlain = false;

  protected noteRef(r: string, e: string): void {
    if (r === this.sender.id && e === UNTAGGED) this.turnsPlain = true;
  }
}

/** One frame's epochs, as written; `table`: the link's (a LIVE frame), else the frame's own. */
export class EpochOut extends EpochFrame {
  private added = 0;

  constructor(
    sender: EpochSide,
    private readonly reg: EpochRegistry,
    private readonly told?: ToldChains,
    private readonly table = new LinkEpochsOut(),
  ) {
    super(sender, table);
  }

  /** Entries the frame added to its table (a frame without any is the same bytes whatever the registry knows). */
  get entries(): number {
    return this.added;
  }

  /**
   * The frame is written: where it named a dot of its sender untagged, the side turns plain (once it goes, with
   * `told`; else now). Not for a PART frame: a key's parts are written before any of them goes, and one may be
   * written again smaller (key-parts.ts), so neither end turns a side plain at one.
   */
  done(part: boolean): void {
    if (!this.turnsPlain || part) return;
    if (this.told) this.told.turnsPlain(this.sender);
    else this.sender.plain = true;
  }

    /** Whether dot (r, e, n) must name its epoch. */
  named(r: string, n: number, e: string | undefined): boolean {
    return (e ?? UNTAGGED) !== this.implied(r, n);
  }

  /** Writes a reference to epoch `e` of `r`. */
  ref(w: Writer, r: string, e: string | undefined): void {
    const label = e ?? UNTAGGED;
    const i = this.table.find(r, label);
    if (i !== undefined) return w.uint(i + 1);
    this.table.add(r, label);
    this.added++;
    w.uint(0);
    if (label === UNTAGGED) {
      this.noteRef(r, label);
      return w.uint(0);
    }
    if (this.told?.has(r, label)) return (w.uint(HELD), w.str(label));
    const { records, whole } = frameChain(this.reg, r, label);
    // The receiver learns the epoch named only from a record of it: one whose parent goes too (chainRecords).
    if (whole || records.length > 1) this.told?.note(r, label);
    w.uint(records.length * 2 + (whole ? 1 : 0));
    for (const [l, from] of records) {
      w.str(l);
      w.uint(from);
    }
  }
}

/** A chain a frame told: learned once the frame decoded whole. */
export interface ChainRecords {
  readonly r: string;
  readonly records: readonly EpochEntry[];
  readonly whole: boolean;
}

/**
 * A table entry's chain as the registry's records (`Epochs.learnChain`): each epoch under the one before it at its
 * fork; the oldest under the untagged root when the chain is whole, else left out (its parent is not told).
 */
export function chainRecords(c: ChainRecords): EpochRecord[] {
  const out: EpochRecord[] = [];
  c.records.forEach(([e, fork], i) => {
    if (i > 0) out.push({ e, parent: c.records[i - 1]![0], fork });
    else if (c.whole) out.push({ e, parent: UNTAGGED, fork });
  });
  return out;
}

/**
 * One frame's epochs, as read. `reg`: the receiver's registry, which must hold an epoch named by its label alone;
 * `table`: the link's (a LIVE frame), else the frame's own.
 */
export class EpochIn extends EpochFrame {
  constructor(
    sender: EpochSide,
    private readonly reg?: EpochRegistry,
    private readonly table = new LinkEpochsIn(MAX_FRAME_EPOCHS, "a frame's"),
  ) {
    super(sender, table);
  }

  readonly chains: ChainRecords[] = [];
  /** Records the frame's table carried so far: at most MAX_FRAME_RECORDS a frame, as an EPOCHS frame. */
  private records = 0;

  /** The epoch of dot (r, n): read from a reference when `named`, else implied. */
  epoch(rd: Reader, r: string, n: number, named: boolean): string {
    return named ? this.ref(rd, r) : this.implied(r, n);
  }

  /** Reads a reference to an epoch of `r`. */
  ref(rd: Reader, r: string): string {
    const i = rd.uint();
    if (i > 0) {
      const t = this.table.get(i - 1);
      if (t === undefined) throw new ProtocolError('unknown epoch reference');
      if (t.r !== r) throw new ProtocolError("an epoch reference names another replica's epoch");
      return t.e;
    }
    this.table.room();
    const head = rd.uint();
    let e = UNTAGGED;
    if (head === HELD) {
      e = rd.str();
      if (!isReplicaId(e)) throw new ProtocolError('invalid epoch label');
      // Named alone, its chain must be here (item 3: no judging with an unknown ancestry).
      if (this.reg?.parentOf(r, e) === undefined) throw new ProtocolError(`epoch ${e} of ${r} named without its chain, which this end does not hold`);
    } else if (head !== 0) {
      const k = Math.floor(head / 2);
      if (k < 1 || k > MAX_CHAIN_RECORDS) throw new ProtocolError('invalid epoch chain: too long or empty');
      if (k * 2 > rd.remaining) throw new ProtocolError('count exceeds frame');
      if ((this.records += k) > MAX_FRAME_RECORDS) throw new ProtocolError(`a frame's epoch table of more than ${MAX_FRAME_RECORDS} records`);
      const records: EpochEntry[] = [];
      const labels = new Set<string>();
      for (let j = 0; j < k; j++) {
        const label = rd.str();
        const from = rd.uint();
        if (!isReplicaId(label)) throw new ProtocolError('invalid epoch label');
        if (labels.has(label)) throw new ProtocolError('invalid epoch chain: a loop');
        if (from > MAX_COUNTER || (j > 0 && from < records[j - 1]![1])) throw new ProtocolError('invalid epoch chain: fork points out of order');
        labels.add(label);
        records.push([label, from]);
      }
      e = records[k - 1]![0];
      this.chains.push({ r, records, whole: head % 2 === 1 });
    }
    this.noteRef(r, e);
    this.table.add(r, e);
    return e;
  }
}

/**
 * Writes a causal context from protocol 11: count × 2 + any, then per entry (one per point; a replica without points
 * one, untagged, its vector entry) the replica id and its counter — × 2 + named, then a reference when named, where
 * `any` says some entry is named (else every entry's epoch is implied and costs nothing).
 */
export function writeCausal(w: Writer, s: Causal, rid: (r: string) => void, ep: EpochOut): void {
  const entries: Array<readonly [string, string, number]> = [];
  for (const r of Object.keys(s.cc)) {
    const pts = s.pts?.[r];
    if (pts) for (const p of pts) entries.push([r, p.e, p.n]);
    else entries.push([r, UNTAGGED, s.cc[r]!]);
  }
  let any = false;
  for (const [r, e, n] of entries) if (ep.named(r, n, e)) any = true;
  w.uint(entries.length * 2 + (any ? 1 : 0));
  for (const [r, e, n] of entries) {
    rid(r);
    if (!any) {
      w.uint(n);
      continue;
    }
    const named = ep.named(r, n, e);
    w.uint(n * 2 + (named ? 1 : 0));
    if (named) ep.ref(w, r, e);
  }
}

/** Reads what writeCausal wrote: per replica its points (a replica whose only point is untagged: its vector entry). */
export function readCausal(rd: Reader, rid: () => string, ep: EpochIn): Causal {
  const head = rd.uint();
  const any = head % 2 === 1;
  const n = Math.floor(head / 2);
  if (n * 2 > rd.remaining) throw new ProtocolError('count exceeds frame');
  const parts = new CausalParts();
  for (let i = 0; i < n; i++) {
    const r = rid();
    const w = rd.uint();
    const c = any ? Math.floor(w / 2) : w;
    if (c < 1 || c > MAX_COUNTER) throw new ProtocolError('invalid causal context');
    if (!parts.add(r, ep.epoch(rd, r, c, any && w % 2 === 1), c)) throw new ProtocolError('invalid causal context');
  }
  return parts.build();
}
