/**
 * The peer model's entry of a key (peer-model.ts `states`): what it knows of the peer's state, and what the peer told.
 */
import type { KeyState } from '../dvv.js';
import { ToldDot } from './one-dot.js';

/**
 * What the model keeps of a key: `states`, the peer's state as dots (the join of every state sent on the link and every
 * state the peer sent), and `told`, the same from what the peer itself said only (its frames, its anti-entropy dots),
 * not from what we sent it: a repair state takes held forms from told alone, since a frame of ours the peer could not
 * resolve (it asks with NEED) is not held there, and a repair state must resolve as it comes.
 * One map entry for both (two maps held the same dots under one id: a client of a relay keeps one per key the relay
 * fans out to it, and its young-generation collections copy them): a plain state is `states` with nothing told; a
 * ToldDot (one-dot.ts) is both; Apart holds two. So what was told of a key goes with its entry (MAX_KEYS, the least
 * recently exchanged first), not by a bound of its own over the keys told.
 */
export type Kept = KeyState | Apart;

export class Apart {
  constructor(
    readonly states: KeyState,
    readonly told: KeyState,
  ) {}
}

export function statesOf(e: Kept): KeyState {
  return e instanceof Apart ? e.states : e;
}

export function toldOf(e: Kept | undefined): KeyState | undefined {
  return e instanceof Apart ? e.told : e instanceof ToldDot ? e : undefined;
}

/** `dots` as both states and told (dotsOf's `told`: a one-dot state is a ToldDot). */
export function both(dots: KeyState): Kept {
  return dots instanceof ToldDot ? dots : new Apart(dots, dots);
}

/** `states` (not a ToldDot) and `told` (undefined: nothing told) as an entry. */
export function kept(states: KeyState, told: KeyState | undefined): Kept {
  return told === undefined ? states : new Apart(states, told);
}

/**
 * A key's id in a link's model of a space other than its first (peer-model.ts `sid`, sent-notes.ts): `\0space\0key`
 * (no key of the first space, kept under the key itself, starts with `\0`).
 */
export function spacedSid(space: string, key: string): string {
  return '\u0000' + space + '\u0000' + key;
}
