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
 *   frames      a LIVE frame written from a state is kept on it, by its entry (live-shared.ts), for the other tables
 *               in that state
 *
 * Memory: a state is held by the tables in it and by the frames that lead to it; the state before holds the one after
 * weakly (one, the latest: a fan-out moves every table the same way), so the states a relay holds are those its links
 * are in, and a state no table is in goes with its frames.
 */
import type { Entry } from './messages.js';

/** A LIVE frame written from a state: its bytes and what it changed there (conn-table.ts `replay`). */
export interface SharedLive {
  readonly space: string;
  readonly upTo: number;
  /** The sender's side of the link's epochs (live-shared.ts `modeOf`): '' below protocol 11. */
  readonly mode: string;
  readonly frame: Uint8Array;
  readonly cleared: boolean;
  readonly added: readonly string[];
  readonly t: number;
  readonly next: TableState;
}

export class TableState {
  /** LIVE frames written from this state, by their entry (gone with it). */
  readonly frames = new WeakMap<Entry, SharedLive>();
  private change: string | undefined;
  private next: WeakRef<TableState> | undefined;

  /** The state this one moves to by `change` (a text saying exactly what changed): the same object for the same change. */
  after(change: string): TableState {
    const known = this.change === change ? this.next?.deref() : undefined;
    if (known) return known;
    const next = new TableState();
    this.change = change;
    this.next = new WeakRef(next);
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
