/**
 * The epochs a hello tells, and the chain frame (EPOCHS) that completes it from protocol 11 on (docs/design/
 * epochs-build.md, stage 2 item 3: a replica has every record of the epochs a peer will name before it judges).
 *
 * A hello carries the sender's last MAX_SENT_EPOCHS epochs (what cursors are judged by); the oldest one's parent is
 * not among them. They are also what the sender's dots imply on the link (epoch-wire.ts: both ends read them from
 * the hello, so nothing else has to agree first). At 11 they teach the sender's chain where its first tagged epoch is
 * among them: that epoch's label is a root label (epochs.ts ROOT_LABEL), so the receiver learns the records from it on
 * exactly as the sender's registry holds them (helloRecords), and no EPOCHS frame carries them — also between two
 * peers that both dialed, and to a peer restored from a copy that lacks them.
 *
 * A client's hello cannot grow: a receiver of an earlier release refuses trailing bytes, and a client sends its hello
 * before it knows what its peer speaks. A server's hello is sent after the client's, so where that listed 11 it takes
 * one more field, `holds`: the newest epoch of the client's hello history whose chain the server's registry holds
 * whole (reaching the untagged root), as its 1-based index, 0 for none. A peer of an earlier release gets no such
 * field and no EPOCHS frame, and learns from the hello what it always did.
 *
 * The records of our chain the peer lacks — after the epoch `holds` names for a client, all of them for a server or
 * between two clients, less those our hello taught — go in EPOCHS frames (at most MAX_FRAME_RECORDS records each,
 * split to the frame budget) only once a frame is about to carry a dot of ours naming an epoch (wire.ts), right before
 * that frame: the receiver has them before it judges. A session that sends none of its own tagged dots sends no chain,
 * and a relay met before (which stored our chain: records are stored before any state naming them, epoch-store.ts)
 * is sent only what it lacks. Why read from the registry, not remembered per peer: a peer restored from an older copy
 * holds fewer records than it once acknowledged; `holds` is its registry as it is now, so it is sent them again.
 *   EPOCHS  count, then per record: epoch, how its parent is named (0: the record before it in this frame, 1: the
 *           untagged root, 2: a string follows), the parent when named, fork
 *
 * The records name the sender's own epochs only (a peer cannot make us store records of another replica here).
 * A record that conflicts with one we hold, or a count past a bound (epoch-points.ts), refuses the frame: the
 * session closes with the reason, and nothing of the frame is kept.
 */
import { MAX_FRAME_RECORDS, UNTAGGED, type EpochRecord, type Epochs } from '../epoch-points.js';
import { lastRootIndex, type EpochEntry } from '../epochs.js';
import type { KeyState } from '../dvv.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { EPOCH } from './fields.js';
import { MsgType, PROTOCOL_VERSIONS, type Hello, type Message } from './messages.js';
import { EPOCH_DOTS, type EpochSide, type ToldChains } from './epoch-wire.js';
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
 * The records of its sender's epochs a hello's history tells: from its last entry with a root label (epochs.ts
 * ROOT_LABEL: it forks from the untagged root) on, each entry forking from the one before it at its `from` — for a
 * replica that tags, its chain whole where its tagged epoch is among the hello's last epochs. Exactly the records the
 * sender's registry holds of them (Epochs.learn derives them so from the sender's own history), so no chain frame
 * need carry them. None where no entry has a root label: the oldest entry's parent is not told.
 */
export function helloRecords(history: readonly EpochEntry[]): EpochRecord[] {
  const at = lastRootIndex(history);
  if (at < 0) return [];
  return history.slice(at).map(([e, fork], i) => ({ e, parent: i === 0 ? UNTAGGED : history[at + i - 1]![0], fork }));
}

/**
 * What a hello tells of its sender's epochs. Where both speak protocol 11 (`at11`), its sender's chain as far as its
 * history tells it (helloRecords), all or none: a record conflicting with a known one refuses the hello with the reason,
 * as a chain frame's would. On an earlier link they are learned in memory only and a conflict keeps the known record,
 * as before protocol 11 (no state naming an epoch crosses such a link).
 */
export function learnHello(core: ReplicaCore, m: Hello, at11: boolean): void {
  if (!at11) return void core.epochs.learn(m.replicaId, m.history, false);
  const records = helloRecords(m.history);
  if (records.length === 0) return;
  const refused = core.epochs.learnChain(m.replicaId, records);
  if (refused) throw new ProtocolError(refused);
  stored(core);
}

/**
 * Stores what the registry learned, not awaited: a hello must not wait for a disk (storage resolves transactions in
 * order, once durable — core.ts durableSeq — so these records are durable before any state of this session naming them). On failure the records stay fresh and go with the
 * next store (or are learned again from the peer).
 */
function stored(core: ReplicaCore): void {
  void core.saveEpochs().catch(() => {});
}

/** The chain a registry holds of epoch `e` of `r` when whole (reaching the untagged root), as chain entries; else none. */
function wholeChain(reg: Epochs, r: string, e: string): EpochEntry[] | undefined {
  const records = reg.chainOf(r, e);
  return records.length > 0 && records[0]!.parent === UNTAGGED ? records.map((x) => [x.e, x.fork] as const) : undefined;
}

/** A server's `holds` for a client's hello history: the newest entry whose chain `reg` holds whole, 1-based; 0 for none. */
export function heldIndex(reg: Epochs, r: string, history: readonly EpochEntry[]): number {
  for (let i = history.length - 1; i >= 0; i--) {
    const records = reg.chainOf(r, history[i]![0]);
    if (records.length > 0 && records[0]!.parent === UNTAGGED) return i + 1;
  }
  return 0;
}

/** Where both speak 11: the peer's hello history, our records the peer lacks (wire.ts EpochChains), a server's `holds`. */
export interface ChainStart {
  readonly theirs: readonly EpochEntry[];
  readonly missing: readonly EpochRecord[];
  /** Our own chain (its labels), which the peer holds once `missing` went. */
  readonly own: readonly string[];
  readonly holds?: number;
  /** The peer learns our records of other replicas' epochs: we are its relay (a client trusts its server). */
  readonly teaches: boolean;
}

/**
 * A server reads from its registry which of the client's epochs it holds (its hello tells, `holds`) and knows nothing
 * of what the client holds of its own chain; a client (`sent`: the history its own hello announced) takes the
 * server's `holds`, and a peer that is no server (two clients: neither hello can say) is sent the whole chain.
 */
export function chainStart(core: ReplicaCore, m: Hello, sent: readonly EpochEntry[] | undefined): ChainStart {
  const own = core.epochs.chainOf(core.replicaId, core.epoch);
  const labels = own.map((x) => x.e);
  if (sent === undefined) return { theirs: m.history, missing: own, own: labels, holds: heldIndex(core.epochs, m.replicaId, m.history), teaches: true };
  const held = m.holds ?? 0;
  if (held > sent.length) throw new ProtocolError('a held epoch our hello did not announce');
  const at = held > 0 ? own.findIndex((x) => x.e === sent[held - 1]![0]) : -1;
  return { theirs: m.history, missing: own.slice(at + 1), own: labels, teaches: false };
}

/** Whether state `s` holds a dot of `me` naming an epoch: a version, a delta base or a context point. */
function namesOwnEpoch(s: KeyState, me: string): boolean {
  for (const v of s.vs) {
    if (v.r === me && v.ep !== undefined) return true;
    if (v.x !== undefined) for (const b of v.x.b) if (b[0] === me && b[2] !== undefined) return true;
  }
  const pts = s.pts?.[me];
  if (pts) for (const p of pts) if (p.e !== UNTAGGED) return true;
  return false;
}

/**
 * Whether a frame of `m` may carry a dot of `me` naming an epoch (it is then preceded by our chain, where the peer
 * lacks it). Only a hint of cost, not of soundness: a dot whose epoch the chain told does not imply is named, with its
 * chain in the frame's table (epoch-wire.ts).
 */
export function carriesOwnEpochs(m: Message, me: string): boolean {
  if (m.type === MsgType.Changes || m.type === MsgType.Part) return m.entries.some(([, s]) => namesOwnEpoch(s, me));
  if (m.type !== MsgType.AntiEntropy) return false;
  return m.items.some((it) => (it.kind === 'range' || it.kind === 'keys') && it.keys.some(([, s]) => namesOwnEpoch(s, me)));
}

/**
 * Our chain on one link (wire.ts): the records the peer lacks go before our first frame carrying a tagged dot of ours;
 * from then on (or from the start, when it lacks none) the peer holds our chain, and `told` names its epochs alone. The
 * peer lacks none its receiver learns from our hello (helloRecords of the history `announced` holds: a server's hello
 * goes after the link starts, so it is read again until none is missing).
 */
export class ChainOut {
  /** The history of ours last read (`announced`), and whether the peer holds our chain. */
  private read: readonly EpochEntry[] | undefined;
  private held = false;

  constructor(
    private missing: readonly EpochRecord[],
    private readonly own: readonly string[],
    private readonly me: string,
    private readonly told: ToldChains,
    private readonly announced: EpochSide,
  ) {
    this.settle();
  }

  /** Leaves out what the peer learns from our hello; once nothing is missing, the peer holds our chain. */
  private settle(): void {
    if (this.announced.chain !== this.read) {
      this.read = this.announced.chain;
      const told = new Map(helloRecords(this.read).map((x) => [x.e, x]));
      this.missing = this.missing.filter((x) => !sameRecord(told.get(x.e), x));
    }
    if (this.missing.length === 0 && !this.held) (this.held = true), this.told.hold(this.me, this.own);
  }

  /** The EPOCHS frames to send before `m`: none once they went, or while no frame carries a tagged dot of ours. */
  before(m: Message, maxFrameBytes: number): EpochsMsg[] {
    this.settle();
    if (this.missing.length === 0 || !carriesOwnEpochs(m, this.me)) return [];
    const frames = splitChain(this.missing, chainBudget(maxFrameBytes));
    this.missing = [];
    this.settle();
    return frames;
  }
}

const sameRecord = (a: EpochRecord | undefined, b: EpochRecord): boolean => a !== undefined && a.parent === b.parent && a.fork === b.fork;

/** The frame budget EPOCHS frames are split to, for a connection's frame limit (as the session's). */
export function chainBudget(maxFrameBytes: number): number {
  return Math.min(256 * 1024, Math.floor(maxFrameBytes / 4));
}

/**
 * A peer's hello, before its frames: a client of ours (not `trusted`) is held (epoch-holds.ts) before its hello's
 * records are learned; then what its frames may teach (teachTerms) and, where both speak 11, where the link's chains
 * start (chainStart; `sent`: our hello's history when we are the client, undefined for a server). A client that may
 * write in no space (`learns` false) teaches nothing, by its hello or its frames: we store none of its states, and its
 * id may be its principal's writable replica's (principals.ts), whose records it would otherwise choose — stored with
 * the writer's, first of a conflict, up to MAX_REPLICA_RECORDS, past which the writer's next epoch is refused
 * (test/review/readonly-mixed-tokens.test.ts). Its frames' epochs it did not teach are judged as roots (covering less).
 */
export function peerEpochs(
  core: ReplicaCore,
  holds: EpochHolds,
  session: object,
  m: Hello,
  ours: readonly number[],
  trusted: boolean,
  sent: readonly EpochEntry[] | undefined,
  learns = true,
): ReturnType<typeof teachTerms> & Partial<ChainStart> {
  if (!trusted) holds.hold(session, m.replicaId);
  const at11 = ours.includes(EPOCH_CHAINS) && m.versions.includes(EPOCH_CHAINS);
  // A peer that takes tagged states: from the storage's next open on, this replica tags (docs/design/epochs-build.md,
  // "Item 6 — decided": tagging only once a peer can carry what it tags).
  if (at11) core.noteEpochPeer();
  else if (ours.includes(EPOCH_CHAINS)) core.noteEarlierPeer(); // the peer's release is below 11: a later open of ours does not tag for it alone
  if (learns) learnHello(core, m, at11);
  return { ...teachTerms(core, trusted), ...(learns ? {} : { self: false }), ...(at11 ? chainStart(core, m, sent) : {}) };
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
  return splitChain(core.epochs.chainOf(core.replicaId, core.epoch), budget);
}

/** EPOCHS frames of `chain`, split to fit `budget` bytes a frame. */
export function splitChain(chain: readonly EpochRecord[], budget: number): EpochsMsg[] {
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
