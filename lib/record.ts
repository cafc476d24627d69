/**
 * A key's stored record: its state, its position in the change log, and the hash of its canonical state
 * text (dots, tombstone flags, context; never values), the key's leaf contribution to the Merkle tree.
 */
import { canonicalStateText, type KeyState } from './dvv.js';
import { hash64 } from './hash.js';
import type { KeyRecord } from './storage.js';

export function record(key: string, state: KeyState, seq: number, src?: string): KeyRecord {
  const rec = { vs: state.vs, cc: state.cc, seq, h: hash64(canonicalStateText(key, state)) };
  return src === undefined ? rec : { ...rec, src };
}
