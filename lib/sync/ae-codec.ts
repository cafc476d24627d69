/**
 * The AE (anti-entropy turn) message body: space, run id, the sender's top, flags (final, more), the tree items in
 * groups — a run of node items at consecutive indexes of one level is one block (level, first index, count, hashes);
 * a range item is level, index and its (key, hash) list — then the wanted keys. Decoding validates every field
 * (fields.ts) and refuses nodes the tree cannot have.
 */
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { hash, key, space, writeHash } from './fields.js';
import { ARITY, DEPTH } from './merkle.js';

/** One Merkle node's hash, or (RANGE) the keys and state hashes under a node. */
export type AeItem =
  | { kind: 'node'; level: number; index: number; hash: string }
  | { kind: 'range'; level: number; index: number; keys: Array<readonly [string, string]> };

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

export function writeAntiEntropy(w: Writer, m: AntiEntropyBody): void {
  w.str(m.space);
  w.uint(m.run);
  w.uint(m.top);
  w.u8((m.final ? 1 : 0) | (m.more ? 2 : 0));
  const groups: Array<AeItem[]> = [];
  for (const it of m.items) {
    const g = groups[groups.length - 1];
    const prev = g?.[g.length - 1];
    if (g && prev && it.kind === 'node' && prev.kind === 'node' && prev.level === it.level && prev.index + 1 === it.index) g.push(it);
    else groups.push([it]);
  }
  w.uint(groups.length);
  for (const g of groups) {
    const first = g[0]!;
    w.u8(first.kind === 'node' ? 0 : 1);
    w.uint(first.level);
    w.uint(first.index);
    if (first.kind === 'node') {
      w.uint(g.length);
      for (const it of g) writeHash(w, (it as { hash: string }).hash);
    } else {
      w.uint(first.keys.length);
      for (const [k, h] of first.keys) {
        w.str(k);
        writeHash(w, h);
      }
    }
  }
  w.uint(m.want.length);
  for (const k of m.want) w.str(k);
}

export function readAntiEntropy(r: Reader): AntiEntropyBody {
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
    const level = r.uint();
    const index = r.uint();
    // The tree has DEPTH + 1 levels: a node below the leaves does not exist (and used to end in error 4500).
    if (level > DEPTH || index >= ARITY ** level) throw new ProtocolError('invalid tree node');
    if (kind === 0) {
      const n = r.count(4);
      if (index + n > ARITY ** level) throw new ProtocolError('invalid tree node');
      for (let j = 0; j < n; j++) items.push({ kind: 'node', level, index: index + j, hash: hash(r) });
    } else if (kind === 1) {
      const nk = r.count(5);
      const keys: Array<readonly [string, string]> = [];
      for (let j = 0; j < nk; j++) keys.push([key(r), hash(r)]);
      items.push({ kind: 'range', level, index, keys });
    } else throw new ProtocolError('invalid tree item');
  }
  const nw = r.count(2);
  const want: string[] = [];
  for (let i = 0; i < nw; i++) want.push(key(r));
  return { space: s, run, top, items, want, final, ...(more ? { more } : {}) };
}
