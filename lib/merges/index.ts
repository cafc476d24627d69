/**
 * The built-in merge functions, and the value types and helpers of those that need more than plain values.
 *
 *   openReplica({ storage, merge: { 'cart/*': merges.union, 'doc/*': merges.text, 'likes/*': merges.counter } })
 */
import * as addWinsType from './add-wins.js';
import { fields, lww, max, union } from './basic.js';
import * as counterType from './counter.js';
import * as textType from './text.js';

/** A merge function that also carries the helpers of its value type. */
type WithHelpers<M, H> = M & Omit<H, 'merge'>;

function withHelpers<H extends { merge: unknown }>(helpers: H): WithHelpers<H['merge'], H> {
  const { merge, ...rest } = helpers;
  return Object.assign((...args: unknown[]) => (merge as (...a: unknown[]) => unknown)(...args), rest) as WithHelpers<H['merge'], H>;
}

export const counter = withHelpers(counterType);
export const addWins = withHelpers(addWinsType);
export const text = withHelpers(textType);

export const merges = { lww, union, max, fields, counter, addWins, text };

export type { CounterValue } from './counter.js';
export type { AddWinsSet, AddWinsEntry } from './add-wins.js';
export type { TextDoc, TextLine } from './text.js';
