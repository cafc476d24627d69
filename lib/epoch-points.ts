/**
 * Epochs in dots and contexts (issue 10's design gap; the model is test/support/epoch-dvv.ts).
 *
 * A replica restored from an older copy of its storage that the storage cannot tell is a copy mints again the
 * counters its lost history used. Every open of a replica's storage starts an epoch (epochs.ts), and the epochs
 * of one replica form a tree: each has a parent (the epoch open before it in its history) and a fork point (the
 * last counter that history had minted when it opened). Counters go on across epochs. A restore opens a new epoch
 * under the copy's, at the copy's counter, so the lost branch and the new one are two branches: a dot that names
 * its epoch, (replica, epoch, counter), never collides with one of the other branch.
 *
 * A context holds per replica *points* (epoch, counter): "every dot of this replica in that point's history was
 * seen", the history of (e, n) being e's dots up to n, then its parent's up to e's fork point, and so on. Points
 * are ordered by inclusion of their histories and a context keeps its maximal ones. While a replica is never
 * restored its epochs form one chain and a context holds one point per replica; a restore costs a second point
 * only where both branches wrote.
 *
 * The untagged epoch `''` is every replica's root: the dots minted before dots named epochs (every dot and
 * context point of the stored and wire forms today). It has no parent, and a tagged point reaches it only through
 * the tagged chain's oldest fork point.
 *
 * Ancestry comes from a registry of the epoch histories a replica knows (its own, and its peers' as they announce
 * them). An epoch the registry does not know is judged as a root: a point in it covers its own dots only. That is
 * conservative (a version is kept, never dropped, for want of a record), but two replicas that know different
 * ancestries may then judge one context differently until the records reach both, so the records must travel
 * with, or before, the first dot naming an epoch (docs/design/epochs-build.md).
 */
import { isRootLabel, type EpochEntry } from './epochs.js';

/** The untagged epoch: every replica's root, the epoch of dots that name none. */
export const UNTAGGED = '';

/** A context point of one replica: every dot of it in the history of (e, n) was seen. */
export interface Point {
  readonly e: string;
  readonly n: number;
}

/**
 * Per replica, its maximal context points, sorted by (epoch, counter). A replica is listed only when one of its
 * points names an epoch; the others' single untagged point is the plain vector's entry.
 */
export type EpochPoints = Readonly<Record<string, readonly Point[]>>;

/** An epoch's place in its replica's tree. */
export interface EpochParent {
  readonly parent: string;
  /** The last counter the parent's history had minted when this epoch opened. */
  readonly fork: number;
}

/** Where the ancestry of epochs comes from. */
export interface EpochRegistry {
  /** Epoch `e` of replica `r`: its parent and fork point; undefined for a root, or an epoch not known. */
  parentOf(r: string, e: string): EpochParent | undefined;
}

/** The registry that knows no epoch: every tagged epoch is judged a root. */
export const NO_EPOCHS: EpochRegistry = { parentOf: () => undefined };

/** More links than any honest history has (an open adds one): past them a chain is taken for a loop and ends. */
const MAX_CHAIN = 1 << 16;

/** Whether dot (r, e, n) lies in the history of point `p` of replica r. */
export function inHistory(reg: EpochRegistry, r: string, e: string, n: number, p: Point): boolean {
  let tag = p.e;
  let limit = p.n;
  for (let i = 0; i < MAX_CHAIN; i++) {
    if (tag === e) return n <= limit;
    if (tag === UNTAGGED) return false;
    const up = reg.parentOf(r, tag);
    if (up === undefined) return false;
    if (up.fork < limit) limit = up.fork;
    tag = up.parent;
  }
  return false;
}

const byPoint = (a: Point, b: Point): number => (a.e < b.e ? -1 : a.e > b.e ? 1 : a.n - b.n);

/** The maximal points among `points` (one replica's), deduplicated and sorted by (epoch, counter). */
export function maximalPoints(reg: EpochRegistry, r: string, points: readonly Point[]): Point[] {
  // Per epoch only the highest counter can be maximal.
  const top = new Map<string, Point>();
  for (const p of points) {
    const q = top.get(p.e);
    if (q === undefined || p.n > q.n) top.set(p.e, p);
  }
  const all = [...top.values()];
  if (all.length === 1) return all;
  // p is dropped when another point's history holds it (inHistory). One walk up each point's ancestry, not one per
  // pair: the epochs a walk reaches, each at the counter limit of its first visit (as inHistory answers), the highest
  // over all walks; p is held when that reaches its counter. Linear in the points where no ancestry is known (a set's
  // context, add-wins.ts: a hostile one of 40 000 points cost seconds a join pair by pair).
  const reached = new Map<string, number>();
  for (const q of all) {
    const visited = new Set<string>([q.e]);
    let tag = q.e;
    let limit = q.n;
    for (let i = 1; i < MAX_CHAIN && tag !== UNTAGGED; i++) {
      const up = reg.parentOf(r, tag);
      if (up === undefined) break;
      if (up.fork < limit) limit = up.fork;
      tag = up.parent;
      if (visited.has(tag)) break;
      visited.add(tag);
      if ((reached.get(tag) ?? -1) < limit) reached.set(tag, limit);
    }
  }
  const keep = all.filter((p) => (reached.get(p.e) ?? -1) < p.n);
  return keep.sort(byPoint);
}

/** Whether `pts` is exactly one point of replica r, (ep, n): the context of one version whose own dot names epoch ep. */
export function onlyPoint(pts: EpochPoints | undefined, r: string, ep: string, n: number): boolean {
  if (pts === undefined) return false;
  for (const id in pts) if (id !== r) return false;
  const points = pts[r];
  return points !== undefined && points.length === 1 && points[0]!.e === ep && points[0]!.n === n;
}

/** The highest counter among points (a point's history holds no counter above its own). */
export function topCounter(points: readonly Point[]): number {
  let n = 0;
  for (const p of points) if (p.n > n) n = p.n;
  return n;
}

/** An epoch's record as it is stored and sent: epoch `e` of its replica forks from `parent` (UNTAGGED: the untagged root) at `fork`. */
export interface EpochRecord {
  readonly e: string;
  readonly parent: string;
  readonly fork: number;
}

/** Records one frame (a hello's chain frame, or a frame's epoch table) may carry: a frame beyond it is refused. */
export const MAX_FRAME_RECORDS = 4096;
/**
 * Records kept per replica id: a replica adds one per open, so this is that many opens (the walk's loop bound, so
 * no honest chain is cut). A record past it is refused with an error, never dropped: what a hostile peer can make a
 * replica (a relay) store is this many records per replica id it admits (~30 bytes each, about 2 MB).
 */
export const MAX_REPLICA_RECORDS = MAX_CHAIN;

const sameRecord = (a: EpochParent | null, parent: string | undefined, fork: number): boolean =>
  a === null ? parent === undefined : a.parent === parent && a.fork === fork;

/**
 * The registry a replica judges by (epochs.ts histories, and chains its peers send). An epoch's record never changes
 * once learned (its tag is fresh and its parent fixed when it opened): a conflicting record is refused — `learnChain`
 * refuses the whole chain and says why; `learn`, from a history, keeps the known record and says so. What is learned is
 * kept by epoch-store.ts (`fresh` names the replicas with records not stored yet).
 */
export class Epochs implements EpochRegistry {
  private readonly byReplica = new Map<string, Map<string, EpochParent | null>>();
  /** Replicas with records learned since they were last handed to the store. */
  private readonly fresh = new Set<string>();
  /**
   * Replicas whose records stay in memory only, with how many sessions hold them (a relay's client of which it
   * stores no state yet: sync/epoch-holds.ts). Their records are not handed to the store, and go with the last hold.
   */
  private readonly held = new Map<string, number>();

  parentOf(r: string, e: string): EpochParent | undefined {
    return this.byReplica.get(r)?.get(e) ?? undefined;
  }

  /** Whether epoch `e` of `r` is known (as a root or with its parent). */
  knows(r: string, e: string): boolean {
    return e === UNTAGGED || this.byReplica.get(r)?.has(e) === true;
  }

  /**
   * Records epoch `e` of replica `r`: under `parent` at `fork`, or a root when parent is undefined (kept in memory
   * only: no stored or sent record is one). Returns why it was not taken when `e` is known with another record.
   */
  add(r: string, e: string, parent: string | undefined, fork: number): string | undefined {
    if (e === UNTAGGED || e === parent) return undefined;
    let epochs = this.byReplica.get(r);
    if (!epochs) this.byReplica.set(r, (epochs = new Map()));
    const known = epochs.get(e);
    if (known !== undefined) return sameRecord(known, parent, fork) ? undefined : conflict(r, e, known, parent, fork);
    epochs.set(e, parent === undefined ? null : { parent, fork });
    if (parent !== undefined) this.fresh.add(r);
    return undefined;
  }

  /**
   * Records the epochs of a history of replica `r`. `whole`: the history begins at r's first epoch whose dots
   * named it, so its oldest epoch forks from the untagged one (see the class comment); otherwise (a hello's last
   * few epochs, a stored history at its cap) the oldest one's parent is not known and it is left out. Returns the
   * first conflict with a known record (that record is kept). `tagged`: the first epoch whose dots named it (identity.ts
   * Identity.tagged): it forks from the untagged root at its `from`, wherever it sits in the history; so does an epoch
   * with a root label (epochs.ts isRootLabel), in any replica's history.
   */
  learn(r: string, history: readonly EpochEntry[], whole = true, tagged?: string): string | undefined {
    let refused: string | undefined;
    for (let i = 0; i < history.length; i++) {
      const [e, from] = history[i]!;
      // A root label (epochs.ts ROOT_LABEL) forks from the untagged root wherever it sits, as the tagged epoch does.
      const root = e === tagged || isRootLabel(e) || (i === 0 && whole);
      if (i > 0 || root) refused ??= this.add(r, e, root ? UNTAGGED : history[i - 1]![0], from);
    }
    return refused;
  }

  /**
   * Learns records of replica `r`'s epochs (a chain, or any of its records), all or none: returns why not when one
   * conflicts with a known record (or another of the chain), names no epoch, or the frame or the replica's count
   * would pass its bound. Nothing is learned then; the caller refuses the frame with that reason.
   */
  learnChain(r: string, records: readonly EpochRecord[]): string | undefined {
    if (records.length > MAX_FRAME_RECORDS) return `an epoch chain of ${records.length} records (at most ${MAX_FRAME_RECORDS} a frame)`;
    const known = this.byReplica.get(r);
    const mine = new Map<string, EpochRecord>();
    for (const rec of records) {
      if (rec.e === UNTAGGED || rec.e === rec.parent || !(Number.isSafeInteger(rec.fork) && rec.fork >= 0)) return `an invalid epoch record of ${r}`;
      const had = known?.get(rec.e) ?? mine.get(rec.e);
      if (had !== undefined && !sameRecord(had, rec.parent, rec.fork)) return conflict(r, rec.e, had, rec.parent, rec.fork);
      if (had === undefined) mine.set(rec.e, rec);
    }
    if ((known?.size ?? 0) + mine.size > MAX_REPLICA_RECORDS) return `replica ${r} would have more than ${MAX_REPLICA_RECORDS} epoch records`;
    for (const rec of mine.values()) this.add(r, rec.e, rec.parent, rec.fork);
    return undefined;
  }

  /**
   * What to send so a receiver can place epoch `e` of `r`: its record and its ancestors' as far as known, oldest first
   * (the first forks from the untagged root, or from an epoch no record here names). Empty when `e` is not known.
   */
  chainOf(r: string, e: string): EpochRecord[] {
    const out: EpochRecord[] = [];
    const seen = new Set<string>();
    for (let tag = e; tag !== UNTAGGED && !seen.has(tag) && out.length < MAX_REPLICA_RECORDS; ) {
      seen.add(tag);
      const up = this.parentOf(r, tag);
      if (up === undefined) break;
      out.push({ e: tag, parent: up.parent, fork: up.fork });
      tag = up.parent;
    }
    return out.reverse();
  }

  /**
   * Records of `r` read from the storage (epoch-store.ts learnStored: another instance sharing it stored them): known
   * from here, and not fresh (they are stored). A record conflicting with a known one is left out (the known one stays).
   */
  stored(r: string, records: readonly EpochRecord[]): void {
    const fresh = this.fresh.has(r);
    for (const x of records) this.add(r, x.e, x.parent, x.fork);
    if (!fresh) this.fresh.delete(r);
  }

  /** Every stored-form record of `r` (roots learned in memory left out). */
  recordsOf(r: string): EpochRecord[] {
    const out: EpochRecord[] = [];
    for (const [e, up] of this.byReplica.get(r) ?? []) if (up) out.push({ e, parent: up.parent, fork: up.fork });
    return out;
  }

  /** The replicas with records not handed to the store yet, held ones apart; they count as handed from here (`unsaved` puts them back). */
  takeFresh(): string[] {
    const ids = [...this.fresh].filter((r) => !this.held.has(r));
    for (const r of ids) this.fresh.delete(r);
    return ids;
  }

  /**
   * Keeps `r`'s records out of the store from here, until `keep(r)`, and forgets them at the last `release(r)`. Only
   * for a replica of which nothing is known yet (nothing stored, nothing learned), or already held: false otherwise.
   */
  hold(r: string): boolean {
    const n = this.held.get(r);
    if (n === undefined && this.byReplica.has(r)) return false;
    this.held.set(r, (n ?? 0) + 1);
    return true;
  }

  /** A hold of `r` ends; at the last one its records, none of them stored, are forgotten. Nothing when kept meanwhile. */
  release(r: string): void {
    const n = this.held.get(r);
    if (n === undefined) return;
    if (n > 1) return void this.held.set(r, n - 1);
    this.held.delete(r);
    this.byReplica.delete(r);
    this.fresh.delete(r);
  }

  /** `r`'s records go to the store from now on (with the next store), held or not. Returns whether `r` was held. */
  keep(r: string): boolean {
    return this.held.delete(r);
  }

  unsaved(ids: readonly string[]): void {
    for (const r of ids) this.fresh.add(r);
  }
}

function conflict(r: string, e: string, known: EpochParent | null, parent: string | undefined, fork: number): string {
  const was = known === null ? 'a root' : `under '${known.parent}' at ${known.fork}`;
  const now = parent === undefined ? 'a root' : `under '${parent}' at ${fork}`;
  return `epoch ${e} of ${r} is known ${was}: a record ${now} is refused (an epoch's record never changes)`;
}
