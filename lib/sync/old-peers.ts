/**
 * What goes to a peer below protocol 11 of a state naming an epoch (docs/design/epochs-build.md, item 6: never
 * down-convert): nothing of it. A log frame leaves the key out (wire.ts); an anti-entropy claim goes as nothing, and the
 * key counts as left out all the same (`claimsForOld`'s keys): the peer then sends its own state of the key whole, never
 * learns ours, and its acknowledgements — a run's end among them (space-sync.ts repairEnded) — must not count our
 * writes of it (acks.ts withhold).
 */
import { EMPTY_STATE, namesEpochs, type KeyState } from '../dvv.js';
import { typedLive } from './fit-state.js';
import type { AeItem, AntiEntropy, Entry } from './messages.js';

export const NONE: readonly string[] = [];

/** The keys of entries whose states name an epoch (a peer below protocol 11 cannot take them), less `besides` (left out already); nothing made for none. */
export function taggedKeys(entries: readonly Entry[], besides: readonly string[]): readonly string[] {
  let keys: string[] | undefined;
  for (const [k, s] of entries) if (namesEpochs(s) && !besides.includes(k)) (keys ??= []).push(k);
  return keys ?? NONE;
}

/**
 * An AE turn for a peer below protocol 11: a claim naming an epoch is claimed as nothing (antientropy.ts fillRanges),
 * with the keys so claimed (left out: the peer holds nothing of ours for them by this run).
 */
export function claimsForOld(m: AntiEntropy): [AntiEntropy, readonly string[]] {
  const keys = claimedAsNothing(m.items);
  if (keys.length === 0) return [m, NONE];
  const items = m.items.map((it) => (it.kind === 'range' || it.kind === 'keys' ? { ...it, keys: it.keys.map(([k, s]) => [k, namesEpochs(s) ? EMPTY_STATE : s] as const) } : it));
  return [{ ...m, items }, keys];
}

/** The keys of `items`' claims that name an epoch: to a peer below 11 they go as nothing (`claimsForOld`). */
export function claimedAsNothing(items: readonly AeItem[]): string[] {
  const keys: string[] = [];
  for (const it of items) if (it.kind === 'range' || it.kind === 'keys') for (const [k, s] of it.keys) if (namesEpochs(s)) keys.push(k);
  return keys;
}

/**
 * Whether a state left out toward a peer below 11 tells more in its context alone once the link knows the peer's versions
 * of the key (fit-state.ts): only entries of replicas with a version in the state are lowered to them, and a state naming
 * an epoch that holds a live typed value tells no context there. Else asking the peer for its state (wire.ts, NEED) tells
 * nothing.
 */
export function lowersToPeer(state: KeyState): boolean {
  return state.vs.length > 0 && !(namesEpochs(state) && state.vs.some(typedLive));
}
