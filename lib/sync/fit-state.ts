/**
 * What of a key state crosses a link that cannot carry it whole (wire.ts LEFT OUT): its causal context, lowered so
 * that it covers none of the state's versions, and no version.
 *
 * A key left out whole took its context with it: a peer behind a narrow link (an earlier release, no key parts) never
 * heard that the versions it holds were superseded — by a delete, by later writes — while one big sibling stood beside
 * them elsewhere. Once the delete was collected, the version it superseded lived on there alone, for as long as the big
 * sibling stood (issue 10, withheld seed 22332).
 *
 * The lowered context is a weaker state of the same key, so joining it is sound anywhere: per replica r with a
 * version in the state, it keeps r's dots below the lowest of them (each was superseded in the whole state: none of r's
 * versions below that survives), and drops nothing the state holds. The receiver drops only versions the whole state
 * superseded and keeps every one it holds that the state holds too; reading the key shows nothing new. A replica whose
 * context holds points naming epochs is not lowered (its points are no counter): such a state stays left out whole.
 */
import type { KeyState } from '../dvv.js';

/** `state`'s context without its versions (see above); undefined when nothing is left to tell, or it has epoch points. */
export function contextAlone(state: KeyState): KeyState | undefined {
  if (state.pts !== undefined) return undefined;
  const cc: Record<string, number> = { ...state.cc };
  for (const v of state.vs) {
    if (v.ep !== undefined) return undefined;
    if (v.n <= 1) delete cc[v.r];
    else if ((cc[v.r] ?? 0) >= v.n) cc[v.r] = v.n - 1;
  }
  return Object.keys(cc).length === 0 ? undefined : { vs: [], cc };
}
