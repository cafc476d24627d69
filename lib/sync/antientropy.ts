/**
 * One turn of Merkle anti-entropy, as a pure function of the local tree and the peer's turn.
 *
 * The initiator opens with the hashes of one level. Each side answers a turn by comparing:
 *   node item  (level, index, hash)  equal → nothing; differs → if the local subtree is small or a leaf,
 *              answer with its key list (a range item); else answer with its children's hashes — or its
 *              grandchildren's when few nodes differ, several levels per round trip where that saves one.
 *              Key lists go only for nodes known to differ: an equal subtree costs one hash.
 *   range item (level, index, keys with their dots)  the answering side now knows both sides' states under that
 *              node, as dots (no values): for each key whose state differs it sends its state when the peer lacks
 *              something of it — each value only when the peer neither holds its version nor has seen it
 *              superseded (held form, wire-state.ts) — and asks (want) for the key when the peer holds something
 *              it lacks (`exchange`). No further items for that subtree.
 * A turn with no items and no wants is final. The keys to send travel as CHANGES frames before the turn.
 * With a peer speaking protocol 7, the answer to the opening may instead be a sketch of the keys under the differing
 * nodes (fast-path.ts): the differing keys are then known after one round trip, however deep the tree.
 * A range item's dots are read from the records (`fillRanges`): `answerTurn` leaves them empty.
 * `runAntiEntropy` drives two sides against each other in-process (tests, and the round-trip benchmark).
 */
import { dotTest, EMPTY_STATE, joinWith, sameState, stateHash, type KeyState } from '../dvv.js';
import { NO_EPOCHS, type EpochRegistry } from '../epoch-points.js';
import { dotsSize, MAX_CLAIMED_VERSIONS } from './ae-codec.js';
import type { AeItem } from './messages.js';
import { ARITY, DEPTH, type MerkleTree } from './merkle.js';
import { CELL_BYTES } from './sketch.js';

/**
 * A node's hash on the wire: `width` hex digits of its 64 bits — 8 (32 bits), or 6 (24 bits) to a peer speaking
 * protocol 8 — taken at an offset that depends on the run. A differing node hidden by a collision (one in 4·10^9 runs
 * at 32 bits, one in 1.7·10^7 at 24) is hidden in that run only: the next run compares other bits, so the difference
 * is repaired one run later, never lost. A received hash is compared at its own width.
 */
export function wireHash(h: string, run: number, width: HashWidth = 8): string {
  const at = run % (17 - width);
  return h.slice(at, at + width);
}

/** Hex digits of a node hash on the wire (see wireHash). */
export type HashWidth = 6 | 8;

/** Whether a peer's node item differs from our tree's node, compared at the item's own width. */
export function nodeDiffers(tree: MerkleTree, it: { level: number; index: number; hash: string }, run: number): boolean {
  return wireHash(tree.hash(it.level, it.index), run, it.hash.length as HashWidth) !== it.hash;
}

/** A subtree with at most this many keys is described by its key list rather than walked. */
export const SMALL_SUBTREE = 4;
/** Expand two levels at once when at most this many nodes differ in a turn. */
const DEEP_EXPAND = 4;

export interface Turn {
  items: AeItem[];
  /** Keys whose local state differs from the peer's (send them before the turn, where `exchange` says so). */
  send: string[];
  /** Keys the peer holds differently or we lack (ask for them, where `exchange` says so). */
  want: string[];
  /** The peer's dots of the keys in `want`. */
  theirs: Map<string, KeyState>;
}

/** The initiator's first turn. */
export function openingTurn(tree: MerkleTree, run: number, width: HashWidth = 8): Turn {
  if (tree.keyCount <= SMALL_SUBTREE) return { items: [range(tree, 0, 0)], send: [], want: [], theirs: new Map() };
  const level = tree.keyCount > 16 * 256 ? 2 : 1;
  const items: AeItem[] = [];
  for (let i = 0; i < ARITY ** level; i++) items.push(node(tree, level, i, run, width));
  return { items, send: [], want: [], theirs: new Map() };
}

function node(tree: MerkleTree, level: number, index: number, run: number, width: HashWidth): AeItem {
  return { kind: 'node', level, index, hash: wireHash(tree.hash(level, index), run, width) };
}

/** A range item with its keys; their dots are filled in from the records before it goes (`fillRanges`). */
function range(tree: MerkleTree, level: number, index: number): AeItem {
  return { kind: 'range', level, index, keys: tree.keysUnder(level, index).map(([k]) => [k, EMPTY_STATE] as const) };
}

/**
 * Fills in the dots of a turn's range items from `dotsOf` (the records); a key it gives none for (gone, or not
 * durable yet) is left out of a range item, where the peer then takes it for a key we lack, and is claimed as nothing
 * in a keys item, which names the keys the peer is to look at: left out there, the peer would send nothing of it, yet
 * count the run as having exchanged everything. A state with more versions than a claim may
 * name (MAX_CLAIMED_VERSIONS) is claimed as nothing, so the peer sends its state of the key whole, and the key is
 * added to `whole`: the caller sends ours (as protocol 3 did for every differing key).
 */
export async function fillRanges(
  items: readonly AeItem[],
  dotsOf: (key: string) => Promise<KeyState | undefined> | KeyState | undefined,
  whole?: string[],
): Promise<AeItem[]> {
  const out: AeItem[] = [];
  for (const it of items) {
    if (it.kind !== 'range' && it.kind !== 'keys') {
      out.push(it);
      continue;
    }
    const keys: Array<readonly [string, KeyState]> = [];
    for (const [k] of it.keys) {
      const s = await dotsOf(k);
      if (s && s.vs.length > MAX_CLAIMED_VERSIONS) {
        keys.push([k, EMPTY_STATE]);
        whole?.push(k);
      } else if (s) keys.push([k, claimOf(s)]);
      else if (it.kind === 'keys') keys.push([k, EMPTY_STATE]);
    }
    out.push({ ...it, keys });
  }
  return out;
}

/**
 * For one key whose states differ, given both sides' dots: whether we send ours (the peer lacks a version of it, or
 * a context), and whether we ask for theirs (we lack something of it). When we ask for a key the peer holds versions
 * of that we hold too, our state goes anyway (all held, a few bytes): the peer then sends those values held too.
 */
export function exchange(mine: KeyState | undefined, theirs: KeyState | undefined, epochs: EpochRegistry = NO_EPOCHS): { send: boolean; want: boolean } {
  if (!mine) return { send: false, want: theirs !== undefined };
  if (!theirs) return { send: true, want: false };
  // Judged by the replica's ancestry of epochs (states naming them): a version a point covers only through it would
  // otherwise look missing on one side for ever.
  const want = !sameState(joinWith(epochs, mine, theirs), mine);
  const send = !sameState(joinWith(epochs, theirs, mine), theirs);
  let inform = false;
  if (want) {
    const held = dotTest(mine.vs);
    inform = theirs.vs.some((v) => !v.d && held(v));
  }
  return { send: send || inform, want };
}

/**
 * A key's claimed state: its dots without values or times. Epochs and points stay (the peer judges the claim by
 * them: as a vector alone, a context with points would cover dots it never saw); ae-codec.ts writeDots refuses a
 * claim that names epochs until the protocol carries them.
 */
function claimOf(s: KeyState): KeyState {
  const vs = s.vs.map((v) =>
    v.ep !== undefined ? { r: v.r, ep: v.ep, n: v.n, t: 0, c: 0, ...(v.d ? { d: 1 as const } : {}) } : v.d ? { r: v.r, n: v.n, t: 0, c: 0, d: 1 as const } : { r: v.r, n: v.n, t: 0, c: 0 },
  );
  return s.pts === undefined ? { vs, cc: s.cc } : { vs, cc: s.cc, pts: s.pts };
}

/** Answers the peer's turn. */
export function answerTurn(tree: MerkleTree, peer: readonly AeItem[], run: number, width: HashWidth = 8): Turn {
  const items: AeItem[] = [];
  const send: string[] = [];
  const want: string[] = [];
  const wanted = new Map<string, KeyState>();
  const differing: Array<{ level: number; index: number }> = [];
  for (const it of peer) {
    if (it.kind === 'range' || it.kind === 'keys') {
      const theirs = new Map(it.keys);
      const mine = it.kind === 'range' ? tree.keysUnder(it.level, it.index) : it.keys.flatMap(([k]) => ((h) => (h === undefined ? [] : [[k, h] as const]))(tree.get(k)));
      for (const [k, full] of mine) {
        const t = theirs.get(k);
        theirs.delete(k);
        if (t !== undefined && stateHash(k, t) === full) continue;
        send.push(k);
        if (t !== undefined) {
          want.push(k);
          wanted.set(k, t);
        }
      }
      for (const [k, t] of theirs) {
        want.push(k);
        wanted.set(k, t);
      }
    } else if (it.kind === 'node' && nodeDiffers(tree, it, run)) {
      differing.push(it);
    }
  }
  items.push(...expand(tree, differing, run, width));
  return { items, send, want, theirs: wanted };
}

/**
 * The items that walk down from nodes known to differ: the children's hashes (the grandchildren's when few
 * differ), or the keys under a leaf or a small subtree.
 */
export function expand(tree: MerkleTree, differing: ReadonlyArray<{ level: number; index: number }>, run: number, width: HashWidth = 8): AeItem[] {
  const items: AeItem[] = [];
  const levels = differing.length <= DEEP_EXPAND ? 2 : 1;
  for (const { level, index } of differing) {
    if (level === DEPTH || tree.count(level, index) <= SMALL_SUBTREE) {
      items.push(range(tree, level, index));
      continue;
    }
    const down = Math.min(levels, DEPTH - level);
    const span = ARITY ** down;
    // Children as hashes (an empty child's zero hash still tells the peer whether it has keys there);
    // key lists only for nodes known to differ, so equal small subtrees cost a hash, not their keys.
    for (let c = index * span; c < (index + 1) * span; c++) items.push(node(tree, level + down, c, run, width));
  }
  return items;
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
  for (const it of items) room(itemSize(it)).items.push(it);
  for (const k of want) room(k.length + 2).want.push(k);
  return parts;
}

function itemSize(it: AeItem): number {
  if (it.kind === 'node') return 5;
  if (it.kind === 'sketch') return 16 + 2 * it.nodes.length + CELL_BYTES * it.m;
  if (it.kind === 'hashes') return 4 + 5 * it.hashes.length;
  if (it.kind === 'wanted') return 4 + it.bits.length;
  return 8 + it.keys.reduce((n, [k, s]) => n + k.length + 2 + dotsSize(s), 0);
}

export interface InProcessResult {
  /** Keys each side sends to the other. */
  aToB: Set<string>;
  bToA: Set<string>;
  roundTrips: number;
  turns: number;
}

/** One side of an in-process run: its tree and its keys' states (dots suffice). */
export interface Side {
  tree: MerkleTree;
  states: ReadonlyMap<string, KeyState>;
  /** The side's epoch ancestry (ReplicaCore.epochs), which its `exchange` judges by; none known when absent. */
  epochs?: EpochRegistry;
}

/** Runs anti-entropy between two in-process sides (no transport): which keys go which way, in how many turns. */
export async function runAntiEntropy(a: Side, b: Side, run = 1): Promise<InProcessResult> {
  const aToB = new Set<string>();
  const bToA = new Set<string>();
  const fill = async (side: Side, items: AeItem[]) => {
    const whole: string[] = [];
    const filled = await fillRanges(items, (k) => side.states.get(k), whole);
    for (const k of whole) (side === a ? aToB : bToA).add(k);
    return filled;
  };
  let turn = { items: await fill(a, openingTurn(a.tree, run).items), want: [] as string[] };
  let turns = 1;
  let fromA = true;
  for (;;) {
    const receiver = fromA ? b : a;
    const sent = fromA ? bToA : aToB;
    const next = answerTurn(receiver.tree, turn.items, run);
    // The receiver answers wants carried by the turn it got, and sends what it found.
    let sends = false;
    for (const k of turn.want) if (receiver.states.has(k)) sends = !!sent.add(k);
    const want: string[] = [];
    for (const k of new Set([...next.send, ...next.want])) {
      const x = exchange(receiver.states.get(k), next.theirs.get(k), receiver.epochs);
      if (x.send) sends = !!sent.add(k);
      if (x.want) want.push(k);
    }
    const final = next.items.length === 0 && want.length === 0;
    if (final) {
      if (sends) turns++;
      break;
    }
    turn = { items: await fill(receiver, next.items), want };
    turns++;
    fromA = !fromA;
  }
  return { aToB, bToA, roundTrips: Math.ceil(turns / 2), turns };
}
