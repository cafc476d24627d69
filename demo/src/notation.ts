/**
 * The one notation the demo uses for replicas, dots and contexts, wherever they show (notes' version cards and
 * line, the network panel's members and write journal):
 *
 *   replica   its replicaId's first 8 characters            Zc_bQfJN        (the full id in the title)
 *   dot       replica·counter, the counter in decimal         Zc_bQfJN·4
 *   context   {replica: counter, …} sorted by replicaId      {L-ZntHf5: 4, Zc_bQfJN: 4}
 *
 * A context is opaque to apps (a string to pass back to put/delete); the demo decodes it only to show it, with
 * the library's own parser, and shows the string as it is if that ever fails. A replica whose dots name their epoch
 * (protocol 11) shows its highest counter: the epochs are the library's to judge by, not the reader's.
 */
import { decodeCausal } from '../../lib/dvv.js';
import type { Context, WriteResult } from '../../lib/index.js';

/** The first 8 characters of a replicaId, enough to tell devices apart on screen. */
export function short(replicaId: string): string {
  return replicaId.slice(0, 8);
}

export function formatDot(replicaId: string, counter: number): string {
  return `${short(replicaId)}·${counter}`;
}

export function formatContext(context: Context): string {
  const vv = decodeCausal(context)?.cc;
  if (!vv) return String(context);
  const ids = Object.keys(vv).sort();
  return `{${ids.map((id) => `${short(id)}: ${vv[id]}`).join(', ')}}`;
}

/**
 * The dot a write of this replica minted: its own entry in the key's context right after the write (a new
 * version's dot is the highest of its replica's counters the key has seen). Undefined for a write that changed
 * nothing.
 */
export function dotOfWrite(w: WriteResult, replicaId: string): string | undefined {
  if (w.seq === 0) return undefined;
  const counter = decodeCausal(w.context)?.cc[replicaId];
  return counter === undefined ? undefined : formatDot(replicaId, counter);
}
