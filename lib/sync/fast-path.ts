/**
 * Anti-entropy's fast path: the differing keys found with a set-difference sketch (sketch.ts) instead of by walking
 * the Merkle tree, so a run takes two round trips whatever the tree's depth.
 *
 *   A → B   the opening: one level of A's tree (as on the Merkle path)
 *   B → A   SKETCH: which opening nodes differ, and B's sketch of the keys under them, sized from how many differ
 *           (d differing keys scattered over n nodes leave about n·e^(−d/n) equal: d ≈ −n·ln(1 − b/n))
 *   A → B   A builds its own sketch of the keys under those nodes and peels the difference: the hashes of the
 *           differing keys, each with its weight difference. For each one A holds: its state whole when B holds none
 *           of it (the difference is A's whole weight) or when that costs about what naming it would (small values),
 *           else its dots (a KEYS claim: the Merkle path's range item without the range). HASHES asks for the keys A
 *           has none of. If the sketch does not peel, A goes on down the tree from the differing nodes
 *           (Merkle path, nothing lost but the sketch's bytes).
 *   B → A   B answers as it answers a range item (each value only to a side that lacks it, wants for what it lacks),
 *           sends the keys of the hashes asked for, and sends back what a state A sent whole lacks of B's
 *   A → B   the wanted states; the final turn
 *
 * A key hash names a bucket of A's or B's tree and 14 bits of the key, so two keys can share one: the side that
 * answers also sends its keys that share a hash with a key the other named and were not named themselves (rare, a
 * few bytes; otherwise a key hidden behind a named one would never be found, run after run).
 */
import { EMPTY_STATE } from '../dvv.js';
import type { AeItem } from './ae-codec.js';
import { nodeDiffers } from './antientropy.js';
import { ProtocolError } from './codec.js';
import { COMPACT_AE, FAST_PATH, PROTOCOL_VERSIONS } from './messages.js';
import { ARITY, bucketOf, type MerkleTree } from './merkle.js';
import { bucketOfKeyHash, CELL_BYTES, keyHash, MAX_CELLS, Sketch, weight, weightSalt } from './sketch.js';

export type SketchItem = Extract<AeItem, { kind: 'sketch' }>;

/** Cells per estimated differing key (peeling needs 1.4–1.9 on average; the estimate has a spread), and a floor. */
const CELLS_PER_KEY = 1.8;
const CELLS_MIN = 16;

export interface SketchPlan {
  level: number;
  nodes: number[];
  m: number;
  /** Our keys under those nodes: the keys building the sketch passes over. */
  keys: number;
}

/**
 * Whether to answer a turn with a sketch, and its shape: the turn is a whole opening level (1 or 2), some but not
 * all of its nodes differ, and the sketch is smaller than listing our keys under them (the Merkle path ends in key
 * lists, a few bytes a key) and fits in one frame.
 */
export function sketchPlan(tree: MerkleTree, items: readonly AeItem[], run: number, frameBudget: number, always = false): SketchPlan | undefined {
  const first = items[0];
  if (!first || first.kind !== 'node' || first.level < 1 || first.level > 2) return undefined;
  const level = first.level;
  const n = ARITY ** level;
  if (items.length !== n) return undefined;
  const nodes: number[] = [];
  let keys = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i]!;
    if (it.kind !== 'node' || it.level !== level || it.index !== i) return undefined;
    if (nodeDiffers(tree, it, run)) {
      nodes.push(i);
      keys += tree.count(level, i);
    }
  }
  const b = nodes.length;
  if (b === 0 || b === n) return undefined;
  const m = Math.ceil(CELLS_PER_KEY * -n * Math.log(1 - b / n)) + CELLS_MIN;
  if (m > MAX_CELLS || CELL_BYTES * m + 64 > 2 * frameBudget || (!always && (CELL_BYTES * m > frameBudget - 1024 || CELL_BYTES * m > 6 * keys))) return undefined;
  return { level, nodes, m, keys };
}

/** Keys a sketch passes over between two pauses (about 35 ms of one core). */
const KEYS_PER_SLICE = 50_000;

/**
 * Our sketch of the keys under the given nodes of one level, built a node at a time with `pause` awaited after every
 * KEYS_PER_SLICE keys, so a large space does not hold the event loop for the whole pass. A key written meanwhile is
 * taken in whatever state it has when its node is reached: any mix of states is a set the peer's sketch can be
 * compared with, and what changed after is the log stream's to send.
 */
export async function buildSketch(tree: MerkleTree, level: number, nodes: readonly number[], m: number, run: number, pause?: () => Promise<void>): Promise<Sketch> {
  const s = new Sketch(m, run);
  const salt = weightSalt(run);
  let slice = 0;
  for (const i of nodes) {
    if (pause && slice >= KEYS_PER_SLICE) {
      await pause();
      slice = 0;
    }
    slice += tree.count(level, i);
    tree.forEachUnder(level, i, (key, h, bucket) => s.add(keyHash(key, bucket), weight(h, run, salt)));
  }
  return s;
}

/**
 * The keys that differ between our tree and the peer's sketch, or undefined when it does not peel: `ours` the keys
 * we hold (`lacked` those the peer holds nothing of), `hashes` the hashes we hold no key of.
 */
export async function decodeSketch(tree: MerkleTree, item: SketchItem, run: number, pause?: () => Promise<void>): Promise<{ ours: string[]; lacked: Set<string>; hashes: number[] } | undefined> {
  const mine = await buildSketch(tree, item.level, item.nodes, item.m, run, pause);
  const found = mine.minus(new Sketch(item.m, run, item.cells)).decode(item.m);
  if (!found) return undefined;
  const ours: string[] = [];
  const lacked = new Set<string>();
  const hashes: number[] = [];
  for (const { k, d } of found) {
    const keys = keysOfHash(tree, k);
    if (keys.length === 0) hashes.push(k);
    for (const key of keys) ours.push(key);
    // One key of ours under this hash, and the difference is its whole weight: the peer has no state of it.
    if (keys.length === 1 && weight(tree.get(keys[0]!)!, run) === d) lacked.add(keys[0]!);
  }
  return { ours, lacked, hashes };
}

/**
 * The protocol version (messages.ts) an anti-entropy item needs its reader to speak: 8 for a compact form (a 24-bit
 * node hash, a packed sketch), 7 for the fast path's items, 5 for the Merkle path's.
 */
export function itemVersion(it: AeItem): number {
  const oldest = PROTOCOL_VERSIONS[0];
  if (it.kind === 'node') return it.hash.length === 6 ? COMPACT_AE : oldest;
  if (it.kind === 'range') return oldest;
  return it.kind === 'sketch' && it.packed ? COMPACT_AE : FAST_PATH;
}

/** Our keys with the given hash. */
export function keysOfHash(tree: MerkleTree, k: number): string[] {
  const b = bucketOfKeyHash(k);
  const leaf = tree.bucket(b);
  const out: string[] = [];
  if (leaf) for (const key of leaf.keys()) if (keyHash(key, b) === k) out.push(key);
  return out;
}

/**
 * What the side that sent the sketch sends for the peer's answer: the keys of the hashes it asked for, and our keys
 * sharing a hash with one it named (claimed, or sent whole: `named`) that it did not name.
 */
export function keysToOffer(tree: MerkleTree, hashes: Iterable<number>, named: ReadonlySet<string>): string[] {
  const ks = new Set<number>(hashes);
  for (const key of named) ks.add(keyHash(key, bucketOf(key)));
  const out: string[] = [];
  for (const k of ks) for (const key of keysOfHash(tree, k)) if (!named.has(key)) out.push(key);
  return out;
}

/** A claim item for keys: their dots are filled in from the records before it goes (antientropy.ts fillRanges). */
export function claimItem(keys: readonly string[]): AeItem {
  return { kind: 'keys', keys: keys.map((k) => [k, EMPTY_STATE] as const) };
}

/**
 * On the fast path, a differing key's state goes whole at once when it takes at most this many bytes beyond twice its
 * key: about what naming it and being asked for it would cost (a claim, then a want).
 */
export const WHOLE_BYTES = 48;

/**
 * The initiator's items after peeling: claims of `claims` and asks for `hashes`, each item small enough that a turn
 * splits into frames under `frameBudget` (a claim is its key and a few dots, a hash up to 5 bytes).
 */
export function peelItems(claims: readonly string[], hashes: readonly number[], frameBudget: number): AeItem[] {
  const items: AeItem[] = [];
  const room = Math.max(64, frameBudget / 2);
  for (let i = 0, bytes = 0, from = 0; i <= claims.length; i++) {
    if (i === claims.length || (bytes > 0 && bytes + claims[i]!.length + 24 > room)) {
      if (i > from) items.push(claimItem(claims.slice(from, i)));
      from = i;
      bytes = 0;
    }
    if (i < claims.length) bytes += claims[i]!.length + 24;
  }
  const perItem = Math.max(8, Math.floor(room / 5));
  for (let i = 0; i < hashes.length; i += perItem) items.push({ kind: 'hashes', hashes: hashes.slice(i, i + perItem) });
  return items;
}

/**
 * The wants among the claims of the peer's turn, as a bitmap over those claims in order, and the other wants; undefined
 * when the turn claimed nothing we want.
 */
export function claimBits(items: readonly AeItem[], want: readonly string[]): { bits: Uint8Array; rest: string[] } | undefined {
  const order = new Map<string, number>();
  let count = 0;
  for (const it of items) {
    if (it.kind !== 'keys') continue;
    for (const [k] of it.keys) if (!order.has(k)) order.set(k, count++);
    else count++;
  }
  const wanted = want.filter((k) => order.has(k));
  if (wanted.length === 0) return undefined;
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (const k of wanted) {
    const i = order.get(k)!;
    bits[i >> 3]! |= 1 << (i & 7);
  }
  return { bits, rest: want.filter((k) => !order.has(k)) };
}

/**
 * A turn's items and wants with its bitmap of wanted claims (claimBits) turned back into keys, from `claimed`, what our
 * last turn claimed; the turn as it was when it holds no bitmap.
 */
export function wantedClaims(claimed: readonly string[] | undefined, items: readonly AeItem[], want: readonly string[]): { items: AeItem[]; want: string[] } | undefined {
  const bitmaps = items.filter((it) => it.kind === 'wanted');
  if (bitmaps.length === 0) return undefined;
  if (!claimed || bitmaps.length > 1) throw new ProtocolError('wanted claims where we claimed nothing');
  const bits = bitmaps[0]!.bits;
  if (bits.length > Math.ceil(claimed.length / 8)) throw new ProtocolError('wanted claims past our claims');
  const out = [...want];
  for (let i = 0; i < bits.length * 8; i++) {
    if (!(bits[i >> 3]! & (1 << (i & 7)))) continue;
    if (i >= claimed.length) throw new ProtocolError('wanted claims past our claims');
    out.push(claimed[i]!);
  }
  return { items: items.filter((it) => it.kind !== 'wanted'), want: out };
}

/**
 * A peer may start a run whenever it likes, and answering its opening with a sketch costs a pass over our keys under
 * the differing nodes where the tree walk costs a few hashes. So a space's sketches, for all sessions together, draw
 * on a credit of this many passes over its keys (at least 10 000 keys a pass), which refills by one pass every
 * SKETCH_REFILL_MS of the replica's clock; without credit a run takes the tree walk. Honest peers sketch on
 * connecting and when a periodic run finds a difference the log stream did not mend; a relay's clients reconnecting
 * together after a restart use the credit first, the rest take the tree walk.
 */
const SKETCH_PASSES = 8;
const SKETCH_REFILL_MS = 10_000;

/** A space's credit for sketches (keys they may still pass over), and when it was last brought up to date. */
export interface SketchCredit {
  credit: number;
  at: number;
}

/** Takes `keys` from the space's sketch credit (kept on its index) at time `now`, if it holds that much. */
export function drawCredit(ix: { tree: MerkleTree; sketch?: SketchCredit }, keys: number, now: number): boolean {
  const pass = Math.max(ix.tree.keyCount, 10_000);
  const c = (ix.sketch ??= { credit: SKETCH_PASSES * pass, at: now });
  c.credit = Math.min(SKETCH_PASSES * pass, c.credit + (Math.max(0, now - c.at) / SKETCH_REFILL_MS) * pass);
  c.at = now;
  if (c.credit < keys) return false;
  c.credit -= keys;
  return true;
}
