/**
 * One turn of Merkle anti-entropy, as a pure function of the local tree and the peer's turn.
 *
 * The initiator opens with the hashes of one level. Each side answers a turn by comparing:
 *   node item  (level, index, hash)  equal → nothing; differs → if the local subtree is small or a leaf,
 *              answer with its key list (a range item); else answer with its children's hashes — or its
 *              grandchildren's when few nodes differ, several levels per round trip where that saves one.
 *              Key lists go only for nodes known to differ: an equal subtree costs one hash.
 *   range item (level, index, keys)  the answering side now knows both key lists under that node: it sends
 *              its state of every key that differs or the peer lacks, and asks (want) for every key the
 *              peer has that differs or it lacks. No further items for that subtree.
 * A turn with no items and no wants is final. The keys to send travel as CHANGES frames before the turn.
 * `runAntiEntropy` drives two trees against each other in-process (tests, and the round-trip benchmark).
 */
import type { AeItem } from './messages.js';
import { ARITY, DEPTH, type MerkleTree } from './merkle.js';

/**
 * Hashes on the wire are 32 of the 64 bits, taken at an offset that depends on the run: a collision in one
 * run (one in 4·10^9 per differing node or key) cannot hide the same difference in the next run.
 */
export function wireHash(h: string, run: number): string {
  const at = run % 9;
  return h.slice(at, at + 8);
}

/** A subtree with at most this many keys is described by its key list rather than walked. */
export const SMALL_SUBTREE = 4;
/** Expand two levels at once when at most this many nodes differ in a turn. */
const DEEP_EXPAND = 4;

export interface Turn {
  items: AeItem[];
  /** Keys whose local state the peer needs (send them before the turn). */
  send: string[];
  /** Keys whose state we need from the peer. */
  want: string[];
}

/** The initiator's first turn. */
export function openingTurn(tree: MerkleTree, run: number): Turn {
  if (tree.keyCount <= SMALL_SUBTREE) return { items: [range(tree, 0, 0, run)], send: [], want: [] };
  const level = tree.keyCount > 16 * 256 ? 2 : 1;
  const items: AeItem[] = [];
  for (let i = 0; i < ARITY ** level; i++) items.push(node(tree, level, i, run));
  return { items, send: [], want: [] };
}

function node(tree: MerkleTree, level: number, index: number, run: number): AeItem {
  return { kind: 'node', level, index, hash: wireHash(tree.hash(level, index), run) };
}

function range(tree: MerkleTree, level: number, index: number, run: number): AeItem {
  return { kind: 'range', level, index, keys: tree.keysUnder(level, index).map(([k, h]) => [k, wireHash(h, run)] as const) };
}

/** Answers the peer's turn. */
export function answerTurn(tree: MerkleTree, peer: readonly AeItem[], run: number): Turn {
  const items: AeItem[] = [];
  const send: string[] = [];
  const want: string[] = [];
  const differing: Array<{ level: number; index: number }> = [];
  for (const it of peer) {
    if (it.kind === 'range') {
      const theirs = new Map(it.keys);
      for (const [k, full] of tree.keysUnder(it.level, it.index)) {
        const h = wireHash(full, run);
        const t = theirs.get(k);
        if (t !== h) send.push(k);
        if (t !== undefined && t !== h) want.push(k);
        theirs.delete(k);
      }
      for (const k of theirs.keys()) want.push(k);
    } else if (wireHash(tree.hash(it.level, it.index), run) !== it.hash) {
      differing.push(it);
    }
  }
  const levels = differing.length <= DEEP_EXPAND ? 2 : 1;
  for (const { level, index } of differing) {
    if (level === DEPTH || tree.count(level, index) <= SMALL_SUBTREE) {
      items.push(range(tree, level, index, run));
      continue;
    }
    const down = Math.min(levels, DEPTH - level);
    const span = ARITY ** down;
    // Children as hashes (an empty child's zero hash still tells the peer whether it has keys there);
    // key lists only for nodes known to differ, so equal small subtrees cost a hash, not their keys.
    for (let c = index * span; c < (index + 1) * span; c++) items.push(node(tree, level + down, c, run));
  }
  return { items, send, want };
}

/**
 * A turn in parts of at most about `budget` bytes each (node items ~5 B, key lists their keys and hashes),
 * in order; always at least one part, so an empty turn is still sent.
 */
export function splitTurn(items: readonly AeItem[], want: readonly string[], budget: number): Array<{ items: AeItem[]; want: string[] }> {
  const parts: Array<{ items: AeItem[]; want: string[] }> = [{ items: [], want: [] }];
  let bytes = 0;
  const room = (size: number) => {
    if (bytes + size > budget && bytes > 0) {
      parts.push({ items: [], want: [] });
      bytes = 0;
    }
    bytes += size;
    return parts[parts.length - 1]!;
  };
  for (const it of items) room(it.kind === 'node' ? 5 : 8 + it.keys.reduce((n, [k]) => n + k.length + 6, 0)).items.push(it);
  for (const k of want) room(k.length + 2).want.push(k);
  return parts;
}

export interface InProcessResult {
  /** Keys each side must send to the other. */
  aToB: Set<string>;
  bToA: Set<string>;
  roundTrips: number;
  turns: number;
}

/** Runs anti-entropy between two in-process trees (no transport): which keys go which way, in how many turns. */
export function runAntiEntropy(a: MerkleTree, b: MerkleTree, run = 1): InProcessResult {
  const aToB = new Set<string>();
  const bToA = new Set<string>();
  let turn = openingTurn(a, run);
  let turns = 1;
  let fromA = true;
  for (;;) {
    const receiver = fromA ? b : a;
    const next = answerTurn(receiver, turn.items, run);
    // The receiver answers wants carried by the turn it got, and sends what it found.
    for (const k of turn.want) (fromA ? bToA : aToB).add(k);
    for (const k of next.send) (fromA ? bToA : aToB).add(k);
    const final = next.items.length === 0 && next.want.length === 0;
    if (final) {
      if (next.send.length > 0 || turn.want.length > 0) turns++;
      break;
    }
    turn = next;
    turns++;
    fromA = !fromA;
  }
  return { aToB, bToA, roundTrips: Math.ceil(turns / 2), turns };
}
