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
import type { EpochEntry } from './epochs.js';

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
  const keep = all.filter((p) => !all.some((q) => q !== p && inHistory(reg, r, p.e, p.n, q)));
  return keep.sort(byPoint);
}

/** The highest counter among points (a point's history holds no counter above its own). */
export function topCounter(points: readonly Point[]): number {
  let n = 0;
  for (const p of points) if (p.n > n) n = p.n;
  return n;
}

/**
 * A registry learned from epoch histories (epochs.ts: oldest first, each epoch with the log's top when it opened).
 * Each epoch's parent is the one before it; the oldest's is the untagged epoch, at its own start: the history
 * handed in must begin with the first epoch whose dots named it (the ones before it minted untagged dots).
 * An epoch's record never changes once learned (its tag is fresh and its parent fixed when it opened): a later,
 * other claim about it is ignored.
 */
export class Epochs implements EpochRegistry {
  private readonly byReplica = new Map<string, Map<string, EpochParent | null>>();

  parentOf(r: string, e: string): EpochParent | undefined {
    return this.byReplica.get(r)?.get(e) ?? undefined;
  }

  /** Whether epoch `e` of `r` is known (as a root or with its parent). */
  knows(r: string, e: string): boolean {
    return e === UNTAGGED || this.byReplica.get(r)?.has(e) === true;
  }

  /** Records epoch `e` of replica `r`: under `parent` at `fork`, or a root when parent is undefined. */
  add(r: string, e: string, parent: string | undefined, fork: number): void {
    if (e === UNTAGGED || e === parent) return;
    let epochs = this.byReplica.get(r);
    if (!epochs) this.byReplica.set(r, (epochs = new Map()));
    if (epochs.has(e)) return;
    epochs.set(e, parent === undefined ? null : { parent, fork });
  }

  /**
   * Records the epochs of a history of replica `r`. `whole`: the history begins at r's first epoch whose dots
   * named it, so its oldest epoch forks from the untagged one (see the class comment); otherwise (a hello's last
   * few epochs, a stored history at its cap) the oldest one's parent is not known and it is left out.
   */
  learn(r: string, history: readonly EpochEntry[], whole = true): void {
    for (let i = whole ? 0 : 1; i < history.length; i++) {
      const [e, from] = history[i]!;
      this.add(r, e, i === 0 ? UNTAGGED : history[i - 1]![0], from);
    }
  }

  /**
   * What a received frame says of the ancestry of an epoch of `r` (sync/epoch-wire.ts, protocol 11): its chain, as
   * `learn` takes a history. The one place the wire hands the registry epoch records.
   */
  learnChain(r: string, records: readonly EpochEntry[], whole: boolean): void {
    this.learn(r, records, whole);
  }
}
