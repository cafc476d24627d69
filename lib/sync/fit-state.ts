/**
 * What of a key state crosses a link that cannot carry it whole (wire.ts LEFT OUT): its causal context, and no
 * version.
 *
 * A key left out whole took its context with it: a peer behind a narrow link (an earlier release, no key parts) never
 * heard that the versions it holds were superseded — by a delete, by later writes — while one big sibling stood beside
 * them elsewhere. Once the delete was collected, the version it superseded lived on there alone, for as long as the big
 * sibling stood (issue 10, withheld seeds 22332, 21015, 21333).
 *
 * The context alone is a weaker state of the same key, so joining it is sound anywhere: it covers no version the state
 * holds, so the receiver drops only versions the whole state superseded and keeps every one it holds that the state
 * holds too; reading the key shows nothing new. An entry of a replica with a version in the state would cover that
 * version, so such an entry is lowered below the replica's lowest version in the state — but only to a counter known
 * to be a dot that replica minted for this key: the highest of the peer's versions of it (as the link's model of the
 * peer's state knows them, peer-model.ts) that the state superseded. A key left out while the link knew nothing of
 * the peer's state of it is asked for in the next anti-entropy turn (PeerModel.asking), and its context goes again once
 * it tells more (wire.ts LEFT OUT). Any other lowered counter could be one the writer
 * never minted, which it takes for a sign that its storage lost a history (restore-claims.ts OwnDots) and re-identifies
 * for nothing (withheld seed 23227 did, with a counter lowered blindly). With no such version known the entry is left
 * out.
 *
 * A replica whose context holds points naming epochs goes with its points where the link carries them (protocol 11),
 * if it has no version in the state (its points then cover none of the state's versions); with a version there, its
 * points go lowered as a plain entry does: to the points of the peer's versions of it that the state superseded (known
 * dots of its, for this key), less any whose history holds a version of the state. Below 11 no point naming an epoch
 * travels: such a replica tells only its untagged point — as it is where its history holds none of the state's versions
 * (`withPlainPoint`), else lowered to the peer's untagged versions (its writes from before it tagged). Left out at 11, a
 * peer holding a writer's old version never learned that the writer's delete superseded it, and once the delete was collected the old version stood there for good (withheld seed
 * 7074 at protocol 11: f kept g's k4 at its counter 9 after g's delete at 28, collected, because b's big k4 stood beside
 * it; withheld 1733502631 at 11: d kept a's k0 at (a, e, 4) because a's own big k0 stood beside c's collected delete).
 *
 * To a peer below 11, a state naming an epoch that holds a live typed value tells no context (docs/design/epochs-build.md
 * item 6): that state never reaches the peer, yet its merge holds what the versions it superseded held (a counter's
 * per-replica count, an add-wins tag). Told the context, the peer dropped them and built its next write on a state
 * without them: its counter entry started over at 1, which the withheld state's larger count absorbed, and its next
 * add-wins tag re-minted a counter the withheld set's context covers, so that item was dropped everywhere (SIM_SPEAKS=
 * mixed relay-hub 37: b's second increment of c0 lost). Kept, they stay under the peer's next write's context, and
 * join the withheld state once the peer is upgraded. Every entry is left out, not only the peer's own: peers of earlier
 * releases pass what they hold to each other, a dropped version with it (restore-once 80 jittered: d, told e's entry,
 * emptied e's set over their own link). A plain value merges nothing, and a delete (every version a tombstone, or
 * collected: none) holds nothing of what it superseded: their context still goes, else the peer kept the superseded
 * version and brought it back once every state covering it was lost (restore-relay 40 at mixed, a collected delete's;
 * 84 jittered, a write's and a collected delete's after a relay's restore and a lost disk).
 *
 * Without the lowered entry, a peer holding an old version of a writer who also wrote the big sibling never learned it
 * was superseded: the one entry that said so was the writer's, left out (withheld seed 1733502631: d kept a's k0 at a:3
 * after c's collected delete, because a also wrote the big k0 at a:7).
 */
import { coversDot, namesEpochs, pointsOf, sameDot, type KeyState, type Point, type StoredVersion } from '../dvv.js';
import { inHistory, maximalPoints, NO_EPOCHS, topCounter, UNTAGGED, type EpochRegistry } from '../epoch-points.js';
import { isTypedEncoding } from '../values.js';
import type { Entry, LeftDot } from './messages.js';

/**
 * `state`'s context alone (see above); undefined when nothing is left to tell. `peer`: what the link knows of the
 * peer's state of the key (its versions' dots), if anything. `points`: the link carries points naming epochs. `reg`:
 * the epochs' ancestry the state's context is judged by. `writer`: the peer's replicaId — below 11 its own versions in
 * the state go along (`withOwn`). `typed`: whether a version of the state is a live typed value — told apart for a
 * state noted as its dots alone (peer-model.ts LeftOutNote), whose versions keep no value to tell it by.
 */
export function contextAlone(state: KeyState, peer?: KeyState, points = false, reg: EpochRegistry = NO_EPOCHS, writer?: string, typed = state.vs.some(typedLive)): KeyState | undefined {
  if (!points && namesEpochs(state) && typed) return undefined;
  const c = contextOnly(state, peer, points, reg);
  return points || writer === undefined ? c : withOwn(state, peer, writer, c);
}

/**
 * Below 11, the context alone going to the writer `r` of versions in the state carries those versions (untagged, plain
 * or tombstones), with `r`'s whole entry, where the link does not know the peer holds them all. Lowered instead, `r`'s
 * entry covered a version of `r` the peer holds below them, which a dot of `r`'s own says was superseded — but where `r`
 * was restored from an older copy unnoticed (its relay restored too), that dot is a lost write's, and the peer's version
 * a write made since under the same counter: the lowered entry dropped it, and nothing told `r` of its restore
 * (clock-skew 1743000054 at the default: c at [5..7] dropped its k1@6, made after its restore, on relay a's context
 * alone of a state holding c's lost k1@8 beside e's tagged write). Its own version of a dot it does not hold is what a
 * whole state shows it (restore-claims.ts `impossibleClaim`): it re-identifies and re-issues the write.
 *
 * `r`'s whole entry covers every version of `r` in the state, so every one goes, those the peer holds too (as held
 * forms, peer-model.ts: no value): one left behind would be covered and not held, and the peer dropped it as superseded
 * — a live sibling of `r`'s own (a write made with an older read's context beside `r`'s earlier one), dropped there and,
 * by that peer's state, everywhere (the property test's seed 2064711834: b1@1 and b2@2 side by side, the link knowing the
 * peer held b1: b2 went alone under b:2, and b1 was gone). Where one cannot go — a typed value, which item 6 keeps from
 * a peer below 11, or one held as deltas of a type not loaded here — the entry stays lowered. So this is still a weaker
 * state of the key: it holds every version its context covers that the state holds, and joining it drops nothing the
 * state did not supersede.
 */
function withOwn(state: KeyState, peer: KeyState | undefined, r: string, c: KeyState | undefined): KeyState | undefined {
  const seq = state.cc[r];
  if (seq === undefined || state.pts?.[r] !== undefined) return c;
  const own = state.vs.filter((v) => v.r === r);
  if (own.every((v) => peer?.vs.some((u) => sameDot(u, v)))) return c;
  if (own.some((v) => v.ep !== undefined || typedLive(v))) return c;
  // Versions noted as their dots alone (peer-model.ts LeftOutNote: no value here to send): the entry goes neither with
  // them nor lowered (which could cover a write `r` made since a restore, as above), but not at all — weaker still.
  if (own.some((v) => v.d !== 1 && v.v === undefined && v.x === undefined)) return c && withoutOwn({ ...c, vs: own }, r);
  const cc = { ...c?.cc, [r]: seq };
  return c?.pts === undefined ? { vs: own, cc } : { vs: own, cc, pts: c.pts };
}

/**
 * `c` (a context alone) without the writer's own versions `withOwn` put in it, nor the writer's entry, for a link whose
 * frame they do not fit (a context alone never goes in parts): weaker than the lowered entry, so it drops none of the
 * writer's writes even where the writer was restored unnoticed (`withOwn`); it still tells what others' entries
 * superseded. Undefined when nothing is left to tell. `c` as it is where it carries no version.
 */
export function withoutOwn(c: KeyState, r: string | undefined): KeyState | undefined {
  if (c.vs.length === 0 || r === undefined) return c;
  const { [r]: _n, ...cc } = c.cc;
  const { [r]: _p, ...pts } = c.pts ?? {};
  if (Object.keys(cc).length === 0) return undefined;
  return Object.keys(pts).length === 0 ? { vs: [], cc } : { vs: [], cc, pts };
}

function contextOnly(state: KeyState, peer: KeyState | undefined, points: boolean, reg: EpochRegistry): KeyState | undefined {
  const cc: Record<string, number> = {};
  const pts: Record<string, readonly Point[]> = {};
  for (const r of Object.keys(state.cc)) {
    const tagged = state.pts?.[r];
    if (tagged !== undefined) {
      // Below 11 only its untagged point can go: as it is where it covers none of the state's versions, else lowered.
      let told: readonly Point[] = points && !state.vs.some((v) => v.r === r) ? tagged : peer ? supersededPoints(reg, state, peer, r, !points) : [];
      if (!points) told = withPlainPoint(reg, state, r, tagged, told);
      if (told.length === 1 && told[0]!.e === UNTAGGED) cc[r] = told[0]!.n;
      else if (told.length > 0) (cc[r] = topCounter(told)), (pts[r] = told);
      continue;
    }
    let lowest = Infinity;
    for (const v of state.vs) if (v.r === r && v.n < lowest) lowest = v.n;
    if (lowest === Infinity) cc[r] = state.cc[r]!;
    else if (peer !== undefined) {
      const n = supersededBelow(state, peer, r, lowest);
      if (n > 0) cc[r] = n;
    }
  }
  if (Object.keys(cc).length === 0) return undefined;
  return Object.keys(pts).length === 0 ? { vs: [], cc } : { vs: [], cc, pts };
}

/**
 * Below 11: `r`'s untagged point in the context (its writes from before it tagged, seen for this key: a dot it minted for
 * it, as a plain vector's entry is) goes as it is where its history holds none of the state's versions of `r` — also
 * where the link knows nothing of the peer's state (a peer that never runs anti-entropy is never asked what it holds:
 * gc-relay 1736200133, an earlier release kept a relay's untagged write the relay's tagged delete had superseded, and
 * once the delete was collected it stood there for good). `lowered`: the untagged point lowered to the peer's versions.
 */
function withPlainPoint(reg: EpochRegistry, state: KeyState, r: string, tagged: readonly Point[], lowered: readonly Point[]): readonly Point[] {
  const plain = tagged.find((p) => p.e === UNTAGGED);
  if (plain === undefined || lowered.some((p) => p.n >= plain.n)) return lowered;
  if (state.vs.some((v) => v.r === r && inHistory(reg, r, v.ep ?? UNTAGGED, v.n, plain))) return lowered;
  return [plain];
}

/** The highest counter of `r`'s untagged versions in `peer` below `lowest` that `state`'s context covers; 0 if none. */
function supersededBelow(state: KeyState, peer: KeyState, r: string, lowest: number): number {
  let best = 0;
  const top = Math.min(state.cc[r]!, lowest - 1);
  for (const v of peer.vs) if (v.r === r && v.ep === undefined && v.n <= top && v.n > best) best = v.n;
  return best;
}

/**
 * Whether context alone `c` tells more than `told` (one sent before for the same state): a point of it `told` does not
 * cover. At protocol 11 a lowered replica's new point may name another epoch below the top counter told before (a
 * peer's version of a restored branch): the vector entries alone would not show it.
 */
export function tellsMore(reg: EpochRegistry, c: KeyState, told: KeyState | undefined): boolean {
  for (const r of Object.keys(c.cc)) {
    for (const p of pointsOf(c, r)) if (told === undefined || !coversDot(reg, told, r, p.e === UNTAGGED ? undefined : p.e, p.n)) return true;
  }
  return false;
}

/**
 * The points of `r` lowered below the state's versions of it: the dots of the peer's versions of `r` (dots `r` minted
 * for this key) that the state's context covers and its versions do not hold, each as a point — less any whose history
 * holds a version of the state — kept maximal (withheld seed 1733502631 at 11: d kept a's k0 at (a, e, 4) after a's big
 * k0 at (a, e, 8) and c's collected delete, a's entry left out because it names an epoch). `untaggedOnly` (a peer below
 * 11): of its untagged versions only, whatever `r` has in the state (the untagged point is a plain vector entry there).
 */
function supersededPoints(reg: EpochRegistry, state: KeyState, peer: KeyState, r: string, untaggedOnly: boolean): Point[] {
  const mine = state.vs.filter((v) => v.r === r);
  const holdsMine = (p: Point) => mine.some((v) => inHistory(reg, r, v.ep ?? UNTAGGED, v.n, p));
  const out: Point[] = [];
  for (const v of peer.vs) {
    if (v.r !== r || (untaggedOnly && v.ep !== undefined) || mine.some((u) => sameDot(u, v)) || !coversDot(reg, state, r, v.ep, v.n)) continue;
    const p = { e: v.ep ?? UNTAGGED, n: v.n };
    if (!holdsMine(p)) out.push(p);
  }
  return out.length === 0 ? out : maximalPoints(reg, r, out);
}

/**
 * What a peer's anti-entropy claim of a key (its durable state's dots and context, antientropy.ts claimOf) tells of
 * ours where neither state crosses the link: the claim's context alone, lowered to our versions as `contextAlone`
 * lowers it to the peer's — the context the peer would have told had its link known our versions. Below 11 a peer
 * whose model of us had none (its own restore forgot what it sent us, and our state of the key, too big for the link,
 * never went back) told its entry of a writer left out, so a version of ours a collected delete superseded stood here
 * beside our own big sibling for good (withheld 1748700161 at 10: b kept relay a's k4@3 after d collected its delete).
 * Our own entry stays out (a restored replica's new write under a lost write's counter is not the lost write: `withOwn`),
 * and states naming epochs are left to 11's points. Undefined where it supersedes none of our versions (nothing to store).
 *
 * Dropping a version on the claim must be as sound as joining the state claimed, which we lack. A plain value or a
 * delete holds nothing of what it superseded, so that join drops the same versions and keeps nothing of them. A live
 * typed value's merge holds what the versions it superseded held (an add-wins tag, a count): joined whole it keeps them;
 * on its dots alone they are gone, and if that state never arrives — its holder loses its disk first — gone everywhere
 * (far-future 1749200046: relay a dropped e's set0@3 on e's claim of set0@13, e's disk went before set0@13 did, apple
 * and pear with it). So a typed version of ours is dropped only where the claim holds no live version. The caller joins
 * only where our state is left out on the link (space-ports.ts): where it crosses, the peer learns our versions and its
 * own state comes whole, or as its context alone lowered to them.
 */
export function claimedContext(mine: KeyState, claim: KeyState, me: string): KeyState | undefined {
  if (namesEpochs(mine) || namesEpochs(claim)) return undefined;
  const c = contextOnly(claim, mine, false, NO_EPOCHS);
  if (c === undefined) return undefined;
  const { [me]: _own, ...cc } = c.cc;
  const dropped = mine.vs.filter((v) => v.r !== me && v.n <= (cc[v.r] ?? 0));
  if (dropped.length === 0 || (dropped.some(typedLive) && claim.vs.some((v) => v.d !== 1))) return undefined;
  return { vs: [], cc };
}

/** A live version of a typed value (values.ts TYPED), or one held as a delta (only typed values are). */
export const typedLive = (v: StoredVersion) => v.d !== 1 && (v.x !== undefined || isTypedEncoding(v.v));

/** `entries`, those in `only` (every one when absent) replaced by the context alone `f` makes of them, or dropped without one. */
export function asContexts(entries: readonly Entry[], only: ReadonlySet<string> | undefined, f: (e: Entry) => KeyState | undefined): Entry[] {
  return entries.flatMap((e): Entry[] => {
    if (only && !only.has(e[0])) return [e];
    const c = f(e);
    return c ? [[e[0], c]] : [];
  });
}

/**
 * The state a LEFT names (lacks.ts leftFrame: the dots of the versions of a state its sender could not send us): those
 * versions, as dots (no value), under the context of their dots alone — a lower bound of the sender's state of the key.
 */
export function leftState(dots: readonly LeftDot[], reg: EpochRegistry): KeyState {
  const cc: Record<string, number> = {};
  const points = new Map<string, Point[]>();
  const vs: StoredVersion[] = [];
  const seen = new Set<string>();
  for (const { r, e, n } of dots) {
    const id = `${r} ${e} ${n}`;
    if (seen.has(id)) continue;
    seen.add(id);
    vs.push(e === UNTAGGED ? { r, n, t: 0, c: 0 } : { r, ep: e, n, t: 0, c: 0 });
    if (n > (cc[r] ?? 0)) cc[r] = n;
    points.set(r, [...(points.get(r) ?? []), { e, n }]);
  }
  vs.sort((a, b) => (a.r !== b.r ? (a.r < b.r ? -1 : 1) : a.n !== b.n ? a.n - b.n : (a.ep ?? '') < (b.ep ?? '') ? -1 : 1));
  const pts: Record<string, readonly Point[]> = {};
  for (const [r, ps] of points) if (ps.some((p) => p.e !== UNTAGGED)) pts[r] = maximalPoints(reg, r, ps);
  return Object.keys(pts).length > 0 ? { vs, cc, pts } : { vs, cc };
}
