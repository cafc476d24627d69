/**
 * The AE (anti-entropy turn) message body: space, run id, the sender's top, flags (final, more), the tree items in
 * groups — a run of node items at consecutive indexes of one level is one block (level, first index, count, hashes);
 * a range item is level, index and its (key, dots) list — then the wanted keys. Decoding validates every field
 * (fields.ts) and refuses nodes the tree cannot have. Protocol 7 adds the fast path's items (fast-path.ts), each
 * its own group: a sketch (level, the differing nodes as index gaps, the cell count, 12 bytes a cell, every sum
 * below the field's prime), claims (a (key, dots) list without a range), key hashes (below 2^30) and the claims
 * wanted back (a bitmap over the claims of the peer's last turn). Protocol 8's compact forms are groups of their own
 * too: a node block whose hashes take 3 bytes (24 bits, antientropy.ts wireHash), and a sketch whose three sums a cell
 * take 31 bits each, packed (93 bits a cell where 96 went).
 *
 * A key's dots are its state without values or times: 2 × the version count (+ 1 when the context follows
 * explicitly), each version's replica id (the frame's string table) and counter × 2 + its tombstone flag, then the
 * context as in wire-state.ts when it is not the versions' own dots. They name the state exactly (a dot names one
 * value): the receiver compares them with its own state hash, and sends each value only to a side that lacks it.
 * From protocol 11 (epoch-wire.ts) the count word is (2 × the version count + explicit) × 2 + any: when `any`, each
 * version's word is (counter × 2 + named) × 2 + tombstone, an epoch reference following when named; else every
 * version's epoch is implied and its word is as before. An explicit context is epoch-wire.ts's writeCausal.
 */
import { namesEpochs, type KeyState, type StoredVersion } from '../dvv.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { readCausal, writeCausal, type EpochIn, type EpochOut } from './epoch-wire.js';
import { hash, key, replicaId, space, writeHash } from './fields.js';
import { ARITY, DEPTH } from './merkle.js';
import { CELL_BYTES, KEY_BITS, MAX_CELLS, P } from './sketch.js';
import { ccIsDots, dotsContext, MAX_COUNTER, sortDots } from './wire-state.js';

/** One Merkle node's hash, or (RANGE) the keys under a node with the dots of each key's state (no values). */
export type AeItem =
  | { kind: 'node'; level: number; index: number; hash: string }
  | { kind: 'range'; level: number; index: number; keys: Array<readonly [string, KeyState]> }
  /** Protocol 7 (fast-path.ts): the differing nodes of an opening level, and a sketch of the keys under them. */
  | { kind: 'sketch'; level: number; nodes: number[]; m: number; cells: Uint32Array; packed?: boolean }
  /** Protocol 7: keys with the dots of each key's state, like a range item's, but only these keys. */
  | { kind: 'keys'; keys: Array<readonly [string, KeyState]> }
  /** Protocol 7: key hashes (sketch.ts) whose keys the sender lacks. */
  | { kind: 'hashes'; hashes: number[] }
  /** Protocol 7: the claims of the peer's last turn the sender wants, as a bitmap over them in order (bit i: byte i >> 3, bit i & 7). */
  | { kind: 'wanted'; bits: Uint8Array };

export interface AntiEntropyBody {
  space: string;
  /** Run id chosen by the initiator; the sender's log top at the start of the run (first turn of each side, else 0). */
  run: number;
  top: number;
  items: AeItem[];
  want: string[];
  final: boolean;
  /** More frames of this same turn follow (a turn larger than the frame limit is split). */
  more?: boolean;
}

/** `ep`: the frame's epochs where the connection speaks protocol 11. */
export function writeAntiEntropy(w: Writer, m: AntiEntropyBody, ep?: EpochOut): void {
  w.str(m.space);
  w.uint(m.run);
  w.uint(m.top);
  w.u8((m.final ? 1 : 0) | (m.more ? 2 : 0));
  const groups: Array<AeItem[]> = [];
  for (const it of m.items) {
    const g = groups[groups.length - 1];
    const prev = g?.[g.length - 1];
    if (g && prev && it.kind === 'node' && prev.kind === 'node' && prev.level === it.level && prev.index + 1 === it.index && prev.hash.length === it.hash.length) g.push(it);
    else groups.push([it]);
  }
  w.uint(groups.length);
  for (const g of groups) {
    const first = g[0]!;
    if (first.kind === 'sketch' || first.kind === 'keys' || first.kind === 'hashes' || first.kind === 'wanted') {
      writeFastItem(w, first, ep);
      continue;
    }
    const short = first.kind === 'node' && first.hash.length === 6;
    w.u8(first.kind === 'node' ? (short ? 6 : 0) : 1);
    w.uint(first.level);
    w.uint(first.index);
    if (first.kind === 'node') {
      w.uint(g.length);
      for (const it of g) writeHash(w, (it as { hash: string }).hash);
    } else {
      writeClaims(w, first.keys, ep);
    }
  }
  w.uint(m.want.length);
  for (const k of m.want) w.str(k);
}

export function readAntiEntropy(r: Reader, ep?: EpochIn): AntiEntropyBody {
  const s = space(r);
  const run = r.uint();
  const top = r.uint();
  const flags = r.u8();
  if (flags > 3) throw new ProtocolError('invalid anti-entropy flags');
  const final = (flags & 1) === 1;
  const more = (flags & 2) === 2;
  const ng = r.count(4);
  const items: AeItem[] = [];
  for (let i = 0; i < ng; i++) {
    const kind = r.u8();
    if (kind >= 2 && kind !== 6) {
      items.push(readFastItem(r, kind, ep));
      continue;
    }
    const level = r.uint();
    const index = r.uint();
    // The tree has DEPTH + 1 levels: a node below the leaves does not exist (and used to end in error 4500).
    if (level > DEPTH || index >= ARITY ** level) throw new ProtocolError('invalid tree node');
    if (kind !== 1) {
      const n = r.count(kind === 6 ? 3 : 4);
      if (index + n > ARITY ** level) throw new ProtocolError('invalid tree node');
      for (let j = 0; j < n; j++) items.push({ kind: 'node', level, index: index + j, hash: hash(r, kind === 6 ? 6 : 8) });
    } else items.push({ kind: 'range', level, index, keys: readClaims(r, ep) });
  }
  const nw = r.count(2);
  const want: string[] = [];
  for (let i = 0; i < nw; i++) want.push(key(r));
  return { space: s, run, top, items, want, final, ...(more ? { more } : {}) };
}

function writeClaims(w: Writer, keys: ReadonlyArray<readonly [string, KeyState]>, ep: EpochOut | undefined): void {
  w.uint(keys.length);
  for (const [k, st] of keys) {
    w.str(k);
    writeDots(w, st, ep);
  }
}

function readClaims(r: Reader, ep: EpochIn | undefined): Array<readonly [string, KeyState]> {
  const nk = r.count(3);
  const keys: Array<readonly [string, KeyState]> = [];
  for (let j = 0; j < nk; j++) keys.push([key(r), readDots(r, ep)]);
  return keys;
}

function writeFastItem(w: Writer, it: Extract<AeItem, { kind: 'sketch' | 'keys' | 'hashes' | 'wanted' }>, ep: EpochOut | undefined): void {
  if (it.kind === 'wanted') {
    w.u8(5);
    return w.bytes(it.bits);
  }
  if (it.kind === 'keys') {
    w.u8(3);
    return writeClaims(w, it.keys, ep);
  }
  if (it.kind === 'hashes') {
    w.u8(4);
    w.uint(it.hashes.length);
    for (const h of it.hashes) w.uint(h);
    return;
  }
  w.u8(it.packed ? 7 : 2);
  w.uint(it.level);
  w.uint(it.nodes.length);
  let prev = -1;
  for (const n of it.nodes) {
    w.uint(n - prev - 1);
    prev = n;
  }
  w.uint(it.m);
  if (it.packed) return w.bytes(packSums(it.cells));
  const bytes = new Uint8Array(4 * it.cells.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < it.cells.length; i++) view.setUint32(4 * i, it.cells[i]!, true);
  w.bytes(bytes);
}

/** Bits a sketch's sum takes packed: every sum is below the field's prime 2^31 − 1. */
const SUM_BITS = 31;

/** The sums, 31 bits each, least significant bit first, in as few bytes as hold them. */
export function packSums(sums: Uint32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((sums.length * SUM_BITS) / 8));
  let at = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < sums.length; i++) {
    // Take the sum in two parts so the accumulator never holds more than 32 bits.
    let v = sums[i]!;
    let left = SUM_BITS;
    while (left > 0) {
      const take = Math.min(left, 8 - bits);
      acc |= (v & ((1 << take) - 1)) << bits;
      v >>>= take;
      left -= take;
      bits += take;
      if (bits === 8) {
        out[at++] = acc;
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out[at] = acc;
  return out;
}

/** `count` sums from their packed bytes (packSums); each must be below the prime, and the unused last bits zero. */
export function unpackSums(bytes: Uint8Array, count: number): Uint32Array {
  if (bytes.length !== Math.ceil((count * SUM_BITS) / 8)) throw new ProtocolError('invalid sketch cells');
  const sums = new Uint32Array(count);
  let at = 0;
  let bit = 0;
  for (let i = 0; i < count; i++) {
    let v = 0;
    let got = 0;
    while (got < SUM_BITS) {
      const take = Math.min(SUM_BITS - got, 8 - bit);
      v += ((bytes[at]! >>> bit) & ((1 << take) - 1)) * 2 ** got;
      got += take;
      bit += take;
      if (bit === 8) {
        at++;
        bit = 0;
      }
    }
    if (v >= P) throw new ProtocolError('invalid sketch cell');
    sums[i] = v;
  }
  if (bit > 0 && bytes[at]! >>> bit !== 0) throw new ProtocolError('invalid sketch cells');
  return sums;
}

function readFastItem(r: Reader, kind: number, ep: EpochIn | undefined): AeItem {
  if (kind === 5) return { kind: 'wanted', bits: r.bytes() };
  if (kind === 3) return { kind: 'keys', keys: readClaims(r, ep) };
  if (kind === 4) {
    const n = r.count(1);
    const hashes: number[] = [];
    for (let i = 0; i < n; i++) {
      const h = r.uint();
      if (h >= 2 ** KEY_BITS) throw new ProtocolError('invalid key hash');
      hashes.push(h);
    }
    return { kind: 'hashes', hashes };
  }
  if (kind !== 2 && kind !== 7) throw new ProtocolError('invalid tree item');
  const level = r.uint();
  if (level < 1 || level > 2) throw new ProtocolError('invalid sketch level');
  const n = r.count(1);
  if (n > ARITY ** level) throw new ProtocolError('invalid sketch nodes');
  const nodes: number[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    prev += r.uint() + 1;
    if (prev >= ARITY ** level) throw new ProtocolError('invalid sketch nodes');
    nodes.push(prev);
  }
  const m = r.uint();
  if (m < 1 || m > MAX_CELLS) throw new ProtocolError('invalid sketch size');
  const bytes = r.bytes();
  if (kind === 7) return { kind: 'sketch', level, nodes, m, cells: unpackSums(bytes, 3 * m), packed: true };
  if (bytes.length !== CELL_BYTES * m) throw new ProtocolError('invalid sketch cells');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cells = new Uint32Array(3 * m);
  for (let i = 0; i < cells.length; i++) {
    const c = view.getUint32(4 * i, true);
    if (c >= P) throw new ProtocolError('invalid sketch cell');
    cells[i] = c;
  }
  return { kind: 'sketch', level, nodes, m, cells };
}

export function writeDots(w: Writer, s: KeyState, ep?: EpochOut): void {
  // As wire-state.ts writeState: before protocol 11 no version carries epochs, and a claim's points sent as a vector
  // would cover dots it never saw at the receiver.
  if (!ep && namesEpochs(s)) throw new Error('concord: a claim whose dots or context name epochs cannot be sent to a peer speaking protocol 10 or less');
  const implicit = ccIsDots(s);
  let any = false;
  if (ep) for (const v of s.vs) if (ep.named(v.r, v.n, v.ep)) any = true;
  const head = s.vs.length * 2 + (implicit ? 0 : 1);
  w.uint(ep ? head * 2 + (any ? 1 : 0) : head);
  for (const v of s.vs) {
    w.sym(v.r);
    if (!any) {
      w.uint(v.n * 2 + (v.d ? 1 : 0));
      continue;
    }
    const named = ep!.named(v.r, v.n, v.ep);
    w.uint((v.n * 2 + (named ? 1 : 0)) * 2 + (v.d ? 1 : 0));
    if (named) ep!.ref(w, v.r, v.ep);
  }
  if (implicit) return;
  if (ep) return writeCausal(w, s, (r) => w.sym(r), ep);
  const rs = Object.keys(s.cc);
  w.uint(rs.length);
  for (const r of rs) {
    w.sym(r);
    w.uint(s.cc[r]!);
  }
}

/**
 * The versions one key's claimed dots may name. A key's state holds one version per write no other write it holds
 * supersedes: about one per writer that wrote it concurrently, far below this. (Writes with a stale context can pile
 * up more siblings; such a state is claimed as nothing and goes whole both ways, antientropy.ts fillRanges.) More is
 * malformed: it only costs the receiver work (comparisons, the peer model) per claimed dot.
 */
export const MAX_CLAIMED_VERSIONS = 1024;

/** A state's dots as read (versions without values, times 0), in canonical order; validated like wire-state.ts's. */
export function readDots(r: Reader, ep?: EpochIn): KeyState {
  const word = r.uint();
  const any = ep !== undefined && word % 2 === 1;
  const head = ep ? Math.floor(word / 2) : word;
  const nv = Math.floor(head / 2);
  if (nv * 2 > r.remaining) throw new ProtocolError('count exceeds frame');
  if (nv > MAX_CLAIMED_VERSIONS) throw new ProtocolError(`a key's claimed dots name more than ${MAX_CLAIMED_VERSIONS} versions`);
  // Sized as read: a growing array would hold room for 17 versions for each key's one.
  const vs: StoredVersion[] = new Array(nv);
  let tagged = false;
  for (let i = 0; i < nv; i++) {
    const rid = replicaId(r);
    const w = r.uint();
    const n = any ? Math.floor(w / 4) : Math.floor(w / 2);
    if (n < 1 || n > MAX_COUNTER) throw new ProtocolError('invalid version');
    const e = ep ? ep.epoch(r, rid, n, any && Math.floor(w / 2) % 2 === 1) : '';
    vs[i] = w % 2 === 1 ? { r: rid, n, t: 0, c: 0, d: 1 } : { r: rid, n, t: 0, c: 0 };
    if (e !== '') ((vs[i] as { ep?: string }).ep = e), (tagged = true);
  }
  sortDots(vs);
  if (tagged && head % 2 === 0) return { vs, ...dotsContext(vs) };
  const cc: Record<string, number> = {};
  if (head % 2 === 0) {
    for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
    return { vs, cc };
  }
  if (ep) {
    const ctx = readCausal(r, () => replicaId(r), ep);
    for (const v of vs) if ((ctx.cc[v.r] ?? 0) < v.n) throw new ProtocolError('a version outside its causal context');
    return ctx.pts ? { vs, cc: ctx.cc, pts: ctx.pts } : { vs, cc: ctx.cc };
  }
  const ncc = r.count(2);
  for (let i = 0; i < ncc; i++) {
    const rid = replicaId(r);
    const n = r.uint();
    if (n < 1 || n > MAX_COUNTER || rid in cc) throw new ProtocolError('invalid causal context');
    cc[rid] = n;
  }
  for (const v of vs) if ((cc[v.r] ?? 0) < v.n) throw new ProtocolError('a version outside its causal context');
  return { vs, cc };
}

/** Bytes a state's dots take, about (for splitting turns). */
export function dotsSize(s: KeyState): number {
  return 1 + 4 * s.vs.length + 4 * Object.keys(s.cc).length;
}

/**
 * Bytes a decoded turn's items and wanted keys take in memory, about (measured on Node 20, x64: a range key with
 * one dot about 500 B, a claimed version 64 B, on a wire that carries them in a few bytes each), for bounding
 * what a peer makes us gather.
 */
export function turnMemory(items: readonly AeItem[], want: readonly string[]): number {
  let n = 0;
  for (const it of items) {
    n += 96;
    if (it.kind === 'sketch') n += CELL_BYTES * it.m + 8 * it.nodes.length;
    else if (it.kind === 'hashes') n += 8 * it.hashes.length;
    else if (it.kind === 'wanted') n += it.bits.length;
    else if (it.kind === 'range' || it.kind === 'keys') for (const [k, st] of it.keys) n += 2 * k.length + 320 + 64 * (st.vs.length + Object.keys(st.cc).length);
  }
  for (const k of want) n += 2 * k.length + 48;
  return n;
}
