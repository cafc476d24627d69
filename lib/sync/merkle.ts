/**
 * A Merkle tree over the 64-bit key-hash space of one space, for anti-entropy.
 *
 *   level 0                 [root]                       1 node
 *   level 1        [0] [1] ... [15]                     16 nodes
 *   level 2      [0..255]                              256
 *   level 3      [0..4095]                            4096
 *   level 4      [0..65535]   leaves = buckets       65536   (bucket = top 16 bits of xxHash64(key))
 *
 * A leaf's hash is the XOR of its keys' state hashes (KeyRecord.h, which covers key, dots, tombstones
 * and context); a node's hash is the XOR of its children's. XOR makes every update O(depth): a write
 * XORs (old ⊕ new) into its leaf and each ancestor, with no rebuild. Node key counts are kept beside the
 * hashes, so a side can send the keys of a small subtree instead of walking down to it.
 * Equal trees ⇔ equal states, except for hash collisions (64-bit).
 *
 * Memory is proportional to the keys held: each level starts sparse (a map holding only the nodes with
 * keys under them: an empty node's hash is zero and its count 0, so it need not exist) and turns into
 * dense typed arrays once more than an eighth of its nodes are in use (past that, arrays are smaller).
 * An empty tree is a few hundred bytes, not the ~840 KB of the five dense levels; a space with many keys
 * ends up dense exactly as before. The representation never changes a hash, a count or a key order.
 */
import { hash64 } from '../hash.js';

export const ARITY = 16;
export const DEPTH = 4;
const BITS = 4;

export function nodesAt(level: number): number {
  return ARITY ** level;
}

export function bucketOf(key: string): number {
  return parseInt(hash64(key).slice(0, 4), 16);
}

interface SparseNode {
  hi: number;
  lo: number;
  count: number;
}

/** One level's node hashes ([hi, lo] 32-bit halves) and key counts, sparse until dense pays off. */
class Level {
  private sparse: Map<number, SparseNode> | undefined = new Map();
  private hashes: Uint32Array | undefined;
  private counts: Int32Array | undefined;

  constructor(private readonly size: number) {}

  add(i: number, hi: number, lo: number, dc: number): void {
    const hs = this.hashes;
    if (hs) {
      hs[2 * i] = hs[2 * i]! ^ hi;
      hs[2 * i + 1] = hs[2 * i + 1]! ^ lo;
      this.counts![i] = this.counts![i]! + dc;
      return;
    }
    const sparse = this.sparse!;
    let n = sparse.get(i);
    if (!n) {
      n = { hi: 0, lo: 0, count: 0 };
      sparse.set(i, n);
      if (sparse.size * 8 > this.size) {
        this.densify();
        return this.add(i, hi, lo, dc);
      }
    }
    n.hi = (n.hi ^ hi) >>> 0;
    n.lo = (n.lo ^ lo) >>> 0;
    n.count += dc;
    if (n.count === 0) sparse.delete(i);
  }

  private densify(): void {
    const hs = new Uint32Array(2 * this.size);
    const cs = new Int32Array(this.size);
    for (const [i, n] of this.sparse!) {
      hs[2 * i] = n.hi;
      hs[2 * i + 1] = n.lo;
      cs[i] = n.count;
    }
    this.hashes = hs;
    this.counts = cs;
    this.sparse = undefined;
  }

  hi(i: number): number {
    return this.hashes ? this.hashes[2 * i]! : (this.sparse!.get(i)?.hi ?? 0);
  }

  lo(i: number): number {
    return this.hashes ? this.hashes[2 * i + 1]! : (this.sparse!.get(i)?.lo ?? 0);
  }

  count(i: number): number {
    return this.counts ? this.counts[i]! : (this.sparse!.get(i)?.count ?? 0);
  }

  /** Nodes held: every node once dense, else those with keys. */
  get held(): number {
    return this.hashes ? this.size : this.sparse!.size;
  }

  get isDense(): boolean {
    return this.hashes !== undefined;
  }
}

export class MerkleTree {
  private readonly levels: Level[] = [];
  /** Per leaf: key → state hash. */
  private readonly leaves = new Map<number, Map<string, string>>();
  private size = 0;

  constructor() {
    for (let l = 0; l <= DEPTH; l++) this.levels.push(new Level(nodesAt(l)));
  }

  get keyCount(): number {
    return this.size;
  }

  /** Nodes the tree holds (a measure of its memory: 12 bytes a dense node, a few dozen a sparse one). */
  get nodesHeld(): number {
    let n = 0;
    for (const l of this.levels) n += l.held;
    return n;
  }

  /** Sets (h given) or removes (h undefined) a key's state hash. */
  set(key: string, h: string | undefined): void {
    const bucket = bucketOf(key);
    let leaf = this.leaves.get(bucket);
    const old = leaf?.get(key);
    if (old === h) return;
    let hi = 0;
    let lo = 0;
    let dc = 0;
    if (old !== undefined) {
      hi ^= parseInt(old.slice(0, 8), 16);
      lo ^= parseInt(old.slice(8, 16), 16);
      dc--;
    }
    if (h !== undefined) {
      hi ^= parseInt(h.slice(0, 8), 16);
      lo ^= parseInt(h.slice(8, 16), 16);
      dc++;
      if (!leaf) this.leaves.set(bucket, (leaf = new Map()));
      leaf.set(key, h);
    } else {
      leaf!.delete(key);
      if (leaf!.size === 0) this.leaves.delete(bucket);
    }
    this.size += dc;
    for (let l = DEPTH, i = bucket; l >= 0; l--, i >>>= BITS) this.levels[l]!.add(i, hi, lo, dc);
  }

  get(key: string): string | undefined {
    return this.leaves.get(bucketOf(key))?.get(key);
  }

  hash(level: number, index: number): string {
    const l = this.levels[level]!;
    return hex(l.hi(index)) + hex(l.lo(index));
  }

  count(level: number, index: number): number {
    return this.levels[level]!.count(index);
  }

  /** Keys and state hashes under a node, by bucket, then in each bucket's insertion order. */
  keysUnder(level: number, index: number): Array<readonly [string, string]> {
    const span = ARITY ** (DEPTH - level);
    const out: Array<readonly [string, string]> = [];
    if (this.count(level, index) === 0) return out;
    const from = index * span;
    const to = from + span;
    if (span <= this.leaves.size) {
      for (let b = from; b < to; b++) {
        const leaf = this.leaves.get(b);
        if (leaf) for (const e of leaf) out.push(e);
      }
      return out;
    }
    // Fewer leaves hold keys than the node spans: visit those, in bucket order.
    const buckets: number[] = [];
    for (const b of this.leaves.keys()) if (b >= from && b < to) buckets.push(b);
    buckets.sort((a, b) => a - b);
    for (const b of buckets) for (const e of this.leaves.get(b)!) out.push(e);
    return out;
  }

  /** Calls `fn` with each key under a node, its state hash and its bucket, in keysUnder's order. */
  forEachUnder(level: number, index: number, fn: (key: string, stateHash: string, bucket: number) => void): void {
    if (this.count(level, index) === 0) return;
    const span = ARITY ** (DEPTH - level);
    const from = index * span;
    if (span <= this.leaves.size) {
      for (let b = from; b < from + span; b++) {
        const leaf = this.leaves.get(b);
        if (leaf) for (const [k, h] of leaf) fn(k, h, b);
      }
      return;
    }
    const buckets: number[] = [];
    for (const b of this.leaves.keys()) if (b >= from && b < from + span) buckets.push(b);
    buckets.sort((a, b) => a - b);
    for (const b of buckets) for (const [k, h] of this.leaves.get(b)!) fn(k, h, b);
  }

  /** The keys of one bucket (leaf), with their state hashes. */
  bucket(b: number): ReadonlyMap<string, string> | undefined {
    return this.leaves.get(b);
  }

  /** Whether two trees hold the same states (root hashes and counts equal). */
  sameAs(other: MerkleTree): boolean {
    return this.size === other.size && this.hash(0, 0) === other.hash(0, 0);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
