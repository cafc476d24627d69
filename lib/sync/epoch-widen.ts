/**
 * Chains a frame tells of a third replica's epochs, from a sender not believed about them (docs/design/epochs-build.md,
 * "Records that never arrive"). A frame teaches records of its sender's own epochs, and of another replica's only when
 * its sender is a relay this end trusts (wire.ts EpochChains.others): a record is fixed once learned, and the registry
 * judges every space, so a false one taken from a client could never be corrected and would judge spaces that client
 * cannot write. But the records of a third replica's epoch may reach a replica through untrusted peers only — a relay's
 * client that learned them first-hand from a mesh peer, the lost branch of a restored writer that no one else saw, a
 * relay the simulator's relays do not trust — and a replica that cannot place the epoch judges it a root and keeps the
 * versions its points supersede through its ancestry, while the replicas that placed it dropped them: they disagree
 * until the record arrives, for good where it never does.
 *
 * So a told chain that is not learned widens the frame's contexts instead: a point (r, E, n), E an epoch the registry
 * cannot place and the frame's chain places, takes the points its history holds under that chain — (P, min(fork, n))
 * for E's parent P, and so on up to the untagged root or an epoch the registry places (from there the registry walks
 * on). That is what its sender could have claimed itself, as explicit points of its context: a context of a peer with
 * the right to send it (a client writes only where it may, a claim only says what it has seen) is taken as it comes,
 * so a false chain can do no more than a false context — in that key, for that frame — and nothing of it is kept in
 * the registry, whose records a replica's true chain still sets later. A true chain makes the widened context cover
 * exactly the dots the original covers under the true records: the join drops what a replica holding them drops.
 *
 * The widened points stay in the stored state (maximal under this replica's registry, which cannot place E) and travel
 * on with it; once the registry learns E's record they are inside E's point's history, and the next join leaves them
 * out (maximalPoints), as anti-entropy's `exchange` brings about (it judges by the registry as it is then).
 */
import type { Causal, KeyState } from '../dvv.js';
import { maximalPoints, MAX_FRAME_RECORDS, UNTAGGED, type EpochParent, type EpochRecord, type EpochRegistry, type Point } from '../epoch-points.js';
import type { Entry, Message } from './messages.js';
import type { AeItem } from './ae-codec.js';
import { ProtocolError } from './codec.js';
import { chainRecords, type ChainRecords, type EpochLink } from './epoch-wire.js';

/** Points one replica's context may gain in one state (an honest chain adds at most one per record of one entry). */
export const MAX_WIDENED = 64;

/** The records of third replicas' epochs one frame told, not learned. */
export class ToldChains {
  private readonly byReplica = new Map<string, Map<string, EpochParent>>();
  private count = 0;

  /** A chain's records (the first one told of an epoch stands: a frame contradicting itself widens by its first). */
  add(r: string, records: readonly EpochRecord[]): void {
    let known = this.byReplica.get(r);
    if (!known) this.byReplica.set(r, (known = new Map()));
    for (const rec of records) {
      if (known.has(rec.e) || this.count >= MAX_FRAME_RECORDS) continue;
      known.set(rec.e, { parent: rec.parent, fork: rec.fork });
      this.count++;
    }
  }

  get size(): number {
    return this.count;
  }

  parentOf(r: string, e: string): EpochParent | undefined {
    return this.byReplica.get(r)?.get(e);
  }

  has(r: string): boolean {
    return this.byReplica.has(r);
  }
}

/** The points the told chain adds below point `p` of `r`: its history's, up to an epoch `reg` places. */
function below(reg: EpochRegistry, told: ToldChains, r: string, p: Point, out: Point[]): void {
  if (p.e === UNTAGGED || reg.parentOf(r, p.e) !== undefined) return;
  const seen = new Set<string>([p.e]);
  let tag = p.e;
  let limit = p.n;
  while (out.length < MAX_WIDENED) {
    const up = told.parentOf(r, tag);
    if (up === undefined || seen.has(up.parent)) return;
    limit = Math.min(limit, up.fork);
    if (limit < 1) return; // no counter at or below it: nothing further up is covered
    tag = up.parent;
    seen.add(tag);
    out.push({ e: tag, n: limit });
    if (tag === UNTAGGED || reg.parentOf(r, tag) !== undefined) return;
  }
}

/** A context widened by the told chains (the same object when they add nothing). */
export function widenCausal<C extends Causal>(reg: EpochRegistry, told: ToldChains, s: C): C {
  if (s.pts === undefined) return s;
  let pts: Record<string, readonly Point[]> | undefined;
  for (const r in s.pts) {
    if (!told.has(r)) continue;
    const points = s.pts[r]!;
    const added: Point[] = [];
    for (const p of points) below(reg, told, r, p, added);
    if (added.length === 0) continue;
    (pts ??= { ...s.pts })[r] = maximalPoints(reg, r, [...points, ...added]);
  }
  // The vector entry stays: every point added lies below one the context had.
  return pts === undefined ? s : { ...s, pts };
}

function widenEntries(reg: EpochRegistry, told: ToldChains, entries: Entry[]): Entry[] {
  return entries.map((e) => {
    const s: KeyState = widenCausal(reg, told, e[1]);
    return s === e[1] ? e : [e[0], s];
  });
}

function widenItem(reg: EpochRegistry, told: ToldChains, it: AeItem): AeItem {
  return it.kind === 'range' || it.kind === 'keys' ? { ...it, keys: widenEntries(reg, told, it.keys) } : it;
}

/** A decoded frame's contexts (key states, anti-entropy claims) widened by the chains it told and the registry did not learn. */
export function widenMessage(m: Message, reg: EpochRegistry, told: ToldChains): Message {
  if (told.size === 0) return m;
  if ('entries' in m) return { ...m, entries: widenEntries(reg, told, m.entries) };
  if ('items' in m) return { ...m, items: m.items.map((it) => widenItem(reg, told, it)) };
  return m;
}

/**
 * A frame decoded whole: the chains its table told are learned where `link` believes their sender about them (all
 * or none each; a refusal throws, refusing the frame), and widen the frame's contexts where it does not.
 */
export function chainsReceived(m: Message, chains: readonly ChainRecords[], link: EpochLink): Message {
  const told = new ToldChains();
  for (const c of chains) {
    const records = chainRecords(c);
    if (link.believes && !link.believes(c.r)) {
      told.add(c.r, records);
      continue;
    }
    const refused = link.learn(c.r, records);
    if (refused) throw new ProtocolError(refused);
  }
  return widenMessage(m, link.reg(), told);
}
