/**
 * The epochs a hello tells, and the chain frame (EPOCHS) that completes it from protocol 11 on (docs/design/
 * epochs-build.md, stage 2 item 3: a replica has every record of the epochs a peer will name before it judges).
 *
 * A hello carries the sender's last MAX_SENT_EPOCHS epochs (what cursors are judged by); the oldest one's parent is
 * not among them. Its wire form cannot grow: a receiver refuses trailing bytes, and a client sends its hello before it
 * knows what its peer speaks. So right after the hellos, each end whose peer announced EPOCH_CHAINS sends its chain —
 * the records of its current epoch and of every ancestor its registry holds, oldest first, in as many EPOCHS frames
 * as the frame budget needs (at most MAX_FRAME_RECORDS records each). A peer of an earlier release gets none, and
 * learns from the hello what it always did.
 *
 *   EPOCHS  count, then per record: epoch, how its parent is named (0: the record before it in this frame, 1: the
 *           untagged root, 2: a string follows), the parent when named, fork
 *
 * The records name the sender's own epochs only (a peer cannot make us store records of another replica here).
 * A record that conflicts with one we hold, or a count past a bound (epoch-points.ts), refuses the frame: the
 * session closes with the reason, and nothing of the frame is kept.
 */
import { MAX_FRAME_RECORDS, UNTAGGED, type EpochRecord } from '../epoch-points.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { EPOCH } from './fields.js';
import { MsgType, PROTOCOL_VERSIONS, type Hello } from './messages.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import { MAX_COUNTER } from './wire-state.js';
import type { ReplicaCore } from '../core.js';
import type { EpochHolds } from './epoch-holds.js';

/** The first protocol version with EPOCHS frames. */
export const EPOCH_CHAINS = EPOCH_DOTS;

export interface EpochsMsg {
  type: MsgType.Epochs;
  records: EpochRecord[];
}

const PREVIOUS = 0;
const ROOT = 1;
const NAMED = 2;

export function writeChain(w: Writer, records: readonly EpochRecord[]): void {
  w.uint(records.length);
  records.forEach((rec, i) => {
    w.str(rec.e);
    const how = i > 0 && rec.parent === records[i - 1]!.e ? PREVIOUS : rec.parent === UNTAGGED ? ROOT : NAMED;
    w.uint(how);
    if (how === NAMED) w.str(rec.parent);
    w.uint(rec.fork);
  });
}

export function readChain(r: Reader): EpochRecord[] {
  const n = r.count(3);
  if (n > MAX_FRAME_RECORDS) throw new ProtocolError(`an EPOCHS frame of ${n} records (at most ${MAX_FRAME_RECORDS})`);
  const out: EpochRecord[] = [];
  for (let i = 0; i < n; i++) {
    const e = r.str();
    const how = r.uint();
    const parent = how === PREVIOUS && i > 0 ? out[i - 1]!.e : how === ROOT ? UNTAGGED : how === NAMED ? r.str() : undefined;
    const fork = r.uint();
    if (parent === undefined || e === '' || !EPOCH.test(e) || !EPOCH.test(parent) || e === parent || fork > MAX_COUNTER) {
      throw new ProtocolError('invalid epoch record');
    }
    out.push({ e, parent, fork });
  }
  return out;
}

/**
 * What a hello tells of its sender's epochs. Where both speak protocol 11 (`at11`), nothing: the chain frame that
 * follows carries the sender's records as its registry holds them, and a record derived from the hello's history
 * would name the wrong parent for the first epoch that tagged (it forks from the untagged root, not from the epoch
 * before it: identity.ts Identity.tagged), and a record never changes once learned. On an earlier link they are
 * learned in memory only and a conflict keeps the known record, as before protocol 11: nothing changes there (no
 * state naming an epoch crosses such a link).
 */
export function learnHello(core: ReplicaCore, m: Hello, at11: boolean): void {
  // A hello's last few epochs: the oldest one's parent is not among them (the chain frame carries it).
  if (!at11) core.epochs.learn(m.replicaId, m.history, false);
}

/**
 * Stores what the registry learned, not awaited: a hello must not wait for a disk (storage resolves transactions in
 * order, once durable — core.ts durableSeq — so these records are durable before any state of this session naming them). On failure the records stay fresh and go with the
 * next store (or are learned again from the peer).
 */
function stored(core: ReplicaCore): void {
  void core.saveEpochs().catch(() => {});
}

/**
 * A peer's hello, before its frames: a client of ours (not `trusted`) is held (epoch-holds.ts) before its hello's
 * records are learned; then what its frames may teach (teachTerms).
 */
export function peerEpochs(core: ReplicaCore, holds: EpochHolds, session: object, m: Hello, ours: readonly number[], trusted: boolean): ReturnType<typeof teachTerms> {
  if (!trusted) holds.hold(session, m.replicaId);
  const at11 = ours.includes(EPOCH_CHAINS) && m.versions.includes(EPOCH_CHAINS);
  // A peer that takes tagged states: from the storage's next open on, this replica tags (docs/design/epochs-build.md,
  // "Item 6 — decided": tagging only once a peer can carry what it tags).
  if (at11) core.noteEpochPeer();
  learnHello(core, m, at11);
  return teachTerms(core, trusted);
}

/**
 * What the peer's protocol-11 frames may teach (wire.ts EpochChains): records of its own epochs always; of other
 * replicas' epochs only when `trusted` — the peer is our relay (we are its client) or a trusted relay of the cluster.
 * Learned records are stored (not awaited).
 */
export function teachTerms(core: ReplicaCore, trusted: boolean): { others: boolean; learned: () => void } {
  return { others: trusted, learned: () => stored(core) };
}

/** Our chain for a peer that announced `versions` (none for a peer of an earlier release), split to fit `budget` bytes a frame. */
export function chainFrames(core: ReplicaCore, versions: readonly number[], ours: readonly number[], budget: number): EpochsMsg[] {
  if (!versions.includes(EPOCH_CHAINS) || !ours.includes(EPOCH_CHAINS)) return [];
  const chain = core.epochs.chainOf(core.replicaId, core.epoch);
  const frames: EpochsMsg[] = [];
  let records: EpochRecord[] = [];
  let size = 8;
  for (const rec of chain) {
    const bytes = 12 + rec.e.length + rec.parent.length;
    if (records.length > 0 && (size + bytes > budget || records.length === MAX_FRAME_RECORDS)) {
      frames.push({ type: MsgType.Epochs, records });
      records = [];
      size = 8;
    }
    records.push(rec);
    size += bytes;
  }
  if (records.length > 0) frames.push({ type: MsgType.Epochs, records });
  return frames;
}

/**
 * The peer's hello shows we lost writes (restoreVerdict): our chain goes to it first (where it speaks 11), then we
 * re-identify. Our versions minted under this id leave from now on under the new one, so to the peer they are a third
 * replica's, whose records it takes from a trusted relay only (teachTerms): without them it would judge those epochs
 * roots while we place them, and keep a version we superseded (restore-once 11019 at SIM_SPEAKS=11). The records are
 * true whatever the restore lost: a restored branch's epochs are other epochs than the lost branch's.
 */
export async function reidentifyTelling(core: ReplicaCore, m: Hello, budget: number, send: (f: EpochsMsg) => void): Promise<void> {
  for (const f of chainFrames(core, m.versions, core.speaks ?? PROTOCOL_VERSIONS, budget)) send(f);
  await core.reidentify(m.replicaId, [m.seen, m.attest].filter((x) => x !== undefined));
}

/** A peer's chain frame: its records learned, all or none (a refusal closes the session with why), and stored. */
export function chainReceived(core: ReplicaCore, peer: string, m: EpochsMsg): void {
  const refused = core.epochs.learnChain(peer, m.records);
  if (refused) throw new ProtocolError(refused);
  stored(core);
}
