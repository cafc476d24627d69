/**
 * Own writes a join dropped, kept a while in case they were dropped by mistake.
 *
 * A join drops a version of ours when the remote context covers its dot without holding it: someone saw the write
 * and superseded it. After a restore from an older copy that nobody told us of yet, that reasoning fails: the dots we
 * mint again were minted before, for other writes, and contexts that saw *those* cover ours too. A peer that got
 * them indirectly (not from us: it is no witness, epochs.ts) can reach us before any witness does, and its states
 * then drop our writes made since the restore; when the witness comes and we re-identify, they are gone from storage
 * and nothing re-issues them. So every own version a join drops is noted here (a window of the last MAX_DROPPED
 * own dots, with their values up to MAX_NOTED_BYTES), and a re-identification re-issues those minted past the
 * restore point that no record holds any more (reidentify.ts). Without a restore the notes are never read; with one,
 * a version a peer really superseded comes back as a sibling of what superseded it: a conflict to resolve, never a
 * loss.
 */
import { valueOf } from './deltas.js';
import type { KeyState, StoredVersion } from './dvv.js';
import type { Hlc } from './hlc.js';
import { mintAgain, type Reissued } from './identity.js';
import type { StorageTx } from './storage.js';

/** Notes live in MAX_DROPPED slots, one per own dot counter modulo MAX_DROPPED: no shared counter, so tabs sharing the
 * storage never overwrite each other's notes, and a note goes only when a dot MAX_DROPPED later is dropped too. A new
 * id's dots share the slots: a re-identification re-issues the old id's notes in the transaction that changes the id. */
export const DROPPED_META = 'dropped:';
export const MAX_DROPPED = 256;
/** A value larger than this is not noted (a note is metadata, written in the join's transaction). */
export const MAX_NOTED_BYTES = 64 * 1024;

/** One dropped version as stored (JSON): space, key, dot, HLC, tombstone flag, and its value (bytes as base64). */
interface Note {
  s: string;
  k: string;
  r: string;
  n: number;
  t: number;
  c: number;
  d?: 1;
  v?: string;
  b?: string;
}

function toNote(space: string, key: string, v: StoredVersion): Note | undefined {
  const note: Note = { s: space, k: key, r: v.r, n: v.n, t: v.t, c: v.c };
  if (v.d) note.d = 1;
  else {
    let value: string | Uint8Array;
    try {
      value = valueOf(v);
    } catch {
      return undefined; // a delta whose bases are gone: nothing to keep
    }
    if (value.length > MAX_NOTED_BYTES) return undefined;
    if (typeof value === 'string') note.v = value;
    else {
      let text = '';
      for (const byte of value) text += String.fromCharCode(byte);
      note.b = btoa(text);
    }
  }
  return note;
}

function fromNote(note: Note): StoredVersion {
  if (note.d) return { r: note.r, n: note.n, t: note.t, c: note.c, d: 1 };
  const v = note.v ?? Uint8Array.from(atob(note.b ?? ''), (ch) => ch.charCodeAt(0));
  return { r: note.r, n: note.n, t: note.t, c: note.c, v };
}

function sameValue(a: StoredVersion, b: StoredVersion): boolean {
  if (!!a.d !== !!b.d) return false;
  if (a.d) return true;
  const x = valueOf(a);
  const y = valueOf(b);
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** Inside a join's transaction: notes the versions of `me` that `prev` held and `joined` does not. */
export function noteDropped(tx: StorageTx, space: string, key: string, me: string, prev: KeyState, joined: KeyState): void {
  for (const v of prev.vs) {
    if (v.r !== me || joined.vs.some((u) => u.r === me && u.n === v.n)) continue;
    const note = toNote(space, key, v);
    if (note) tx.setMeta(DROPPED_META + (v.n % MAX_DROPPED), note);
  }
}

/**
 * Inside a re-identification's transaction: the noted versions of `oldId` minted past `point` that the key's record
 * no longer holds, written again under `id` as siblings of what the record holds. Their notes go.
 */
export async function reissueDropped(tx: StorageTx, id: string, oldId: string, point: number, tick: () => Hlc, ep?: string): Promise<{ rewritten: Reissued[]; seq: number }> {
  let seq = (await tx.getMeta<number>('seq')) ?? 0;
  const byKey = new Map<string, Note[]>();
  for (let slot = 0; slot < MAX_DROPPED; slot++) {
    const note = await tx.getMeta<Note | null>(DROPPED_META + slot);
    if (!note || note.r !== oldId || note.n <= point) continue;
    tx.setMeta(DROPPED_META + slot, null);
    const at = `${note.s}\u0000${note.k}`;
    byKey.set(at, [...(byKey.get(at) ?? []), note]);
  }
  const rewritten: Reissued[] = [];
  for (const notes of byKey.values()) {
    const { s: space, k: key } = notes[0]!;
    const rec = await tx.get(space, key);
    const base: KeyState = rec ?? { vs: [], cc: {} };
    // Not held under its dot, nor already re-issued from the record itself (the same value under the new id).
    const missing = notes.map(fromNote).filter((n) => !base.vs.some((v) => (v.r === n.r && v.n === n.n) || (v.r === id && sameValue(v, n))));
    if (missing.length === 0) continue;
    const again = mintAgain(base, missing, id, seq, tick, ep);
    seq = again.seq;
    rewritten.push({ space, key, state: again.state, seq });
  }
  if (rewritten.length) tx.setMeta('seq', seq);
  return { rewritten, seq };
}
