/**
 * A key's stored record: its state, its position in the change log, and the hash of its canonical state
 * text (dots, tombstone flags, context; never values), the key's leaf contribution to the Merkle tree.
 * And the version a local write adds (`versionFor`).
 */
import { derive, settle } from './deltas.js';
import { stateHash, type EpochPoints, type KeyState, type StoredVersion, type VersionVector } from './dvv.js';
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
 * The record a local write makes (local-write.ts), or a join of a peer's state (core.ts joinNow, with its source `src`
 * where the state is the peer's as sent): its state hash `h` is computed when first read, not when the record is made.
 * Who reads it: a storage that keeps the hash (file storage, IndexedDB: at commit), the
 * Merkle tree of a space that syncs (sync/hub.ts, on the change), a storage's index. A replica that does not sync a
 * space, on a storage that can hash a record it keeps later (memory storage: `knownHash`), never pays for it — on
 * S3's path (memory storage, no link) the hash was ~7 % of a put's CPU, with its BigInt and hex text on the heap; a
 * relay's client on memory storage that streams from its cursor builds no tree either, and hashed every key the relay
 * fanned out to it (S7: ~3 % of the client's CPU, and the hash's text allocated per delivery).
 * The hash is the same function of the same state, so whoever reads it gets what `record` would have given: the
 * state is never changed after the write (a state is a value everywhere in the library; nothing mutates one).
 * Its own fields are a plain record's but `h`, an accessor of the class: a copy by spread or structured clone would
 * drop it, and no code copies a record that way (JSON takes `toJSON`, which keeps it).
 */
export class WrittenRecord implements KeyRecord {
  readonly vs: readonly StoredVersion[];
  readonly cc: VersionVector;
  /** An own field only where the state has points (as in a plain record). */
  declare readonly pts?: EpochPoints;
  readonly seq: number;
  /** An own field only where the record has a source (as in a plain record: `record`). */
  declare readonly src?: string;
  // ES private fields, not TypeScript's `private`: no own property beside a plain record's (JSON, spreads, toEqual).
  #key: string;
  #h: string | undefined;

  constructor(key: string, state: KeyState, seq: number, src?: string) {
    this.vs = state.vs;
    this.cc = state.cc;
    if (state.pts !== undefined) this.pts = state.pts;
    this.seq = seq;
    if (src !== undefined) this.src = src;
    this.#key = key;
  }

  get h(): string {
    return (this.#h ??= stateHash(this.#key, this));
  }

  /** The hash if it was computed already (a storage keeping records in memory may hash later: memory-records.ts). */
  get knownHash(): string | undefined {
    return this.#h;
  }

  toJSON(): KeyRecord {
    const { vs, cc, pts, seq, src } = this;
    if (pts === undefined) return src === undefined ? { vs, cc, seq, h: this.h } : { vs, cc, seq, h: this.h, src };
    return src === undefined ? { vs, cc, pts, seq, h: this.h } : { vs, cc, pts, seq, h: this.h, src };
  }
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
