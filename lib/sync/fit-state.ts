/**
 * What of a key state crosses a link that cannot carry it whole (wire.ts LEFT OUT): its causal context without the
 * entries of the replicas that have a version in the state, and no version.
 *
 * A key left out whole took its context with it: a peer behind a narrow link (an earlier release, no key parts) never
 * heard that the versions it holds were superseded — by a delete, by later writes — while one big sibling stood beside
 * them elsewhere. Once the delete was collected, the version it superseded lived on there alone, for as long as the big
 * sibling stood (issue 10, withheld seeds 22332, 21015, 21333).
 *
 * The context alone is a weaker state of the same key, so joining it is sound anywhere: it covers no version the
 * state holds (their replicas are not in it), so the receiver drops only versions the whole state superseded and keeps
 * every one it holds that the state holds too; reading the key shows nothing new.
 *
 * Entries are left out, not lowered below the state's versions: a counter enters a context only with a dot its writer
 * minted, and a writer takes a counter of its own that it never minted for a sign that its storage lost a history
 * (restore-claims.ts OwnDots): a lowered entry would make it re-identify for nothing (withheld seed 23227 did, with
 * the lowered form). A replica whose context holds points naming epochs is left out too, and so is nothing else.
 */
import type { KeyState } from '../dvv.js';

/** `state`'s context alone (see above); undefined when nothing is left to tell. */
export function contextAlone(state: KeyState): KeyState | undefined {
  const cc: Record<string, number> = {};
  for (const r of Object.keys(state.cc)) if (state.pts?.[r] === undefined && !state.vs.some((v) => v.r === r)) cc[r] = state.cc[r]!;
  return Object.keys(cc).length === 0 ? undefined : { vs: [], cc };
}
