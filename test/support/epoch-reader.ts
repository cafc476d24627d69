/**
 * For test readers of a connection's frames (recorders, the simulator's checkers): a connection takes protocol 11
 * where both hellos list it, and its CHANGES, PART, LIVE and AE frames are then written in 11's form (epoch-wire.ts),
 * which a reader must decode with the connection's epochs. A sender's dots imply their epochs from the history its
 * hello announced (epoch-wire.ts EpochSide): a reader that has the hellos passes those histories (the simulator's
 * durability watch, which judges whole dots); one that leaves them empty reads an implied epoch as untagged, while the
 * frame's structure, replica ids and counters decode as sent.
 */
import { NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import type { EpochEntry } from '../../lib/epochs.js';
import { EPOCH_DOTS, type EpochLink } from '../../lib/sync/epoch-wire.js';

/** Whether a connection whose hellos announced `a` and `b` speaks protocol 11. */
export function speaks11(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return (a?.includes(EPOCH_DOTS) ?? false) && (b?.includes(EPOCH_DOTS) ?? false);
}

/**
 * The epochs to decode `sender`'s frames to `receiver` with, on a connection of protocol 11 (learning nothing); the
 * histories their hellos announced, where the reader has them; `reg`: the records the receiver holds, where the reader
 * has them (a frame names an epoch whose chain its receiver holds by its label alone, which decodes only with them).
 */
export function readerEpochs(sender: string, receiver: string, senderHistory: readonly EpochEntry[] = [], receiverHistory: readonly EpochEntry[] = [], reg: EpochRegistry | (() => EpochRegistry) = NO_EPOCHS): EpochLink {
  // A function is read at each use: a reader kept for a link's life sees the records learned since.
  return { me: { id: receiver, chain: receiverHistory }, peer: { id: sender, chain: senderHistory }, reg: typeof reg === 'function' ? reg : () => reg, learn: () => undefined };
}
