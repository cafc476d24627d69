/**
 * The state of a connection's outgoing LIVE table (conn-table.ts: strings, time, log positions, epochs) as one object
 * that tables in the same state share, so that "these two tables are alike" is a comparison of identities — a relay
 * writes each write to a hundred links, and comparing their tables would cost what encoding the frame does.
 *
 *   alike       two tables of one sender are alike when they hold the same strings in the same order after their two
 *               seeds (the sender's id, then the peer's: each table's own), the same time, the same log position per
 *               space and the same epoch table. Every new table of a sender starts in that sender's root state
 *   moves       a state moves by what a frame changed (`after`, keyed by the change: strings added, time, position,
 *               epochs added, cleared or not): two tables alike that take the same change are alike again, whatever
 *               bytes their frames were (an epoch's first naming differs by what each peer holds of its chain)
 *   frames      a LIVE frame written from a state is kept on it, by the sender's side it was written for and by its
 *               entry (live-shared.ts), for the other tables in that state
 *
 * Memory: a state is held by the tables in it alone; the state before holds the ones after weakly (the first change's,
 * and the latest few others': a fan-out moves the tables of one state by one change or a few — LIVE frames to links of
 * 11, CHANGES to those of 10, in whatever order its links come), and a frame kept on a state names the change it makes,
 * not the state after it. So the states a relay holds are those its links are in, each with the frames written from it
 * (one per entry while the entry lives): a link that stays behind (a peer that stopped acknowledging, away for a month)
 * holds its state and no chain of the states the others went through since.
 */
import type { StringLog } from './conn-table.js';
import type { Entry } from './messages.js';

/** A LIVE frame written from a state: its bytes and what it changed there (conn-table.ts `replay`). */
export interface SharedLive {
  readonly space: string;
  readonly upTo: number;
  readonly frame: Uint8Array;
  readonly cleared: boolean;
  readonly added: readonly string[];
  /** The log holding the strings of the writer's table after the frame, and where the frame's strings start in it. */
  readonly log: StringLog;
  readonly at: number;
  readonly t: number;
  /** What the frame changed (conn-table.ts `changed`): the state it leads to is `after` it, not held here. */
  readonly change: string;
}

/** Changes a state remembers the state after of: one per kind of frame its links took there, with room to spare. */
const NEXTS = 4;

export class TableState {
  /** LIVE frames written from this state, by the sender's side they were written for, then by their entry (gone with it). */
  private readonly modes = new Map<string, WeakMap<Entry, SharedLive>>();
  /** Tables that entered this state and did not leave it (one that was dropped still counts: it only costs a text). */
  private tables = 0;
  /** Whether more than one table was in this state at once: tables alike, which may take the same changes from here. */
  shared = false;
  /** The state tables moved to from this one by the first change they took here, held weakly (a fan-out's, mostly). */
  private change: string | undefined;
  private next: WeakRef<TableState> | undefined;
  /** Those they moved to by other changes (at most NEXTS - 1, the latest), held weakly: a map only where links differ. */
  private others: Map<string, WeakRef<TableState>> | undefined;

  /** The frames written from this state for the sender's side `mode` (links of several protocols or chains may be alike). */
  frames(mode: string): WeakMap<Entry, SharedLive> {
    let m = this.modes.get(mode);
    if (!m) this.modes.set(mode, (m = new WeakMap()));
    return m;
  }

  /** A table enters this state (`left`: it left that one). */
  entered(left?: TableState): void {
    if (left) left.tables--;
    if (++this.tables > 1) this.shared = true;
  }

  /**
   * The state a table in this one moves to by a change: `after` it where tables were alike here; else a state of its own
   * (a table alone in its states — a client's link — makes no text per frame).
   */
  move(change: () => string): TableState {
    return this.shared ? this.after(change()) : new TableState();
  }

  /** The state this one moves to by `change` (a text saying exactly what changed): the same object for the same change. */
  after(change: string): TableState {
    const first = this.change === undefined || this.change === change;
    const known = first ? this.next?.deref() : this.others?.get(change)?.deref();
    if (known) return known;
    const next = new TableState();
    if (first) {
      this.change = change;
      this.next = new WeakRef(next);
      return next;
    }
    const others = (this.others ??= new Map());
    if (others.size >= NEXTS - 1) others.delete(others.keys().next().value!);
    others.set(change, new WeakRef(next));
    return next;
  }
}

/** Root states by sender (and epoch table bound, which tests set), held weakly: a new table starts in its sender's. */
const roots = new Map<string, WeakRef<TableState>>();

export function rootState(sender: string, epochBound: number | undefined): TableState {
  const k = `${sender}\n${epochBound ?? ''}`;
  const known = roots.get(k)?.deref();
  if (known) return known;
  if (roots.size >= 64) for (const [r, s] of roots) if (!s.deref()) roots.delete(r);
  const root = new TableState();
  roots.set(k, new WeakRef(root));
  return root;
}
