/**
 * Encode once: a relay's live stream sends the same log entries to every session where their space is live. A
 * CHANGES frame of them is the same bytes for each session when what differs between sessions does not enter it:
 *
 *   echo       the writer's own session skips its entries (outgoing.ts): its frame holds other entries
 *   rights     a session without read rights has no stream for the space: it gets nothing
 *   forms      only all-whole frames are shared (a session whose peer model says a version is held, or takes a
 *              delta, encodes its own)
 *   table      the frame's string table is seeded with both replica ids: the relay's (the same for all) and the
 *              peer's. The bytes are the same for another peer when neither peer's id is among the frame's strings
 *   cursors    `upTo` is the sender's log seq, the same for all; each session keeps its own cursor and window
 *   epochs     a frame of protocol 11 (epoch-wire.ts) is shared only with sessions of 11 whose hello announced the same
 *              tagged chain, and only when it names no epoch (a table entry carries what the registry knew then)
 *
 * LIVE frames (one entry, through the connection's state) differ per connection; their value bytes are shared
 * (codec.ts Writer.valueOf). Entries are recognized by identity (outgoing.ts hands every session the same objects).
 */
import type { StoredVersion } from '../dvv.js';
import { Writer } from './codec.js';
import { EpochOut, type EpochLink } from './epoch-wire.js';
import { MsgType, writeChanges, type Changes, type Entry } from './messages.js';
import type { Form } from './wire-state.js';

interface Shared {
  readonly space: string;
  readonly upTo: number;
  readonly entries: readonly Entry[];
  readonly me: string;
  readonly peer: string;
  /** undefined: protocol 10 or less; else the tagged chain the frame's dots are implied by. */
  readonly mode: string | undefined;
  readonly frame: Uint8Array;
  /** The frame's strings (seeds included), and whether the frame referred to its peer's id. */
  readonly w: Writer;
  readonly peerUsed: boolean;
}

/** Keyed by the frame's first entry: gone with the entries. */
const frames = new WeakMap<Entry, Shared>();

function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The frame of `m` (all versions whole) seeded with `table` ([our id, the peer's]); made once for equal frames. */
export function encodeChangesOnce(m: Changes, table: readonly string[], forms: ReadonlyMap<StoredVersion, Form> | undefined, epochs?: EpochLink): Uint8Array {
  const [me, peer] = table as readonly [string, string];
  const first = m.entries[0];
  const mode = epochs ? JSON.stringify([epochs.me.chain, epochs.me.plain === true]) : undefined;
  const shareable = first !== undefined && table.length === 2 && (forms === undefined || forms.size === 0);
  const c = shareable ? frames.get(first) : undefined;
  const same = c !== undefined && c.space === m.space && c.upTo === m.upTo && c.me === me && c.mode === mode && sameEntries(c.entries, m.entries);
  if (same && (c.peer === peer || (!c.peerUsed && !c.w.hasString(peer)))) return c.frame;
  const w = new Writer(table);
  const ep = epochs ? new EpochOut(epochs.me, epochs.reg(), epochs.told) : undefined;
  w.u8(MsgType.Changes);
  writeChanges(w, m, forms, ep);
  ep?.done(false);
  const frame = w.done();
  const peerUsed = (w.seedUsed & 2) !== 0;
  // A frame that refers to its peer's id is that peer's own: it does not replace one the others can share.
  if (shareable && (ep === undefined || ep.entries === 0) && (!same || !peerUsed)) frames.set(first, { space: m.space, upTo: m.upTo, entries: m.entries, me, peer, mode, frame, w, peerUsed });
  return frame;
}
