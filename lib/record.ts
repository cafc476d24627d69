/**
 * A key's stored record: its state, its position in the change log, and the hash of its canonical state
 * text (dots, tombstone flags, context; never values), the key's leaf contribution to the Merkle tree.
 * And the version a local write adds (`versionFor`).
 */
import { derive, settle } from './deltas.js';
import { namesEpochs, stateHash, type KeyState, type StoredVersion } from './dvv.js';
import { ConcordError } from './errors.js';
import type { KeyRecord } from './storage.js';
import { encodeTyped } from './values.js';

export function record(key: string, state: KeyState, seq: number, src?: string): KeyRecord {
  // Not every stored form holds epochs yet (docs/design/epochs-build.md, stage 2 item 4): a record of such a state
  // would keep its vector's highest counters as untagged points, which cover dots the context never saw.
  if (namesEpochs(state)) throw new Error('concord: a state whose dots or context name epochs cannot be stored yet');
  return recordOf(key, state, seq, src);
}

/**
 * The record of a state, points included, without record()'s guard: for the stored forms being taught epochs
 * (their round-trip tests) until every adapter keeps them and the guard goes.
 */
export function recordOf(key: string, state: KeyState, seq: number, src?: string): KeyRecord {
  const h = stateHash(key, state);
  const rec: KeyRecord = state.pts === undefined ? { vs: state.vs, cc: state.cc, seq, h } : { vs: state.vs, cc: state.cc, pts: state.pts, seq, h };
  return src === undefined ? rec : { ...rec, src };
}

/**
 * The content of a local write: an encoded value, a tombstone, or a delta of a typed value (`type`) against every
 * live version the key holds when the write reads it (the version then derives from them: docs/deltas.md; with
 * none, the delta is the whole value). A delta write supersedes what it read (no explicit context). `whole`, when
 * the writer can make the whole payload cheaply, is asked for it instead of applying a long chain.
 */
export type WriteContent =
  | { readonly v: string | Uint8Array }
  | { readonly d: true }
  | { readonly delta: Uint8Array; readonly type: string; readonly maxBytes: number; readonly whole?: () => Uint8Array };

/** The version a write of `content` adds over `current` (read in the write's transaction). */
export function versionFor(content: WriteContent, fields: { r: string; n: number; t: number; c: number }, current: KeyRecord | undefined): StoredVersion {
  // Literals, not spreads of `fields`: an optimized spread gave every version a hidden class of its own (a map per
  // stored version: memory, and garbage collection time on every write).
  if ('d' in content) return { r: fields.r, n: fields.n, t: fields.t, c: fields.c, d: 1 };
  if ('v' in content) return { r: fields.r, n: fields.n, t: fields.t, c: fields.c, v: content.v };
  const live = current ? current.vs.filter((v) => !v.d) : [];
  let size: number;
  let version: StoredVersion;
  if (live.length === 0) {
    version = { ...fields, v: encodeTyped(content.type, content.delta) };
    size = (version.v as Uint8Array).length;
  } else {
    version = derive(fields, live, content.delta, current!.seq);
    const whole = content.whole;
    size = settle(version, content.maxBytes, whole && (() => encodeTyped(content.type, whole())));
  }
  if (size > content.maxBytes) throw new ConcordError('VALUE_TOO_LARGE', `value encodes to ${size} bytes, over maxValueBytes (${content.maxBytes})`);
  return version;
}
