/**
 * For test readers of a connection's frames (recorders, the simulator's checkers): a connection takes protocol 11
 * where both hellos list it, and its CHANGES, PART, LIVE and AE frames are then written in 11's form (epoch-wire.ts),
 * which a reader must decode with the connection's epochs. These readers leave the sides' chains empty (a sender's
 * dots imply their epochs from its hello's history, epoch-wire.ts): an implied epoch then reads untagged, while the
 * frame's structure, replica ids and counters — all these readers use — decode as sent.
 */
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import { EPOCH_DOTS, type EpochLink } from '../../lib/sync/epoch-wire.js';

/** Whether a connection whose hellos announced `a` and `b` speaks protocol 11. */
export function speaks11(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return (a?.includes(EPOCH_DOTS) ?? false) && (b?.includes(EPOCH_DOTS) ?? false);
}

/** The epochs to decode `sender`'s frames to `receiver` with, on a connection of protocol 11 (learning nothing). */
export function readerEpochs(sender: string, receiver: string): EpochLink {
  return { me: { id: receiver, chain: [] }, peer: { id: sender, chain: [] }, reg: () => NO_EPOCHS, learn: () => undefined };
}
