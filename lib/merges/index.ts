/**
 * The built-in merge functions, and the value types and helpers of those that need more than plain values.
 *
 *   openReplica({ storage, merge: { 'cart/*': merges.union } })
 *
 * Counters and add-wins sets are typed values (typed.ts): their siblings merge by their type on every replica, so
 * `merges.counter` and `merges.addWins` need no registration (registering them is harmless). Collaborative text is a
 * Yjs document (`concord/yjs`).
 */
import * as addWinsType from './add-wins.js';
import { fields, lww, max, union } from './basic.js';
import * as counterType from './counter.js';

/** A merge function that also carries the helpers of its value type. */
type WithHelpers<M, H> = M & Omit<H, 'merge'>;

function withHelpers<H extends { merge: unknown }>(helpers: H): WithHelpers<H['merge'], H> {
  const { merge, ...rest } = helpers;
  return Object.assign((...args: unknown[]) => (merge as (...a: unknown[]) => unknown)(...args), rest) as WithHelpers<H['merge'], H>;
}

// Their `refuses` (a helper like the others) is what a read leaves out of their merge (view.ts RefusingMerge).
export const counter = withHelpers(counterType);
export const addWins = withHelpers(addWinsType);

export const merges = { lww, union, max, fields, counter, addWins };

export { Counter, type CounterValue } from './counter.js';
export { AddWins, type AddWinsSet, type AddWinsEntry } from './add-wins.js';
