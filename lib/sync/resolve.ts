/**
 * Received states whose versions are not whole (wire-state.ts: held, or deltas), resolved against this replica's
 * records before they are joined (docs/deltas.md):
 *
 *   a version held here (same dot)              → ours (a dot names one value), unless we hold it under another HLC:
 *                                                 then it is another write under that dot (its writer was restored
 *                                                 from an older copy, or it is forged). A dot of this replica's own:
 *                                                 the join must see it whole to mint ours again (dvv.ts
 *                                                 contradiction); another replica's that was minted before ours: the
 *                                                 join keeps it instead of ours (dvv.ts firstMinted). Either way a
 *                                                 held one is asked for whole (`clashes`), a delta is derived as
 *                                                 below; one minted after ours stays ours, as the join would keep it.
 *   a version our context covers, not held      → left out: we saw it superseded, so the join would drop it anyway
 *   a delta whose bases we all hold             → a derived version over our versions of them, checked now (its type
 *                                                 takes it, and what it makes stays within maxValueBytes)
 *   a whole value over what we take (`o`)       → the key is `over`: not joined, not asked for (it would come the
 *                                                 same), lacked from the peer (lacks.ts) — unless our context covers it
 *   a held one we lack, or a delta with a base  → the key is missing: it is not joined at all (joining the rest of its
 *     we lack, or of a type not loaded here       state would let its context cover a version we never stored), and
 *                                                 the caller asks for it whole (NEED)
 *
 * A delta that names a base we hold but does not apply to it (another type, malformed, or a value past
 * maxValueBytes) is `refused`: its key is missing too (asked for whole: a replica that cannot apply a delta falls back
 * to the full value, docs/deltas.md), so the key keeps its last good state and the rest of the frame is stored. It was
 * a protocol error (the frame refused whole, the link closed): where the sender could not know — a relay that took a
 * hostile writer's delta its checks pass and ours do not (a smaller maxValueBytes, an earlier release), or a forged
 * base — every reader's link dropped and, the stream resuming from its cursor with the same delta, reconnected for good.
 * Reading outside the join's transaction is safe: a base read here names its value forever, and a context only grows.
 */
import type { ReplicaCore } from '../core.js';
import { checkReceived, derive, takesDeltas, versionType } from '../deltas.js';
import { anotherWriteHeld, coversDot, firstMinted, isDot, sameDot, type KeyState, type StoredVersion } from '../dvv.js';
import type { Entry, LeftDot } from './messages.js';
import { needsResolving, type WireVersion } from './wire-state.js';

export interface Resolved {
  /** Entries ready to join (their versions hold values or derivations over our versions). */
  ready: readonly Entry[];
  /** Keys to ask for whole, with why ('' a base is missing here, else the type that cannot take deltas here). */
  missing: Array<readonly [key: string, type: string]>;
  /**
   * The keys of `missing` that are there only because a held version names a dot of ours that we hold under another
   * HLC: the sender could not tell (range dots carry no HLC), so even a repair state may hold one.
   */
  clashes: ReadonlySet<string>;
  /** The keys of `missing` whose delta named bases we hold and did not apply to them, with why (the app is told). */
  refused: Array<readonly [key: string, why: string]>;
  /**
   * Keys left out of `ready` and `missing`: a version's whole value was over what we take (wire-state.ts `o`), so asked
   * for whole it would come as it did. With the dots of those versions: the caller lacks them from the peer (lacks.ts).
   */
  over: Array<readonly [key: string, dots: LeftDot[]]>;
}

/** Nothing to resolve: every version whole (a live frame of fresh writes): answered at once, no promise nor turn. */
const NO_CLASHES: ReadonlySet<string> = new Set();

export function resolveEntries(core: ReplicaCore, space: string, entries: readonly Entry[], maxValueBytes: number): Resolved | Promise<Resolved> {
  for (const [, s] of entries) if (needsResolving(s)) return resolveSome(core, space, entries, maxValueBytes);
  return { ready: entries, missing: [], clashes: NO_CLASHES, refused: [], over: [] };
}

async function resolveSome(core: ReplicaCore, space: string, entries: readonly Entry[], maxValueBytes: number): Promise<Resolved> {
  const ready: Entry[] = [];
  const missing: Array<readonly [string, string]> = [];
  const clashes = new Set<string>();
  const refused: Array<readonly [string, string]> = [];
  const over: Array<readonly [string, LeftDot[]]> = [];
  const me = core.replicaId;
  for (const entry of entries) {
    const [key, s] = entry;
    if (!needsResolving(s)) {
      ready.push(entry);
      continue;
    }
    const rec = await core.storage.get(space, key);
    const vs: StoredVersion[] = [];
    let lack: string | undefined;
    let clash = false;
    let another = false;
    const big: LeftDot[] = [];
    for (const v of s.vs as readonly WireVersion[]) {
      if (v.o) {
        if (!rec || !coversDot(core.epochs, rec, v.r, v.ep, v.n)) big.push({ r: v.r, e: v.ep ?? '', n: v.n });
        continue;
      }
      if (!v.e && (v.v !== undefined || v.d || !v.x)) {
        vs.push(v);
        continue;
      }
      const local = rec?.vs.find((u) => sameDot(u, v));
      const collides = local !== undefined && (local.t !== v.t || local.c !== v.c) && (v.r === me || firstMinted(local, v) === v);
      if (local && !collides) {
        // Ours stands for theirs; where it is another write under a former id's dot, the state does not hold ours.
        if ((local.t !== v.t || local.c !== v.c) && core.formerIds.has(v.r)) another = true;
        vs.push(local);
        continue;
      }
      if (rec && !collides && coversDot(core.epochs, rec, v.r, v.ep, v.n)) continue;
      if (v.e) {
        lack = '';
        clash = collides;
        break;
      }
      const bases: StoredVersion[] = [];
      for (const d of v.x!.b) {
        const b = rec?.vs.find((u) => isDot(u, d));
        if (b) bases.push(b);
      }
      if (bases.length < v.x!.b.length) {
        lack = '';
        break;
      }
      const type = versionType(bases[0]!);
      if (type !== '' && bases.every((b) => !b.d) && !takesDeltas(type)) {
        lack = type;
        break;
      }
      try {
        const derived = derive(v.ep === undefined ? { r: v.r, n: v.n, t: v.t, c: v.c } : { r: v.r, ep: v.ep, n: v.n, t: v.t, c: v.c }, bases, v.x!.d, rec!.seq);
        checkReceived(derived, maxValueBytes);
        vs.push(derived);
      } catch (e) {
        refused.push([key, e instanceof Error ? e.message : String(e)]);
        lack = '';
        break;
      }
    }
    if (big.length > 0) over.push([key, big]);
    else if (lack === undefined) {
      const resolved: KeyState = s.pts === undefined ? { vs, cc: s.cc } : { vs, cc: s.cc, pts: s.pts };
      if (another) anotherWriteHeld.add(resolved);
      ready.push([key, resolved]);
    } else {
      missing.push([key, lack]);
      if (clash) clashes.add(key);
    }
  }
  return { ready, missing, clashes, refused, over };
}
