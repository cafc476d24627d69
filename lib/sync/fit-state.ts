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
 * out; so is a replica whose context holds points naming epochs.
 *
 * Without the lowered entry, a peer holding an old version of a writer who also wrote the big sibling never learned it
 * was superseded: the one entry that said so was the writer's, left out (withheld seed 1733502631: d kept a's k0 at a:3
 * after c's collected delete, because a also wrote the big k0 at a:7).
 */
import type { KeyState } from '../dvv.js';

/**
 * `state`'s context alone (see above); undefined when nothing is left to tell. `peer`: what the link knows of the
 * peer's state of the key (its versions' dots), if anything.
 */
export function contextAlone(state: KeyState, peer?: KeyState): KeyState | undefined {
  const cc: Record<string, number> = {};
  for (const r of Object.keys(state.cc)) {
    if (state.pts?.[r] !== undefined) continue;
    let lowest = Infinity;
    for (const v of state.vs) if (v.r === r && v.n < lowest) lowest = v.n;
    if (lowest === Infinity) cc[r] = state.cc[r]!;
    else if (peer !== undefined) {
      const n = supersededBelow(state, peer, r, lowest);
      if (n > 0) cc[r] = n;
    }
  }
  return Object.keys(cc).length === 0 ? undefined : { vs: [], cc };
}

/** The highest counter of `r`'s untagged versions in `peer` below `lowest` that `state`'s context covers; 0 if none. */
function supersededBelow(state: KeyState, peer: KeyState, r: string, lowest: number): number {
  let best = 0;
  const top = Math.min(state.cc[r]!, lowest - 1);
  for (const v of peer.vs) if (v.r === r && v.ep === undefined && v.n <= top && v.n > best) best = v.n;
  return best;
}
