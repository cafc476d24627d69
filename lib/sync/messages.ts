/**
 * Protocol messages. A frame is one message: a type byte, then its fields (codec.ts). Decoding validates
 * every field (names, ids, counts, value encodings) and throws ProtocolError on anything malformed.
 *
 *   HELLO    versions, replicaId, epoch, top (my log's last durable seq), token, expect (the peer its items and
 *            `seen` assume), history (my log's recent epochs), seen (the highest dot of yours you delivered to
 *            me, and the epoch you announced then: epochs.ts), attest (your latest ATTEST to me), spaces
 *            (hello-codec.ts)
 *   SYNC     spaces: SyncItem[]                 — per space: the cursor I hold into your log, my top, my key count
 *   CHANGES  space, upTo, entries[key, state]   — a batch of my log (upTo > 0: cursor after it) or repair states (upTo 0)
 *   ACK      space, upTo                        — stored your log up to upTo (durable)
 *   AE       space, round                       — one turn of Merkle anti-entropy (merkle.ts / antientropy.ts)
 *   DENIED   space, code, reason                — a space refused (rights)
 *   GRANT    space, rights                      — what the peer may do in a space (relays tell clients: 'read' makes it read-only)
 *   PRESENCE space, json                       — presence digests and entries (presence-hub.ts)
 *   CLUSTER  json                              — cluster news for a relay's clients
 *   LIVE     a CHANGES frame of one log entry, compact: the space, the key and replica ids through the connection's
 *            string table, upTo and HLC times as differences from the connection's last ones (conn-table.ts); type 13
 *            says the sender cleared the table first
 *   ATTEST   e, n, tag                          — a relay's signature: it delivered its own dots up to n (attest.ts)
 *   TOP      space, top                         — my log reaches `top`: frames up to it follow (a link is caught up only
 *            once its cursor reaches the highest top it was told; sent where the log grew past what the peer was told)
 *   NEED     space, [key, type]                — the whole states of keys whose delta could not be resolved here:
 *            a base it names is not held ('') or the type cannot take deltas here (its name); answered with repair
 *            CHANGES (upTo 0) carrying them whole, and the sender sends them whole from then on
 *   PART     CHANGES' fields: upTo 0, one key and some of its versions — a key state too large for one frame goes as
 *            PARTs, then the CHANGES frame it belonged to with that key's context and no versions; the receiver
 *            stages the parts and joins the whole state only with that frame (key-parts.ts)
 *   EPOCHS   records[epoch, parent, fork]      — the sender's epoch chain, after the hellos (epoch-chain.ts)
 *
 * Key states, with their version forms (whole, tombstone, held, delta), are wire-state.ts's.
 */
import type { Attestation } from '../attest.js';
import type { KeyState, StoredVersion } from '../dvv.js';
import { readChanges, writeChanges } from './changes-codec.js';
import { chainRecords, EpochIn, EpochOut, type EpochLink } from './epoch-wire.js';
import type { EpochEntry, Seen } from '../epochs.js';
import { readAntiEntropy, writeAntiEntropy, type AntiEntropyBody } from './ae-codec.js';
import { ProtocolError, Reader, Writer } from './codec.js';
import type { ConnTableIn, ConnTableOut } from './conn-table.js';
import { key, MAX_KEY_LENGTH, MAX_PRESENCE_CHARS, MAX_TOKEN_LENGTH, space } from './fields.js';
import { readChain, writeChain, type EpochsMsg } from './epoch-chain.js';
import { readNeed, writeNeed } from './need-answers.js';
import { readLeft, writeLeft } from './lacks.js';
import { readAttestation, readHello, readSyncItems, writeAttestation, writeHello, writeSyncItems } from './hello-codec.js';
import { liveFits, readLive } from './live.js';
import { encodeLive } from './live-shared.js';
import { MAX_COUNTER, type Form } from './wire-state.js';

export { entrySize } from './wire-state.js';
export { writeChanges } from './changes-codec.js';

/**
 * Versions of this protocol. 2: hellos carry epoch histories and delivered-dot records, sync items no
 * tombstone floor, and RESET is gone (a replica decides for itself that it was restored). 3: versions travel
 * whole, held or as deltas (wire-state.ts), NEED, and LIVE frames. 4: anti-entropy range items carry each key's dots
 * instead of a hash (ae-codec.ts), and repair states take held forms: a value goes only to the side that lacks it.
 * 5: ATTEST, and hellos echo it (attest.ts: a relay learns from its clients that it was restored). 6: an ACK
 * acknowledges every log frame up to its seq, so a receiver may answer several frames with one (ack-policy.ts); a
 * peer speaking 5 still gets one ACK per frame, and its ACKs are read the same way. 7: anti-entropy's fast path
 * (fast-path.ts): a sketch answers an opening, then claims of keys and key hashes; sent only to a peer speaking 7.
 * 8: anti-entropy's tree nodes carry 24 of their hash's bits (antientropy.ts wireHash) and a sketch's sums go in 31
 * bits each (ae-codec.ts): a quarter fewer bytes for an opening, 3 % fewer for a sketch; sent only to a peer speaking 8.
 * 9: TOP (a log stream says how far the sender's log reaches when it grew past the hello's top, so the receiver is not
 * `synced` until it holds that); sent only to a peer speaking 9.
 * 10: PART (key-parts.ts: a key state larger than one frame goes in parts); sent only to a peer speaking 10 — to an
 * earlier peer such a key stays unsendable and is reported (VALUE_TOO_LARGE), as before.
 * 11: EPOCHS (epoch-chain.ts: after the hellos, the sender's epoch chain, which a hello cannot carry), and dots, delta
 * bases, context points and anti-entropy claims may name their epoch (epoch-wire.ts); a storage whose open met a peer at
 * 11 tags its dots with its epoch from then on. To an earlier peer a state naming an epoch is never down-converted: it
 * is withheld and reported (PROTOCOL), its context told alone where that is sound (fit-state.ts).
 * docs/design/epochs-build.md, stage 2. 12: LEFT (lacks.ts: a key the link could not carry, told to the peer), and
 * small log frames are acknowledged one in 64 into a window of 128, tiny ones (256 B at most) one in 512 into 1024
 * (ack-policy.ts WIDE_ACKS; below 12: 16 and 32).
 */
export const PROTOCOL_VERSIONS = [5, 6, 7, 8, 9, 10, 11, 12] as const;

/** The first protocol version with anti-entropy's fast path. */
export const FAST_PATH = 7;

/** The first protocol version whose anti-entropy items are compact: 24-bit node hashes, packed sketch cells. */
export const COMPACT_AE = 8;

/** The first protocol version with TOP. */
export const BACKLOG_TOP = 9;

export const enum MsgType {
  Hello = 1,
  Sync = 2,
  Changes = 3,
  Ack = 4,
  AntiEntropy = 5,
  /* 6 was RESET in protocol 1 */
  Denied = 7,
  Grant = 8,
  Presence = 9,
  /** Cluster news for a relay's clients (relay list, replication counts): JSON, see cluster-news.ts. */
  Cluster = 10,
  /** One log entry, compact (decodes as Changes). */
  Live = 11,
  Need = 12,
  /** A LIVE frame whose sender cleared the connection's string table first. */
  LiveCleared = 13,
  /** A relay's signed statement of the own dots it delivered (attest.ts). */
  Attest = 14,
  /** How far the sender's log reaches: frames up to it follow. */
  Top = 15,
  /** Some versions of a key state too large for one frame (key-parts.ts). */
  Part = 16,
  /** The sender's epoch records, after the hellos (epoch-chain.ts). */
  Epochs = 17,
  /** Keys the sender could not carry on the link, with the dots it left out (lacks.ts). */
  Left = 18,
}

export interface SyncItem {
  space: string;
  /** The cursor the sender holds into the receiver's log: the receiver's epoch and a seq ('' and 0 when none). */
  cursorEpoch: string;
  cursorSeq: number;
  /** The sender's own log top (last seq) and key count in this space, when the item was made. */
  top: number;
  keys: number;
}

export interface Hello {
  type: MsgType.Hello;
  versions: number[];
  replicaId: string;
  epoch: string;
  top: number;
  token: string;
  /** The peer the hello's sync items were made for ('' when none): items made for another peer are ignored. */
  expect: string;
  /** The sender's recent log epochs, oldest first (the last is current): cursors into its log are judged by them. */
  history: EpochEntry[];
  /** What the expected peer delivered to the sender (its highest own dot and the epoch it announced then). */
  seen?: Seen;
  /** The latest attestation the expected peer (a relay) sent the sender: it can check its own signature. */
  attest?: Attestation;
  spaces: SyncItem[];
  /** From protocol 11, a server's hello to a client that announced it: which of the client's epochs it holds (epoch-chain.ts). */
  holds?: number;
}

export interface Sync {
  type: MsgType.Sync;
  spaces: SyncItem[];
}

export type Entry = readonly [key: string, state: KeyState];

/** PART (key-parts.ts) has CHANGES' fields: upTo 0, one entry holding some of the key's versions. */
export interface Changes {
  type: MsgType.Changes;
  space: string;
  upTo: number;
  entries: Entry[];
}

export interface Ack {
  type: MsgType.Ack;
  space: string;
  upTo: number;
}

export interface Top {
  type: MsgType.Top;
  space: string;
  top: number;
}

export type { AeItem } from './ae-codec.js';

export interface AntiEntropy extends AntiEntropyBody {
  type: MsgType.AntiEntropy;
}

export interface Denied {
  type: MsgType.Denied;
  space: string;
  code: string;
  reason: string;
}

export interface Grant {
  type: MsgType.Grant;
  space: string;
  rights: 'read' | 'write';
}

export interface PresenceMsg {
  type: MsgType.Presence;
  space: string;
  /** JSON of a PresencePayload (validated by the presence state, which trusts nothing in it). */
  json: string;
}

export interface ClusterMsg {
  type: MsgType.Cluster;
  /** JSON, validated by its receiver (cluster-news.ts), which trusts nothing in it. */
  json: string;
}

export interface Need {
  type: MsgType.Need;
  space: string;
  /** Keys whose whole state is asked for, each with why: '' a base is not held here, else the type that cannot take deltas here. */
  keys: Array<readonly [key: string, type: string]>;
}

export interface AttestMsg extends Attestation {
  type: MsgType.Attest;
}

export type Part = Omit<Changes, 'type'> & { type: MsgType.Part };
export interface LeftDot { readonly r: string; /** '' untagged */ readonly e: string; readonly n: number }
export interface Left { type: MsgType.Left; space: string; keys: Array<readonly [key: string, dots: readonly LeftDot[]]> }
export type Message = Hello | Sync | Changes | Ack | Top | AntiEntropy | Denied | Grant | PresenceMsg | ClusterMsg | Need | AttestMsg | Part | EpochsMsg | Left;

// ---- limits (fields.ts checks every field) -----------------------------------------------------------

export { MAX_KEY_LENGTH, MAX_PRESENCE_CHARS, MAX_TOKEN_LENGTH };
/**
 * Dot counters beyond this are refused: a replica mints above any counter of its own a context claims
 * (core.ts write), so a forged claim could otherwise push it toward the end of the safe-integer range.
 */
export { MAX_COUNTER };

// ---- frames ------------------------------------------------------------------------------------------

/** How a session encodes: the versions' forms (absent: whole), and the connection's LIVE state (absent: no LIVE frames). */
export interface EncodeContext {
  forms?: ReadonlyMap<StoredVersion, Form>;
  live?: ConnTableOut;
  /** The connection's epochs where both sides speak protocol 11 (epoch-wire.ts); absent: no dot names an epoch. */
  epochs?: EpochLink | undefined;
}

/**
 * `table`: strings both sides already know (the two replica ids, sender's first), seeding the frame's string table.
 * A CHANGES message of one log entry goes as a LIVE frame when `ctx.live` is given and the entry is small enough.
 */
export function encodeMessage(m: Message, table?: readonly string[], ctx: EncodeContext = {}): Uint8Array {
  if (m.type === MsgType.Changes && ctx.live && liveFits(m)) {
    const frame = encodeLive(m, ctx.live, ctx.forms, ctx.epochs); // the same bytes for links alike (live-shared.ts)
    if (frame) return frame;
  }
  return encodeFrame(m, table, ctx);
}

/**
 * A frame other than LIVE. Apart from encodeMessage, which a relay runs for every link of a fan-out: that stays a small
 * function V8 optimizes early (the time to optimize grows with a function's bytecode; this switch was most of it).
 */
function encodeFrame(m: Message, table: readonly string[] | undefined, ctx: EncodeContext): Uint8Array {
  const ep = ctx.epochs ? new EpochOut(ctx.epochs.me, ctx.epochs.reg(), ctx.epochs.told) : undefined;
  const w = new Writer(table);
  w.u8(m.type);
  switch (m.type) {
    case MsgType.Hello:
      writeHello(w, m);
      break;
    case MsgType.Attest:
      writeAttestation(w, m);
      break;
    case MsgType.Epochs:
      writeChain(w, m.records);
      break;
    case MsgType.Sync:
      writeSyncItems(w, m.spaces);
      break;
    case MsgType.Changes:
    case MsgType.Part:
      writeChanges(w, m, ctx.forms, ep);
      break;
    case MsgType.Need:
      writeNeed(w, m);
      break;
    case MsgType.Left:
      writeLeft(w, m);
      break;
    case MsgType.Ack:
      w.str(m.space);
      w.uint(m.upTo);
      break;
    case MsgType.Top:
      w.str(m.space);
      w.uint(m.top);
      break;
    case MsgType.AntiEntropy:
      writeAntiEntropy(w, m, ep);
      break;
    case MsgType.Denied:
      w.str(m.space);
      w.str(m.code);
      w.str(m.reason);
      break;
    case MsgType.Grant:
      w.str(m.space);
      w.u8(m.rights === 'write' ? 1 : 0);
      break;
    case MsgType.Presence:
      w.str(m.space);
      w.str(m.json);
      break;
    case MsgType.Cluster:
      w.str(m.json);
      break;
  }
  ep?.done(m.type === MsgType.Part);
  return w.done();
}

export interface DecodeLimits {
  maxValueBytes: number;
  /** The string table the sender seeded (sender's replica id first); must match `encodeMessage`'s. */
  table?: readonly string[] | undefined;
  /** The connection's LIVE state, for this direction (seeded like `table`); without it a LIVE frame is refused. */
  conn?: ConnTableIn | undefined;
  /** The connection's epochs where both sides speak protocol 11; a frame's chain records are learned once it decoded whole. */
  epochs?: EpochLink | undefined;
}

export function decodeMessage(frame: Uint8Array | string, limits: DecodeLimits): Message {
  if (typeof frame === 'string') throw new ProtocolError('text frames are not part of the protocol');
  const r = new Reader(frame, limits.table);
  const type = r.u8();
  const isLive = type === MsgType.Live || type === MsgType.LiveCleared;
  const live = isLive ? limits.conn?.epochs : undefined;
  // Only frames carrying key states read epochs (not an ACK: a relay reads many per write it fans out).
  const states = isLive || type === MsgType.Changes || type === MsgType.Part || type === MsgType.AntiEntropy;
  const ep = limits.epochs && states ? new EpochIn(limits.epochs.peer, limits.epochs.reg(), live) : undefined;
  const m = isLive
    ? readLive(MsgType.Changes as const, r, connOf(limits), type === MsgType.LiveCleared, limits.maxValueBytes * 4, ep)
    : readBody(r, type, limits, ep);
  if (!r.done()) throw new ProtocolError('trailing bytes after message');
  if (ep) {
    for (const c of ep.chains) {
      const refused = limits.epochs!.learn(c.r, chainRecords(c));
      if (refused) throw new ProtocolError(refused);
    }
    // The frame named a dot of its sender untagged: from the next frame on, the sender's dots imply none (epoch-wire.ts).
    if (ep.turnsPlain && type !== MsgType.Part) limits.epochs!.peer.plain = true;
    live?.settle();
  }
  return m;
}

/** The connection's table a LIVE frame is read through: none before the hellos. */
function connOf(limits: DecodeLimits): NonNullable<DecodeLimits['conn']> {
  if (!limits.conn) throw new ProtocolError('a LIVE frame before the hellos');
  return limits.conn;
}

/**
 * A frame other than LIVE after its type byte. Apart from decodeMessage, which every frame goes through: that stays a
 * small function V8 optimizes early (the time to optimize grows with a function's bytecode; this switch was most of it).
 */
function readBody(r: Reader, type: number, limits: DecodeLimits, ep: EpochIn | undefined): Message {
  switch (type) {
    case MsgType.Hello:
      return readHello(r);
    case MsgType.Attest:
      return { type, ...readAttestation(r) };
    case MsgType.Epochs:
      return { type, records: readChain(r) };
    case MsgType.Sync:
      return { type, spaces: readSyncItems(r) };
    case MsgType.Changes:
    case MsgType.Part: {
      const c = readChanges(r, limits.maxValueBytes * 4, ep);
      if (type === MsgType.Part && (c.upTo !== 0 || c.entries.length !== 1 || c.entries[0]![1].vs.length === 0)) throw new ProtocolError('a PART carries versions of one key');
      if (c.upTo > 0) limits.conn?.upTo.set(c.space, c.upTo);
      return { type, ...c };
    }
    case MsgType.Need:
      return { type, ...readNeed(r) };
    case MsgType.Left:
      return { type, ...readLeft(r) };
    case MsgType.Ack:
      return { type, space: space(r), upTo: r.uint() };
    case MsgType.Top:
      return { type, space: space(r), top: r.uint() };
    case MsgType.AntiEntropy:
      return { type, ...readAntiEntropy(r, ep) };
    case MsgType.Denied:
      return { type, space: space(r), code: r.str(), reason: r.str() };
    case MsgType.Grant: {
      const s = space(r);
      const rights = r.u8();
      if (rights > 1) throw new ProtocolError('invalid rights');
      return { type, space: s, rights: rights === 1 ? 'write' : 'read' };
    }
    case MsgType.Presence: {
      const s = space(r);
      const json = r.str();
      if (json.length > MAX_PRESENCE_CHARS) throw new ProtocolError('presence payload too large');
      return { type, space: s, json };
    }
    case MsgType.Cluster:
      return { type, json: r.str() };
    default:
      throw new ProtocolError(`unknown message type ${type}`);
  }
}
