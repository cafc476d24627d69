/**
 * A link's terms, fixed once both hellos are known (wire.ts `start`): whether a key state may go in parts (protocol 10),
 * and where both speak 11 the epochs both sides' dots imply and whom the peer's frames may teach.
 */
import type { EpochRecord } from '../epoch-points.js';
import type { EpochEntry } from '../epochs.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import { KEY_PARTS, stagingLimit } from './key-parts.js';
import { TELLS_LEFT } from './lacks.js';

/**
 * What both sides' dots imply on a connection of protocol 11 (epoch-wire.ts EpochSide: each side's hello history), and
 * our records the peer lacks (epoch-chain.ts chainStart): they go in EPOCHS frames before the first frame carrying a
 * dot of ours naming an epoch (wire.ts `send`).
 */
export interface EpochChains {
  /** The history our hello announced, where the wire was not told it (`Wire.announced`). */
  readonly mine?: readonly EpochEntry[];
  /** The history the peer's hello announced. */
  readonly theirs: readonly EpochEntry[];
  readonly missing?: readonly EpochRecord[];
  /** Our chain's labels: the peer holds them once `missing` went (ToldChains). */
  readonly own?: readonly string[];
  /** The peer learns our records of other replicas' epochs (we are its relay): ToldChains `others`. */
  readonly teaches?: boolean;
  /** A server's hello field (which of the client's epochs it holds): HELLO `holds`. */
  readonly holds?: number;
  /**
   * Whose epoch records the peer's frames may teach: its own; another replica's when `others` (a relay we trust: our
   * server, a relay of the cluster), else its chain goes to `told` (a relay weighs its client's token: epoch-vouch.ts).
   */
  readonly others?: boolean;
  /** False: not even its own (a client that may write nowhere: epoch-chain.ts peerEpochs). */
  readonly self?: boolean;
  readonly told?: (r: string, records: readonly EpochRecord[]) => void;
  /** Called once a frame's records were learned (ReplicaCore.saveEpochs, not awaited). */
  readonly learned?: () => void;
}

/**
 * `Wire.start`'s terms once both hellos are known (`ours`: the versions our hello announced): what a key state in
 * parts may take (protocol 10), and where both speak 11 whom the peer's frames may teach and the chains both sides'
 * dots imply (`teach`: epoch-chain.ts peerEpochs, from the registry and the hellos; none given, both start empty), and
 * whether a key left out is told to the peer (protocol 12, lacks.ts).
 */
export function linkTerms(
  ours: readonly number[],
  theirs: readonly number[],
  maxFrameBytes: number,
  teach: Omit<EpochChains, 'theirs'> & Partial<EpochChains> = { others: false },
): [number, EpochChains | undefined, boolean] {
  const both = (v: number) => ours.includes(v) && theirs.includes(v);
  return [both(KEY_PARTS) ? stagingLimit(maxFrameBytes) : 0, both(EPOCH_DOTS) ? { theirs: [], ...teach } : undefined, both(TELLS_LEFT)];
}
