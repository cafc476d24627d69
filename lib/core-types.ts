/**
 * The replica core's types: what a change stored through it carries, the events it emits, and its options
 * (core.ts re-exports them).
 */
import type { EpochEntry } from './epochs.js';
import type { KeyRecord, StorageAdapter, StorageTx } from './storage.js';
import type { ReplicaStatus } from './types.js';

export interface StoredChange {
  readonly space: string;
  readonly key: string;
  readonly rec: KeyRecord;
  readonly prev: KeyRecord | undefined;
  readonly origin: 'local' | 'remote';
  /** The sync link the change arrived on, if any. */
  readonly source?: object;
  /** Committed by another instance sharing this storage (another tab); seen through the change log. */
  readonly external?: boolean;
  /** Tombstone collection replaced the key's tombstones by their context: nothing changed for readers. */
  readonly collected?: boolean;
}

/** How a join of received states was delivered, and what commits with it (ReplicaCore.join). */
export interface JoinOptions {
  /** The sync link the states arrived on (the changes' `source`). */
  source?: object;
  /** The replica that sent them. */
  peer?: string;
  /** They came straight from the peer's own session, which announced this epoch (and history). */
  delivered?: { epoch: string; history?: readonly EpochEntry[] };
  /** Stores what must commit with the entries (a sync cursor). */
  alsoInTx?: (tx: StorageTx) => void;
  /**
   * A metadata record stored with the entries, made from what the storage holds of it, read in the same transaction (a
   * sync cursor: never back, whichever link of the peer wrote it last — space-sync.ts). `value` only reads `stored`, and
   * hands over what it returns (nothing else holds it nor anything in it): neither is copied where the storage need not
   * (StorageTx peekMeta, setMetaOwned).
   */
  meta?: { readonly name: string; value(stored: unknown): unknown };
}

export interface CoreEvents extends Record<string, unknown> {
  change: StoredChange;
  /** This replica re-identified (its storage was restored from an older copy): sessions speak for the old id. */
  reidentified: { oldId: string; newId: string };
  /**
   * A re-identification starts (no session may send anything of the old id's any more: it may be re-issued), or is
   * over (`over`: its sessions may start again; 'reidentified' follows unless it failed).
   */
  reidentifying: { oldId: string; over?: true };
  /**
   * @internal A transaction of this instance took log seq `seq` and wrote no record under it (identity.ts
   * meetEpochPeer moves the seq so another tab reads the identity), and is durable: no change event comes for that
   * seq. The hub's run of announced seqs (hub.ts) passes over it, so the next change keeps the live fast path.
   */
  skipped: { seq: number };
  error: unknown;
  status: ReplicaStatus;
  /** The number of keys holding a local write no relay or peer acknowledged yet changed (pending.ts). */
  pending: number;
  /** A Merkle anti-entropy run with a peer ended. */
  antiEntropy: AntiEntropyRun;
}

/** What one anti-entropy run took and repaired (either side reports its own view). */
export interface AntiEntropyRun {
  readonly space: string;
  readonly peer: string;
  /** Turns of the run (messages exchanged, counted once per turn even when split over frames). */
  readonly turns: number;
  /** Bytes sent and received for the run (tree hashes, key lists, repaired states). */
  readonly bytes: number;
  /** Key states sent to the peer, and received from it. */
  readonly keysSent: number;
  readonly keysReceived: number;
  /** Received states that changed something here. */
  readonly keysRepaired: number;
  /** Whether the run set up the cursors (on connect) or was a periodic check. */
  readonly onConnect: boolean;
}

export interface CoreOptions {
  storage: StorageAdapter;
  now?: () => number;
  /** Randomness for identifiers and protocol run ids (default: the platform CSPRNG / Math.random); seeded in simulations. */
  random?: () => number;
  /** Remote timestamps more than this far ahead of the wall clock are not adopted by the clock (ms, default 60 000). */
  maxClockDriftMs?: number;
  /** The storage was restored from a copy: open under a new replica id (identity.ts openIdentity). */
  restored?: boolean;
  /**
   * @internal The protocol versions this replica's hellos announce (ReplicaCore.speaks), known at the open: an open that
   * starts an epoch while they include protocol 11 starts tagging dots with epochs (identity.ts Identity.tagged).
   */
  speaks?: readonly number[];
}
