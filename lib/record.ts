/**
 * A key's stored record: its state, its position in the change log, and the hash of its canonical state
 * text (dots, tombstone flags, context; never values), the key's leaf contribution to the Merkle tree.
 * And the version a local write adds (`versionFor`).
 */
import { derive, settle } from './deltas.js';
import { stateHash, type KeyState, type StoredVersion } from './dvv.js';
import { ConcordError } from './errors.js';
import type { KeyRecord } from './storage.js';
import { encodeTyped } from './values.js';

/**
 * The record of a state, points included: every stored form (memory, file log and snapshot, IndexedDB) keeps a dot's
 * epoch and a context's points (test/storage/epoch-records.test.ts); what may not leave is judged by the wire (a peer
 * below protocol 11 is sent no state naming an epoch).
 */
export function record(key: string, state: KeyState, seq: number, src?: string): KeyRecord {
  const h = stateHash(key, state);
  // Literals, not a copy spread with `src` (a record of every join of a peer's state: one object, not two).
  if (state.pts === undefined) return src === undefined ? { vs: state.vs, cc: state.cc, seq, h } : { vs: state.vs, cc: state.cc, seq, h, src };
  return src === undefined ? { vs: state.vs, cc: state.cc, pts: state.pts, seq, h } : { vs: state.vs, cc: state.cc, pts: state.pts, seq, h, src };
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
export function versionFor(content: WriteContent, fields: { r: string; ep?: string; n: number; t: number; c: number }, current: KeyRecord | undefined): StoredVersion {
  // Literals, not spreads of `fields`: an optimized spread gave every version a hidden class of its own (a map per
  // stored version: memory, and garbage collection time on every write).
  const ep = fields.ep;
  if (ep !== undefined) {
    if ('d' in content) return { r: fields.r, ep, n: fields.n, t: fields.t, c: fields.c, d: 1 };
    if ('v' in content) return { r: fields.r, ep, n: fields.n, t: fields.t, c: fields.c, v: content.v };
  }
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
