/**
 * The epochs a direction of a link named in its LIVE frames (protocol 11, epoch-wire.ts): the LIVE frames' epoch
 * table, kept from frame to frame as conn-table.ts keeps their strings. A frame's reference `1 + i` names entry i of
 * this table — entries of earlier LIVE frames since the table was last cleared, then the frame's own — so an epoch a
 * LIVE frame named costs one byte in the next. And a dot of a replica other than the frame's sender implies the epoch
 * the table's last entry for that replica named (untagged where there is none): a writer's keystrokes forwarded by a
 * relay name its epoch once per link, not in every frame (BENCHMARKS.md S10).
 *
 * Invariants (as conn-table.ts's strings):
 * - Bounded: at most MAX_LINK_EPOCHS entries per direction. The sender clears the table at the start of a LIVE frame
 *   when it is within a frame's worth of the bound (one flag with the strings: the frame says it cleared), and a LIVE
 *   frame adds at most FRAME_EPOCHS entries (live.ts `liveFits` counts a state's references), so the receiver refuses
 *   a frame that would pass the bound.
 * - In step: the sender's table changes only for frames it sends (`rollback` undoes a frame encoded but not sent), the
 *   receiver's as it decodes, in order; what a frame implies is fixed for the whole frame (the last entries move at
 *   `commit` on the sender, once the frame decoded whole on the receiver). A reconnect starts empty (a new Wire).
 * - CHANGES, PART, shared and AE frames keep a table of their own (a frame's), as before: a shared frame is the same
 *   bytes for every link, and a key's PARTs are all written before any goes.
 */
import { ProtocolError } from './codec.js';

/** Entries a direction's table holds at most. */
export const MAX_LINK_EPOCHS = 512;
/** Entries one LIVE frame may add at most. */
export const FRAME_EPOCHS = 64;

const key = (r: string, e: string) => `${r}\n${e}`;

/** The sender's table. */
export class LinkEpochsOut {
  private index = new Map<string, number>();
  private order: Array<readonly [string, string]> = [];
  /** Per replica the epoch its last entry named, as of the frames that went. */
  private last = new Map<string, string>();
  private savedN = 0;
  private saved: { index: Map<string, number>; order: Array<readonly [string, string]>; last: Map<string, string> } | undefined;

  /** `bound`: MAX_LINK_EPOCHS (a test may take less, at both ends, more than FRAME_EPOCHS). */
  constructor(private readonly bound = MAX_LINK_EPOCHS) {}

  get size(): number {
    return this.order.length;
  }

  /** Whether a LIVE frame starting now could pass the bound (the frame then clears the table first). */
  get full(): boolean {
    return this.order.length + FRAME_EPOCHS > this.bound;
  }

  /** Starts a frame: `clear`, the frame clears the table (conn-table.ts `begin`). */
  begin(clear: boolean): void {
    // The frame's entries start at savedN: at 0 in a cleared table (rollback then puts the saved one back).
    this.savedN = clear ? 0 : this.order.length;
    this.saved = clear ? { index: this.index, order: this.order, last: this.last } : undefined;
    if (clear) [this.index, this.order, this.last] = [new Map(), [], new Map()];
  }

  find(r: string, e: string): number | undefined {
    return this.index.get(key(r, e));
  }

  /** Adds epoch `e` of `r`; returns its index. */
  add(r: string, e: string): number {
    const i = this.order.length;
    this.index.set(key(r, e), i);
    this.order.push([r, e]);
    return i;
  }

  /** The epoch a dot of `r` (not the frame's sender) implies: its last entry's, untagged where none. */
  implied(r: string): string | undefined {
    return this.last.get(r);
  }

  /** The entries the frame being written added. */
  added(): Array<readonly [string, string]> {
    return this.order.slice(this.savedN);
  }

  /** The frame went: its entries are the last of their replicas from the next frame on. */
  commit(): void {
    for (let i = this.savedN; i < this.order.length; i++) this.last.set(this.order[i]![0], this.order[i]![1]);
    this.savedN = this.order.length;
    this.saved = undefined;
  }

  /** The frame was not sent: back to the table before `begin`. */
  rollback(): void {
    if (this.saved) [this.index, this.order, this.last] = [this.saved.index, this.saved.order, this.saved.last];
    else {
      for (let i = this.savedN; i < this.order.length; i++) this.index.delete(key(...this.order[i]!));
      this.order.length = this.savedN;
    }
    this.saved = undefined;
  }
}

/** The receiver's table (also a CHANGES, PART or AE frame's own, with that frame's bound: epoch-wire.ts EpochIn). */
export class LinkEpochsIn {
  private order: Array<{ readonly r: string; readonly e: string }> = [];
  private keys = new Set<string>();
  private last = new Map<string, string>();
  private frameStart = 0;

  constructor(
    private readonly bound = MAX_LINK_EPOCHS,
    private readonly whose = "the connection's",
  ) {}

  /** Starts a frame (`cleared`: its sender cleared the table). */
  begin(cleared: boolean): void {
    if (cleared) [this.order, this.keys, this.last] = [[], new Set(), new Map()];
    this.frameStart = this.order.length;
  }

  get(i: number): { readonly r: string; readonly e: string } | undefined {
    return this.order[i];
  }

  get size(): number {
    return this.order.length;
  }

  /** Refuses the frame where the table has no room for another entry (checked before the entry is read). */
  room(): void {
    if (this.order.length >= this.bound) throw new ProtocolError(`${this.whose} epoch table over its bound`);
  }

  /** Adds an entry the frame defines; a bound passed or an epoch already in the table refuses the frame. */
  add(r: string, e: string): void {
    this.room();
    const k = key(r, e);
    if (this.keys.has(k)) throw new ProtocolError(`an epoch twice in ${this.whose} epoch table`);
    this.keys.add(k);
    this.order.push({ r, e });
  }

  implied(r: string): string | undefined {
    return this.last.get(r);
  }

  /** The frame decoded whole: as the sender's `commit`. */
  settle(): void {
    for (let i = this.frameStart; i < this.order.length; i++) this.last.set(this.order[i]!.r, this.order[i]!.e);
    this.frameStart = this.order.length;
  }
}
