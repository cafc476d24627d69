/**
 * The storage port. Small on purpose: memory, files and IndexedDB implement it, and one contract suite
 * (test/storage/contract.ts) holds every adapter to the same behaviour.
 *
 * Model: per space, a map key → KeyRecord. A record carries `seq`, the replica sequence number of the key's
 * latest change; ordered by seq, the records of a space *are* its change log (one entry per key, so the
 * log never outgrows the number of keys). Beside them, a few named metadata values (the replica's identity,
 * its sequence, sync cursors).
 *
 * Transactions: `transact(fn)` runs `fn` atomically against the latest committed state, serialized with every
 * other transaction on the same storage (across tabs and processes where the adapter is shared), and
 * resolves only once the transaction is durable. `fn` may await nothing but the `tx` reads (IndexedDB
 * commits a transaction as soon as it waits on anything else) and must not keep `tx` after it returns.
 * If `fn` throws, nothing it wrote is kept.
 */
import type { KeyState } from './dvv.js';

export interface KeyRecord extends KeyState {
  /** Replica sequence number of this key's latest change: its position in the space's change log. */
  readonly seq: number;
  /** xxHash64 (16 hex digits) of the canonical state text: the key's leaf contribution to the Merkle tree. */
  readonly h: string;
  /**
   * The peer this exact state came from, when a join stored precisely what that peer sent: the peer holds
   * it, so it is not streamed back to it (no echo, also after a reconnect). Absent after a local write.
   */
  readonly src?: string;
}

/** Reads inside a transaction may answer at once (memory) or later (IndexedDB, files): always `await` them. */
export type MaybePromise<T> = T | Promise<T>;

export interface StorageTx {
  get(space: string, key: string): MaybePromise<KeyRecord | undefined>;
  /** Stores (replaces) a key's record; its change-log entry moves to `rec.seq`. */
  put(space: string, key: string, rec: KeyRecord): void;
  /** Removes a key outright (tombstone GC). */
  remove(space: string, key: string): void;
  getMeta<T>(name: string): MaybePromise<T | undefined>;
  /**
   * Metadata values are JSON data. `null` removes the name: an adapter may drop it or keep it as null, so a reader
   * takes null and undefined alike for "none" (ours drop it once committed).
   */
  setMeta(name: string, value: unknown): void;
  /**
   * Optional: `getMeta` for a reader that only reads what it is given, in this transaction, and never changes it — the
   * storage may answer with the value it keeps rather than a copy (memory storage: a join per received frame reads its
   * sync cursor). Without it, `getMeta`.
   */
  peekMeta?<T>(name: string): MaybePromise<T | undefined>;
  /**
   * Optional: `setMeta` of a value handed over — the caller keeps no reference to it, nor to anything in it, and nothing
   * changes it after — which the storage may keep as it is rather than a copy (memory storage). Without it, `setMeta`.
   */
  setMetaOwned?(name: string, value: unknown): void;
}

export interface ScanOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys after this one (exclusive), for paging. */
  after?: string;
  limit: number;
}

/** A key's entry in the index: what the Merkle tree and catch-up need without reading values. */
export interface IndexEntry {
  readonly key: string;
  readonly seq: number;
  readonly h: string;
}

export interface StorageAdapter {
  /** Opens (creating when absent). Throws ConcordError 'LOCKED' when another live process holds it. */
  open(): Promise<void>;
  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T>;
  /**
   * Optional: runs `fn` and commits at once when the storage can (nothing else queued, reads that answer at once):
   * `{ value }`, with `durable` when the commit is not durable yet (it resolves once it is, or rejects: then nothing
   * of it was kept); otherwise keeps nothing of the run and returns undefined — the storage may end a run at a read
   * it cannot answer at once (by throwing through `fn`), so `fn` must do nothing but reads before its last read.
   * `fn` must answer synchronously, and is called at most once, before transactNow returns (a local write passes one
   * function for every write: local-write.ts). Memory and file storage implement it, so a write costs no transaction promise.
   */
  transactNow?<T>(fn: (tx: StorageTx) => T): { value: T; durable?: Promise<void> } | undefined;
  /** The committed record of a key (values included). */
  get(space: string, key: string): Promise<KeyRecord | undefined>;
  getMeta<T>(name: string): Promise<T | undefined>;
  /** Records in key order. */
  scan(space: string, options: ScanOptions): Promise<Array<[string, KeyRecord]>>;
  /**
   * The change log: durable records with seq > afterSeq, in seq order, at most `limit` — the log a power loss right now
   * leaves. It stops before the first record that is not durable, and before the seq where a key's durable record sits
   * while a newer record of that key (or its removal) is not durable yet: should power fail, that record comes back at
   * that seq, and a peer's cursor must not have passed it without it (test/sync/crash-moved-key.test.ts).
   */
  readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>>;
  /** Every key of a space with its seq and hash, in no particular order; values are not read. */
  index(space: string): Promise<IndexEntry[]>;
  /** Optional: how many keys of a space have a seq at or below `upTo`, and the highest such seq (what `index` says, cheaper). */
  summary?(space: string, upTo: number): Promise<{ keys: number; lastSeq: number }>;
  /** Names of the spaces that hold at least one key. */
  spaces(): Promise<string[]>;
  close(): Promise<void>;
  /**
   * Optional: called by the adapter when another process or tab committed changes (IndexedDB shared by
   * tabs). The replica re-reads what it caches. The argument is a hint, not a guarantee of delivery. An adapter whose
   * readLog may stop before durable records (a durability lag) hints a space to an instance whose read of it stopped
   * so once the stop lifts, also when the write that lifts it is that instance's own (lib/external.ts reads on from
   * where it stopped only when hinted).
   */
  onExternalChange?(listener: (spaces: string[]) => void): () => void;
  /**
   * Optional: whether another live instance has this storage open right now (browser tabs of one origin).
   * An open then continues the log's epoch instead of starting one (epochs.ts). Without it: never.
   */
  openedElsewhere?(): Promise<boolean>;
  /**
   * Optional: where the data lives, as something a copy of it does not share (the file storage: inode, birth and
   * change time of a file it makes once in its directory, adapters/fs/place.ts). Asked after `open()`. The replica keeps it; an open that finds the storage somewhere else
   * takes it for a copy (a restored backup, or a second copy of a live one) and opens under a new replicaId, as
   * `restored: true` does, so nothing it writes can take a dot its original minted. Without it: never a copy.
   */
  location?(): Promise<string | undefined>;
  /**
   * Optional, the manual way (kept for apps that pick the tab holding the link themselves): this instance
   * competes for the network role from the call on, for as long as the storage is open. Prefer `shared()`,
   * which the replica drives from `connect()`.
   */
  leadership?(): Leadership;
  /**
   * Optional: for storages shared by several live replica instances at once (browser tabs of one origin), what
   * they use to share one network role (lib/sync/tabs.ts speaks its protocol over it). Without it, every
   * instance runs its own links. The replica asks once, after `open()`; the object lives until `close()`.
   */
  shared?(): SharedInstances;
}

export interface Leadership {
  readonly isLeader: boolean;
  onChange(listener: (isLeader: boolean) => void): () => void;
}

/**
 * The network role among instances sharing one storage: at most one live instance holds it (the leader, which
 * runs the links for all); the others hear from it through messages. Browser tabs: Web Locks and
 * BroadcastChannel (adapters/indexeddb/shared.ts). The contract the replica relies on:
 * - Of the instances competing, exactly one holds the role while it lives; it is handed to another competing
 *   instance when the holder stops competing, closes, goes away (a closed tab) or is frozen (the adapter gives
 *   the role up on the environment's freeze signal and competes again on resume).
 * - `takeOver()` hands the role to this instance at once, even from a holder that stopped answering (a tab
 *   whose event loop is stalled); that holder learns it lost the role (`onLeaderChange(false)`) when it runs again.
 * - Messages reach every other live instance, in the order each sender posted them, never the sender; a
 *   message may be lost when its sender or receiver closes. Anything relied on is repeated (tabs.ts).
 */
export interface SharedInstances {
  /** Whether this instance holds the network role now. */
  readonly isLeader: boolean;
  /** Competes for the role (true), or gives it up and stops waiting for it (false). Idempotent. */
  compete(on: boolean): void;
  /** Takes the role from its holder at once (the holder stopped answering); only while competing. */
  takeOver(): void;
  onLeaderChange(listener: (isLeader: boolean) => void): () => void;
  /** Posts a message (JSON-shaped data) to every other live instance; best effort. */
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): () => void;
  /** Optional: the environment became visible again (a tab brought to the front): a moment to check the leader. */
  onVisible?(listener: () => void): () => void;
  /** Optional: this instance is going away (the page unloads): a last chance to say goodbye, best effort. */
  onClosing?(listener: () => void): () => void;
}

/** How many keys of a space have a seq at or below `upTo`, and the highest such seq: `summary` where the adapter has it, else counted from `index`. */
export async function summaryOf(storage: StorageAdapter, space: string, upTo: number): Promise<{ keys: number; lastSeq: number }> {
  if (storage.summary) return storage.summary(space, upTo);
  let keys = 0;
  let lastSeq = 0;
  for (const e of await storage.index(space)) {
    if (e.seq > upTo) continue;
    keys++;
    if (e.seq > lastSeq) lastSeq = e.seq;
  }
  return { keys, lastSeq };
}
