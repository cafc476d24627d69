/**
 * The per-connection state of LIVE frames (messages.ts), one per direction: a string table (space names, keys,
 * replica ids: after its first use on the connection a string costs its index, one byte), the last log position
 * sent per space (a frame's `upTo` travels as the difference), the last HLC time (a version's time likewise) and, at
 * protocol 11, the epochs the frames named (epoch-table.ts: cleared with the strings, by the same flag).
 *
 * Invariants:
 * - Bounded: at most MAX_STRINGS strings and MAX_CHARS characters per direction. The sender clears its table at the
 *   start of a frame when it is within a frame's worth of either bound, and says so in the frame; a LIVE frame adds
 *   at most FRAME_STRINGS strings of at most FRAME_CHARS characters (the sender checks before it uses the form), so the
 *   receiver refuses a frame that would pass a bound (a hostile peer cannot grow it).
 * - In step: the sender's state changes only for frames it sends (`rollback` undoes a frame it encoded but did not
 *   send), the receiver's as it decodes, in order (a frame that fails to decode closes the connection).
 */
import { isReplicaId } from '../dvv.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { SPACE_NAME } from './fields.js';
import { LinkEpochsIn, LinkEpochsOut } from './epoch-table.js';
import type { EpochOut } from './epoch-wire.js';
import { rootState, TableState, type SharedLive } from './table-state.js';

export const MAX_STRINGS = 1024;
export const MAX_CHARS = 65536;
/** What one LIVE frame may add to the table at most. */
export const FRAME_STRINGS = 64;
export const FRAME_CHARS = 16384;

/**
 * The strings a table took after its seeds, in order, shared by the tables of one sender that took the same ones
 * (a relay's fan-out: a hundred links add each write's key; one of them adds it here, the others step over it).
 * Append-only: a position once written never changes, so a table sees its first `n` (`ConnTableOut.n`) whatever the
 * others append past them; a table adding a string other than the one at its position copies its first `n` to a log of
 * its own (a divergence: at most MAX_STRINGS strings, once per divergence). Each string holds one position.
 */
export class StringLog {
  readonly strings: string[] = [];
  readonly index = new Map<string, number>();

  /** A log of this one's first `n` strings. */
  prefix(n: number): StringLog {
    const log = new StringLog();
    for (let i = 0; i < n; i++) log.push(this.strings[i]!);
    return log;
  }

  push(s: string): void {
    this.index.set(s, this.strings.length);
    this.strings.push(s);
  }
}

export class ConnTableOut {
  /** The strings past the seeds: this table's are the log's first `n`. */
  private log = new StringLog();
  private n = 0;
  private chars = 0;
  /**
   * The state before the frame being written (`begin`), for `rollback`: strings and characters, or the table itself when
   * the frame cleared it; the time; the space's upTo. Fields, not an object: a relay writes a frame per session per write.
   */
  private saving = false;
  private savedN = 0;
  private savedChars = 0;
  private savedTable: { log: StringLog; n: number } | undefined;
  private savedT = 0;
  private savedSpace = '';
  private savedUpTo: number | undefined;
  /** Per space, the upTo of the last log frame sent (CHANGES or LIVE). */
  readonly upTo = new Map<string, number>();
  /** The HLC time of the last version a LIVE frame carried. */
  t = 0;
  /** The epochs LIVE frames named (protocol 11). */
  readonly epochs: LinkEpochsOut;
  /**
   * What the table holds beside its peer's id (table-state.ts): tables of one sender in one state share it, and a LIVE
   * frame written from it is the same bytes for each of them (live-shared.ts). Moves as frames go (`commit`, `moved`).
   */
  state: TableState;
  /** What the frame being written changed (`changed`), once asked or replayed. */
  private change: string | undefined;
  /** Whether the frame being written named the peer's id (the seed's second string, whose meaning is the table's own). */
  peerUsed = false;
  /** `writeState`'s codec for the frame being written: the connection's table and time (live.ts), made once. */
  readonly codec: { w: Writer | undefined; rid(s: string): void; time(t: number): void; ep: EpochOut | undefined };

  /** `epochBound`: the epoch table's (epoch-table.ts), for tests. */
  constructor(
    private readonly seed: readonly string[],
    epochBound?: number,
  ) {
    this.epochs = new LinkEpochsOut(epochBound);
    this.reset();
    this.state = seed.length === 2 ? rootState(seed[0]!, epochBound) : new TableState();
    this.state.entered();
    const conn = this;
    this.codec = {
      w: undefined,
      rid(s) {
        conn.sym(this.w!, s);
      },
      time(t) {
        this.w!.int(t - conn.t);
        conn.t = t;
      },
      ep: undefined,
    };
  }

  private reset(): void {
    this.log = new StringLog();
    this.n = 0;
    this.chars = 0;
    for (const s of this.seed) this.chars += s.length;
  }

  private add(s: string): void {
    const n = this.n;
    const log = this.log;
    if (log.strings.length === n) log.push(s);
    else if (log.strings[n] !== s) (this.log = log.prefix(n)).push(s);
    this.n = n + 1;
    this.chars += s.length;
  }

  /** The index of `s` in this table (seeds first, the last of equal seeds), or undefined. */
  private indexOf(s: string): number | undefined {
    const seed = this.seed;
    for (let i = seed.length - 1; i >= 0; i--) if (seed[i] === s) return i;
    const j = this.log.index.get(s);
    return j !== undefined && j < this.n ? seed.length + j : undefined;
  }

  /** Starts a frame for `space`; returns true when the table was cleared first (the frame must say so). */
  begin(space: string): boolean {
    const full = this.seed.length + this.n + FRAME_STRINGS > MAX_STRINGS || this.chars + FRAME_CHARS > MAX_CHARS || this.epochs.full;
    this.epochs.begin(full);
    this.saving = true;
    this.savedN = this.n;
    this.savedChars = this.chars;
    this.savedTable = full ? { log: this.log, n: this.n } : undefined;
    this.savedT = this.t;
    this.savedSpace = space;
    this.savedUpTo = this.upTo.get(space);
    this.change = undefined;
    this.peerUsed = false;
    if (full) this.reset();
    return full;
  }

  sym(w: Writer, s: string): void {
    const i = this.indexOf(s);
    if (i === 1) this.peerUsed = true;
    if (i !== undefined) return w.uint(i + 1);
    w.uint(0);
    w.str(s);
    this.add(s);
  }

  /** The frame was not sent: back to the state before `begin`. */
  rollback(): void {
    if (!this.saving) return;
    const cleared = this.savedTable;
    // The log keeps what the frame appended (positions never change): past `n`, this table no longer sees it.
    if (cleared) this.log = cleared.log;
    this.n = cleared ? cleared.n : this.savedN;
    this.chars = this.savedChars;
    this.t = this.savedT;
    if (this.savedUpTo === undefined) this.upTo.delete(this.savedSpace);
    else this.upTo.set(this.savedSpace, this.savedUpTo);
    this.epochs.rollback();
    this.saving = false;
    this.savedTable = undefined;
    this.change = undefined;
  }

  /** The frame went (any frame: the session commits every frame it sends). */
  commit(): void {
    // The state moves by what the frame changed: tables that were in one state and took the same changes are in one
    // state again, whatever bytes each frame was.
    if (this.saving) {
      // A frame replayed or kept for others moves by its known change (where the others went); else as `move` says.
      this.enter(this.change !== undefined ? this.state.after(this.change) : this.state.move(() => this.changed()));
      this.epochs.commit();
    }
    this.saving = false;
    this.savedTable = undefined;
    this.change = undefined;
  }

  /** What the frame being written changed, as a text: cleared or not, time, position, strings and epochs added. */
  changed(): string {
    return (this.change ??= JSON.stringify([this.savedTable !== undefined, this.t, this.savedSpace, this.upTo.get(this.savedSpace), this.added(), this.epochs.added()]));
  }

  /** A log frame (CHANGES, not LIVE) moved the space's upTo. */
  moved(space: string, upTo: number): void {
    if (this.upTo.get(space) === upTo) return;
    this.upTo.set(space, upTo);
    this.enter(this.state.move(() => JSON.stringify([space, upTo])));
  }

  private enter(state: TableState): void {
    state.entered(this.state);
    this.state = state;
  }

  /**
   * Takes frame `c` another table wrote from this table's state, as if written here (`begin` and the frame's changes:
   * `commit` or `rollback` follow as for a frame written); false, and nothing changed, where it would not be the same
   * bytes here: it adds this table's peer id (which this table names by its seed), or this table clears where that one
   * did not (the peers' ids may differ in length), or the other way round.
   */
  replay(c: SharedLive): boolean {
    if (c.added.includes(this.seed[1]!)) return false;
    if (this.begin(c.space) !== c.cleared) {
      this.rollback();
      return false;
    }
    // The frame's writer was in this table's state (the same strings): its log holds them, and the frame's next.
    const at = this.n;
    if (c.at === at && c.added.every((s, i) => c.log.strings[at + i] === s)) {
      this.log = c.log;
      this.n = at + c.added.length;
      for (const s of c.added) this.chars += s.length;
    } else for (const s of c.added) this.add(s);
    this.t = c.t;
    this.upTo.set(c.space, c.upTo);
    this.change = c.change;
    return true;
  }

  /** The strings the frame being written added to the table (after the seeds, when it cleared it). */
  added(): string[] {
    return this.log.strings.slice(this.savedTable !== undefined ? 0 : this.savedN, this.n);
  }

  /** Where the frame being written put its strings: the log holding this table's, and their first position there. */
  get place(): { readonly log: StringLog; readonly at: number } {
    return { log: this.log, at: this.savedTable !== undefined ? 0 : this.savedN };
  }
}

export class ConnTableIn {
  private strings: string[] = [];
  /**
   * Per string of the table, the checks it passed (PASSED_*): a LIVE frame names its space and its writer by entries
   * the connection's earlier frames named, each checked the first time it is read as one (not at every frame).
   */
  private passed: number[] = [];
  private chars = 0;
  readonly upTo = new Map<string, number>();
  t = 0;
  readonly epochs: LinkEpochsIn;

  constructor(
    private readonly seed: readonly string[],
    epochBound?: number,
  ) {
    this.epochs = new LinkEpochsIn(epochBound);
    this.reset();
  }

  private reset(): void {
    this.strings = [...this.seed];
    this.passed = this.seed.map(() => 0);
    this.chars = this.seed.reduce((n, s) => n + s.length, 0);
  }

  begin(cleared: boolean): void {
    if (cleared) this.reset();
    this.epochs.begin(cleared);
  }

  sym(r: Reader): string {
    return this.strings[this.at(r)]!;
  }

  /** A string of the table that is a replica id (dvv.ts isReplicaId), else the frame is refused. */
  rid(r: Reader): string {
    return this.checked(r, PASSED_ID, isReplicaId, 'invalid replica id');
  }

  /** A string of the table that is a space name (fields.ts SPACE_NAME), else the frame is refused. */
  space(r: Reader): string {
    return this.checked(r, PASSED_SPACE, isSpaceName, 'invalid space name');
  }

  /** `sym`, checked by `ok` unless its entry passed that check (`bit`) before. */
  private checked(r: Reader, bit: number, ok: (s: string) => boolean, refusal: string): string {
    const at = this.at(r);
    const s = this.strings[at]!;
    const passed = this.passed[at]!;
    if ((passed & bit) !== 0) return s;
    if (!ok(s)) throw new ProtocolError(refusal);
    this.passed[at] = passed | bit;
    return s;
  }

  /** Reads a string reference: the position in the table of the string it names (a new string is added first). */
  private at(r: Reader): number {
    const i = r.uint();
    if (i === 0) {
      const s = r.str();
      if (this.strings.length >= MAX_STRINGS || this.chars + s.length > MAX_CHARS) throw new ProtocolError('connection string table over its bounds');
      this.strings.push(s);
      this.passed.push(0);
      this.chars += s.length;
      return this.strings.length - 1;
    }
    if (i > this.strings.length) throw new ProtocolError('unknown connection string index');
    return i - 1;
  }
}

/** ConnTableIn's checks a string of its table passed. */
const PASSED_ID = 1;
const PASSED_SPACE = 2;
const isSpaceName = (s: string): boolean => SPACE_NAME.test(s);
