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

export class MerkleTree {
  /** Per level: [hi, lo] pairs. */
  private readonly hashes: Uint32Array[] = [];
  private readonly counts: Int32Array[] = [];
  /** Per leaf: key → state hash. */
  private readonly leaves = new Map<number, Map<string, string>>();
  private size = 0;

  constructor() {
    for (let l = 0; l <= DEPTH; l++) {
      this.hashes.push(new Uint32Array(2 * nodesAt(l)));
      this.counts.push(new Int32Array(nodesAt(l)));
    }
  }

  get keyCount(): number {
    return this.size;
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
    for (let l = DEPTH, i = bucket; l >= 0; l--, i >>>= BITS) {
      const hs = this.hashes[l]!;
      hs[2 * i] = hs[2 * i]! ^ hi;
      hs[2 * i + 1] = hs[2 * i + 1]! ^ lo;
      const cs = this.counts[l]!;
      cs[i] = cs[i]! + dc;
    }
  }

  get(key: string): string | undefined {
    return this.leaves.get(bucketOf(key))?.get(key);
  }

  hash(level: number, index: number): string {
    const hs = this.hashes[level]!;
    return hex(hs[2 * index]!) + hex(hs[2 * index + 1]!);
  }

  count(level: number, index: number): number {
    return this.counts[level]![index]!;
  }

  /** Keys and state hashes under a node. */
  keysUnder(level: number, index: number): Array<readonly [string, string]> {
    const span = ARITY ** (DEPTH - level);
    const out: Array<readonly [string, string]> = [];
    if (this.counts[level]![index] === 0) return out;
    for (let b = index * span; b < (index + 1) * span; b++) {
      const leaf = this.leaves.get(b);
      if (leaf) for (const e of leaf) out.push(e);
    }
    return out;
  }

  /** Whether two trees hold the same states (root hashes and counts equal). */
  sameAs(other: MerkleTree): boolean {
    return this.size === other.size && this.hash(0, 0) === other.hash(0, 0);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
