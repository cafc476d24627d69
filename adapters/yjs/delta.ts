/**
 * Deltas between Yjs document states (the 'yjs' type's `diff`/`apply`/`equals` hooks, docs/deltas.md).
 *
 * `Y.diffUpdate(next, stateVector(base))` holds the structs `base` lacks but *all* of next's delete set, which for a
 * long-edited document is kilobytes: too much for a keystroke. So the delta is that update with its delete set
 * replaced by the deletions `base` lacks. The delete set is the last section of a V1 update, written
 * deterministically (clients in descending order, then each client's ranges as read); we encode next's delete set the
 * same way, check that the diff ends with exactly those bytes, and swap them — or give up (undefined: send the full
 * state) if they differ. A delta exists only when `next` includes `base` (its state vector and delete set cover
 * base's): then `Y.mergeUpdates([base, delta])` has exactly next's contents.
 */
import * as Y from 'yjs';

type Ranges = Map<number, Array<{ clock: number; len: number }>>;

function varuint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** A delete set as a V1 update's last section (Yjs's writeDeleteSet with DSEncoderV1). */
function encodeDeleteSet(ds: Ranges): Uint8Array {
  const out: number[] = [];
  varuint(out, ds.size);
  for (const [client, items] of [...ds.entries()].sort((a, b) => b[0] - a[0])) {
    varuint(out, client);
    varuint(out, items.length);
    for (const it of items) {
      varuint(out, it.clock);
      varuint(out, it.len);
    }
  }
  return Uint8Array.from(out);
}

/** The delete set of an update (decodes its structs too: cheap when they are few). */
function deleteSetOf(update: Uint8Array): Ranges {
  return (Y.decodeUpdate(update).ds as unknown as { clients: Ranges }).clients;
}

/** Sorted, merged ranges of one client. */
function normalize(items: ReadonlyArray<{ clock: number; len: number }>): Array<[number, number]> {
  const sorted = items.map((i) => [i.clock, i.clock + i.len] as [number, number]).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** `a` minus `b`, per client; undefined when `b` has a deletion `a` lacks (then `a` does not include `b`). */
function subtract(a: Ranges, b: Ranges): Ranges | undefined {
  const out: Ranges = new Map();
  for (const [client, items] of b) {
    const mine = normalize(a.get(client) ?? []);
    for (const [s, e] of normalize(items)) if (!mine.some(([ms, me]) => ms <= s && e <= me)) return undefined;
  }
  for (const [client, items] of a) {
    const theirs = normalize(b.get(client) ?? []);
    const left: Array<{ clock: number; len: number }> = [];
    for (const [s0, e] of normalize(items)) {
      let s = s0;
      for (const [ts, te] of theirs) {
        if (te <= s || ts >= e) continue;
        if (ts > s) left.push({ clock: s, len: ts - s });
        s = Math.max(s, te);
      }
      if (s < e) left.push({ clock: s, len: e - s });
    }
    if (left.length > 0) out.set(client, left);
  }
  return out;
}

function covers(next: Map<number, number>, base: Map<number, number>): boolean {
  for (const [client, clock] of base) if ((next.get(client) ?? 0) < clock) return false;
  return true;
}

function endsWith(bytes: Uint8Array, tail: Uint8Array): boolean {
  if (tail.length > bytes.length) return false;
  const off = bytes.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (bytes[off + i] !== tail[i]) return false;
  return true;
}

/** The change from `base` to `next`, or undefined when `next` does not include `base` or the delta saves nothing. */
export function diffStates(base: Uint8Array, next: Uint8Array): Uint8Array | undefined {
  const svBase = Y.encodeStateVectorFromUpdate(base);
  if (!covers(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(next)), Y.decodeStateVector(svBase))) return undefined;
  const full = Y.diffUpdate(next, svBase);
  const dsNext = deleteSetOf(full);
  const dsBase = deleteSetOf(Y.diffUpdate(base, svBase));
  const missing = subtract(dsNext, dsBase);
  if (!missing) return undefined;
  const tail = encodeDeleteSet(dsNext);
  if (!endsWith(full, tail)) return undefined;
  const head = full.subarray(0, full.length - tail.length);
  const ds = encodeDeleteSet(missing);
  const delta = new Uint8Array(head.length + ds.length);
  delta.set(head);
  delta.set(ds, head.length);
  return delta.length < next.length ? delta : undefined;
}

/**
 * `base` with `delta` applied, as a document's state: through a Y.Doc, so deleted content is collected (a merge of
 * updates, `Y.mergeUpdates`, keeps every character ever inserted: the automerge-paper trace merged that way passes
 * 1 MiB, while its document's state is 311 KB).
 */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, base);
  Y.applyUpdate(doc, delta);
  const out = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return out;
}

/**
 * The most bytes a struct split in two adds to an encoded state: the new struct's info byte, origin and right origin
 * (a client id and a clock each, up to 8 varuint bytes apiece for ids up to 2^53), its content's length prefix and a
 * surrogate pair cut in two (both halves replaced), its range in the delete set, and its client's struct count grown.
 */
const SPLIT_BYTES = 64;

type Id = { client: number; clock: number };

/** Whether `ref` names `id` itself or a later struct of its own client (which no writer can have seen before it). */
function notBefore(ref: unknown, id: Id): boolean {
  return ref instanceof Y.ID && ref.client === id.client && ref.clock >= id.clock;
}

/** What decoding a delta once tells (checkUpdate and applyBound: a received delta is asked both, in either order). */
interface Inspected {
  readonly error?: Error;
  readonly bound: number;
}

const inspected = new WeakMap<Uint8Array, Inspected>();

function inspect(update: Uint8Array): Inspected {
  let out = inspected.get(update);
  if (out) return out;
  try {
    const { structs, ds } = Y.decodeUpdate(update);
    let ranges = 0;
    for (const [client, items] of (ds as unknown as { clients: Ranges }).clients) {
      ranges += items.length;
      // Yjs decodes an empty range but throws writing it (a delete set still pending is written with the state).
      for (const it of items) if (!(it.len > 0)) throw new Error(`a Yjs update deletes an empty range of ${client}`);
    }
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue;
      if (notBefore(s.origin, s.id) || notBefore(s.rightOrigin, s.id) || notBefore(s.parent, s.id)) {
        throw new Error(`a Yjs update's item ${s.id.client}:${s.id.clock} refers to itself or to a later item of its client`);
      }
    }
    out = { bound: update.length + 64 + SPLIT_BYTES * (4 * structs.length + 2 * ranges) };
  } catch (e) {
    out = { error: e instanceof Error ? e : new Error(String(e)), bound: Infinity };
  }
  inspected.set(update, out);
  return out;
}

/**
 * An upper bound of what applying `delta` adds to a state (the 'yjs' type's applySize). Applying writes the delta's
 * own structs and delete ranges once (at most its bytes, plus a header per struct when trimmed or left pending), and
 * may split structs the base holds: each struct of the delta at its origin, its right origin and its own client's
 * previous struct (four counted a struct: one more for its own header), each delete range at its two ends. A split is
 * what a tiny delta expands through (a delete set of 2-byte ranges over a long string with large ids makes ~19 bytes
 * a byte), so the bound counts them; Infinity for an update checkUpdate refuses (it does not apply either).
 */
export function applyBound(delta: Uint8Array): number {
  return inspect(delta).bound;
}

/**
 * Throws unless `update` decodes whole as a Yjs update (structs and delete set): what a merge of it needs — and
 * unless each of its items refers (origin, right origin, parent) only to what came before it in its own client's
 * clock. An item whose origin is itself or later decodes, but Yjs throws integrating it (findIndexSS finds no struct
 * there): a delta stored unapplied with one would make its version, and every version derived from it, fail to read.
 */
export function checkUpdate(update: Uint8Array): void {
  const { error } = inspect(update);
  if (error) throw error;
}

/** Whether `next` holds all of `base`'s contents: its state vector covers base's, its delete set base's. */
export function includesState(next: Uint8Array, base: Uint8Array): boolean {
  const sn = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(next));
  if (!covers(sn, Y.decodeStateVector(Y.encodeStateVectorFromUpdate(base)))) return false;
  return subtract(deleteSetOf(next), deleteSetOf(base)) !== undefined;
}

/** Same document contents: equal state vectors and delete sets. */
export function sameState(a: Uint8Array, b: Uint8Array): boolean {
  const sa = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(a));
  const sb = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(b));
  if (!covers(sa, sb) || !covers(sb, sa)) return false;
  const da = deleteSetOf(a);
  const db = deleteSetOf(b);
  const x = subtract(da, db);
  const y = subtract(db, da);
  return !!x && !!y && x.size === 0 && y.size === 0;
}
