/**
 * What an anti-entropy run (repair.ts) needs of its session's space: the peer, the index, the records, sending, and
 * where the run's end is told (space-sync.ts makes it).
 */
import type { AntiEntropyRun } from '../core.js';
import type { KeyState } from '../dvv.js';
import type { EpochRegistry } from '../epoch-points.js';
import type { KeyRecord } from '../storage.js';
import type { SketchCredit } from './fast-path.js';
import type { MerkleTree } from './merkle.js';
import type { AntiEntropy, Entry } from './messages.js';

export interface RepairPort {
  readonly closed: boolean;
  readonly peerId: string;
  readonly frameBudget: number;
  /** Whether we may offer our states (a client the relay made read-only does not). */
  readonly offersStates: boolean;
  /** Whether the peer speaks the fast path's items (protocol 7, fast-path.ts). */
  readonly sketches: boolean;
  /** Whether the peer reads compact items (protocol 8): 24-bit node hashes, packed sketch cells. */
  readonly compact: boolean;
  /** Whether the peer takes states naming epochs (protocol 11): else such a key goes as a claim (old-peers.ts), never whole. */
  readonly carriesEpochs: boolean;
  /** Whether our hello announced this protocol version: an item of a later one is refused, as its release would. */
  reads(version: number): boolean;
  /** Sketch wherever one fits a frame, not only where it is the smaller answer (the simulator's small spaces). */
  readonly sketchAlways: boolean;
  /** The replica's ancestry of epochs (epoch-points.ts), to judge states naming them; none known when absent. */
  readonly epochs?: EpochRegistry;
  /** The space's tree of durable records; `unsettled`: keys not in it yet, their newest record not durable (hub.ts). */
  index(): Promise<{ tree: MerkleTree; lastSeq: number; sketch?: SketchCredit; unsettled?: ReadonlySet<string> }>;
  /** The replica's clock (ms): refills the sketch credit. */
  now(): number;
  /** Lets other work run (a timer of the session's): a large sketch is built in slices. */
  pause?: () => Promise<void>;
  get(key: string): Promise<KeyRecord | undefined>;
  /** Resolves once our log is durable up to `seq` (or the replica closed): core.ts `whenDurable`. */
  durableTo(seq: number): Promise<void>;
  random(): number;
  /** The peer holds (at least) this state of the key, as dots: our states for it go with held forms (peer-model.ts). */
  observe(key: string, dots: KeyState): void;
  /** The peer's claim of a key supersedes versions of ours though neither state crosses: its context joins ours (fit-state.ts claimedContext). */
  superseded?(key: string, mine: KeyState, claim: KeyState): unknown;
  /** Keys to ask the peer for though our states cover theirs (keys left out on the link: peer-model.ts asking). */
  asking?(): string[];
  send(m: AntiEntropy): void;
  /** Sends repair states (CHANGES, upTo 0) once the window and the transport have room; `top`: their records' highest seq. */
  sendRepair(entries: Entry[], bytes: number, top: number): Promise<void>;
  fail(e: unknown): void;
  /**
   * The run ended (both sides); `peerTop`/`myTop` are the logs' tops when it started. `confirmed`: the run left nothing
   * of ours at or below `myTop` to the stream (the peer got all of it); `leftOut`: the keys it left out (repair.ts `skipped`).
   */
  ended(run: AntiEntropyRun, info: RunEnd): Promise<void>;
}

/** What a run's end tells its space (RepairPort `ended`). */
export interface RunEnd {
  establishing: boolean;
  myTop: number;
  peerTop: number;
  confirmed: boolean;
  leftOut?: ReadonlySet<string>;
}

export interface RunStats {
  turns: number;
  bytes: number;
  keysSent: number;
  keysReceived: number;
  keysRepaired: number;
}
