/**
 * `indexedDBStorage(name)`: the storage port over IndexedDB, shared by every tab of the origin.
 *
 * Invariants:
 * - Transactions commit with `{ durability: 'strict' }`: `transact` resolves only once the browser reports
 *   the commit flushed. Group commit (group-commit.ts, tx.ts): callbacks queued while a commit is under way
 *   run together in the next IDB transaction, each still all-or-nothing and in call order, so many writes
 *   in flight share one flush, their first reads are issued together, and each key is written once.
 * - A small group commit (at most 8 keys: sequential writes) while no batch waits goes straight into the per-key
 *   stores, as a fold would store it (tx.ts flush): no fold later, nothing for readers to lay over.
 * - A larger group commit's records are ONE request: a row of `batches` (schema.ts). Folds (fold.ts) move them into the
 *   per-key stores later, from the same queue as the commits: when no transaction has been queued for `foldDelay`
 *   ms, a fold step before the next commit while more than `maxUnfolded` entries wait (so the batches every read
 *   lays over the per-key stores stay bounded), and all of them at `close()` and `fold()`. Until then every read, in
 *   every tab, reads them in its own transaction (overlay.ts): a committed record is visible at once, and a tab
 *   killed before its fold leaves batches that the next reader reads and the next idle instance folds.
 * - Inside an IDB transaction nothing is awaited but IndexedDB requests (the callbacks' contract) and the
 *   batch's own turns.
 * - Readwrite transactions over the same stores are serialized by IndexedDB across tabs, which is what lets
 *   every tab mint sequence numbers (dots) from meta 'seq' without reusing one.
 * - Reads outside `transact` use readonly transactions, which see only committed (durable) data: `readLog`
 *   never returns an entry that is not durable (a batch is committed strictly before anyone can read it).
 * - A `versionchange` closes our connection at once (so an upgrade elsewhere proceeds); a lost connection is
 *   reopened on next use, and an operation that failed because of it is retried once, unless the database reopened
 *   is not the one first opened (the browser deleted it meanwhile: schema.ts MADE_META): then every operation fails
 *   until the storage is closed and opened again.
 */
import { ConcordError } from '../../lib/errors.js';
import type { IndexEntry, KeyRecord, Leadership, ScanOptions, SharedInstances, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { isLostConnection, storageError } from './errors.js';
import { inactiveError, runGroup, type Job } from './group-commit.js';
import { foldStep } from './fold.js';
import { BatchCache } from './overlay.js';
import { listSpaces, readIndex, readKey, readLogRecords, scanRecords } from './reads.js';
import { openDatabase, readMade, readMeta, type Db } from './schema.js';
import { PageLifecycle, SharedTabs } from './shared.js';
import { Hints, OpenInstances, TabLeadership } from './tabs.js';

/** Entries a fold step moves at most (whole batches, at least one): how long a fold holds up the next commit. */
const FOLD_STEP = 2048;
/** Unfolded batches beyond which a fold step runs before the next commit (many small commits: sequential writes). */
const MAX_UNFOLDED_BATCHES = 1024;
/** Bytes of values in unfolded batches beyond which a fold step runs before the next commit: what each tab holds for them. */
const MAX_UNFOLDED_BYTES = 64 * 1024 * 1024;
/** After a failed fold, how long before the next try (ms); commits go on meanwhile. */
const FOLD_RETRY_MS = 1000;

export interface IndexedDBStorageOptions {
  /**
   * The IndexedDB factory (default: the global `indexedDB`), e.g. `new IDBFactory()` from fake-indexeddb.
   * It must be of the same implementation as the global IDBKeyRange/IDBRequest classes (`idb` and the
   * range reads use those): in Node, import 'fake-indexeddb/auto' first.
   */
  indexedDB?: IDBFactory;
  /** Called when opening waits for other connections to the database (older tabs) to close. */
  onBlocked?: () => void;
  /** Most callbacks run in one IDB transaction (default 1000). */
  maxBatch?: number;
  /**
   * Ask the browser for persistent storage at the first open (default true). Chromium decides silently;
   * Firefox asks the user, so an app may prefer to ask later, at a moment the user understands.
   */
  requestPersistence?: boolean;
  /**
   * Committed records wait in batches (one IndexedDB request per group commit) until folded into the per-key stores;
   * a fold step runs before the next commit while more than this many records wait (default 32 768). Reads lay the
   * waiting records over the per-key stores, so this bounds what each tab holds in memory for that.
   */
  maxUnfolded?: number;
  /** Fold once no transaction has been queued for this long (ms, default 20); `Infinity`: only over `maxUnfolded`, at `fold()` and `close()`. */
  foldDelay?: number;
}

export interface IndexedDBStorage extends StorageAdapter {
  /**
   * Whether the browser granted persistent storage (asked once, at the first open, unless
   * `requestPersistence: false`); false where unsupported.
   */
  readonly persisted: Promise<boolean>;
  onExternalChange(listener: (spaces: string[]) => void): () => void;
  leadership(): Leadership;
  shared(): SharedInstances;
  /** Folds every committed batch into the per-key stores now (after the transactions queued before it). */
  fold(): Promise<void>;
}

export class IDBStorage implements IndexedDBStorage {
  private db: Promise<Db> | undefined;
  private closed = true;
  private queue: Job[] = [];
  private running: Promise<void> | undefined;
  private persistAnswer: Promise<boolean> | undefined;
  private readonly hints: Hints;
  private readonly tabLeadership: TabLeadership;
  private readonly lifecycle: PageLifecycle;
  private readonly sharedTabs: SharedTabs;
  private readonly instances: OpenInstances;
  private readonly factory: IDBFactory | undefined;
  private readonly maxBatch: number;
  private readonly maxUnfolded: number;
  private readonly foldDelay: number;
  private readonly cache = new BatchCache();
  private foldTimer: ReturnType<typeof setTimeout> | undefined;
  private foldRetryAt = 0;
  /** The id of the making (schema.ts MADE_META) of the database this instance first connected to since open. */
  private made: Promise<unknown> | undefined;
  /** Set once the database was found deleted under this instance: every operation fails with it until reopened. */
  private gone: ConcordError | undefined;

  constructor(
    readonly name: string,
    private readonly options: IndexedDBStorageOptions = {},
  ) {
    this.factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    this.maxBatch = options.maxBatch ?? 1000;
    this.maxUnfolded = options.maxUnfolded ?? 32_768;
    this.foldDelay = options.foldDelay ?? 20;
    this.hints = new Hints(name);
    this.tabLeadership = new TabLeadership(name);
    this.lifecycle = new PageLifecycle(this.tabLeadership);
    this.sharedTabs = new SharedTabs(name, this.tabLeadership, this.lifecycle);
    this.instances = new OpenInstances(name);
  }

  get persisted(): Promise<boolean> {
    return (this.persistAnswer ??= askPersistence(this.options.requestPersistence ?? true));
  }

  async open(): Promise<void> {
    if (!this.factory) throw new ConcordError('STORAGE_ERROR', 'indexedDBStorage: IndexedDB is not available here (pass { indexedDB } to inject one)');
    void this.persisted;
    this.closed = false;
    // Opened anew: whatever database the name holds now is this instance's.
    this.gone = undefined;
    this.made = undefined;
    try {
      await this.connection();
    } catch (e) {
      this.closed = true;
      throw storageError(e, 'opening the database');
    }
    this.hints.start();
    this.hints.watch(
      () => this.getMeta<number>('seq'),
      () => this.spaces(),
    );
    this.sharedTabs.start();
    this.lifecycle.start();
    await this.instances.start();
    this.tabLeadership.setOpen(true);
    // Batches an instance left unfolded (closed abruptly) are folded once this one is idle, after a read or commit
    // found them (scheduleFold).
  }

  async openedElsewhere(): Promise<boolean> {
    return this.instances.elsewhere;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.running) await this.running;
    clearTimeout(this.foldTimer);
    this.foldTimer = undefined;
    // Leave the database folded where we can; what is left is read and folded by the next instance.
    await this.fold().catch(() => {});
    while (this.running) await this.running;
    clearTimeout(this.foldTimer);
    this.closed = true;
    this.hints.stop();
    this.sharedTabs.stop();
    this.lifecycle.stop();
    this.instances.stop();
    this.tabLeadership.setOpen(false);
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  onExternalChange(listener: (spaces: string[]) => void): () => void {
    return this.hints.on(listener);
  }

  /** The manual way: this instance competes for the network role from now on, while open (lib/storage.ts). */
  leadership(): Leadership {
    this.tabLeadership.want('manual', true);
    return this.tabLeadership;
  }

  /** The network role shared with the other tabs, driven by the replica's links (adapters/indexeddb/shared.ts). */
  shared(): SharedInstances {
    return this.sharedTabs;
  }

  // ---- transactions (group commit) ----

  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(closedError());
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    if (this.queue.length === 0) return this.scheduleFold();
    const b = this.cache.backlog;
    const foldFirst = b !== undefined && (b.entries > this.maxUnfolded || b.batches > MAX_UNFOLDED_BATCHES || b.bytes > MAX_UNFOLDED_BYTES) && Date.now() >= this.foldRetryAt;
    this.running = (foldFirst ? this.runFold() : this.runBatch()).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  // ---- folds ----

  async fold(): Promise<void> {
    if (this.closed) throw closedError();
    for (;;) {
      while (this.running) await this.running;
      let folded = 0;
      let error: unknown;
      const step = this.connection().then((db) => foldStep(db, this.cache, FOLD_STEP));
      this.running = step.then(
        (n) => void (folded = n),
        (e: unknown) => void (error = e),
      );
      await this.running;
      this.running = undefined;
      if (error !== undefined) {
        if (isLostConnection(error)) this.dropConnection();
        this.foldRetryAt = Date.now() + FOLD_RETRY_MS;
        // Transactions queued behind the failed step go on (else they would wait for the next call).
        this.pump();
        throw storageError(error, 'folding committed batches');
      }
      if (folded === 0) return this.pump();
    }
  }

  /** One fold step; a failure leaves the batches where they are (reads still read them) and waits before the next try. */
  private async runFold(): Promise<void> {
    try {
      await foldStep(await this.connection(), this.cache, FOLD_STEP);
    } catch (e) {
      if (isLostConnection(e)) this.dropConnection();
      this.foldRetryAt = Date.now() + FOLD_RETRY_MS;
    }
  }

  /** Folds once idle for `foldDelay` ms, while batches wait (as last loaded). */
  private scheduleFold(): void {
    if (this.closed || this.foldTimer !== undefined || this.foldDelay === Infinity) return;
    // Not loaded yet (just opened): the first read or commit that loads the batches tells, and schedules then. A fold
    // on spec would be a readwrite transaction that every read queued after it waits for (S6: opening).
    const b = this.cache.backlog;
    if (b === undefined || b.batches === 0) return;
    const timer = setTimeout(() => {
      this.foldTimer = undefined;
      if (this.closed || this.running || this.queue.length > 0) return;
      this.running = this.runFold().finally(() => {
        this.running = undefined;
        this.pump();
      });
    }, Math.max(this.foldDelay, this.foldRetryAt - Date.now()));
    (timer as { unref?: () => void }).unref?.();
    this.foldTimer = timer;
  }

  /** The next batch: up to maxBatch jobs, or one job alone if it is marked so. */
  private takeBatch(): Job[] {
    if (this.queue[0]?.solo) return this.queue.splice(0, 1);
    let n = 0;
    while (n < this.queue.length && n < this.maxBatch && !this.queue[n]!.solo) n++;
    return this.queue.splice(0, n);
  }

  private async runBatch(): Promise<void> {
    const db = await this.connection().catch((e) => e as Error);
    const jobs = this.takeBatch();
    if (db instanceof Error) {
      for (const job of jobs) job.reject(storageError(db, 'opening the database'));
      return;
    }
    let attempt = await runGroup(db, jobs, this.cache);
    if (attempt.kind === 'lost') {
      this.dropConnection();
      const again = await this.connection().catch((e) => e as Error);
      attempt = again instanceof Error ? { kind: 'failed', error: again } : await runGroup(again, jobs, this.cache);
    }
    if (attempt.kind === 'inactive') {
      // A callback let the transaction end (it awaited something other than a tx read). Nothing was
      // written; run each job alone so only the culprit fails.
      if (jobs.length === 1) jobs[0]!.reject(inactiveError(attempt.error));
      else this.queue.unshift(...jobs.map((job) => ({ ...job, solo: true })));
      return;
    }
    if (attempt.kind !== 'done') {
      for (const job of jobs) job.reject(storageError(attempt.error, 'committing a transaction'));
      return;
    }
    attempt.outcomes.forEach((o, i) => (o.ok ? jobs[i]!.resolve(o.value) : jobs[i]!.reject(o.error)));
    if (attempt.spaces.length > 0) this.hints.post(attempt.spaces);
  }

  // ---- reads ----

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    return this.read('reading a key', (db) => readKey(db, this.cache, space, key));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return this.read('reading metadata', async (db) => (await readMeta(db, name)) as T | undefined);
  }

  scan(space: string, options: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    return this.read('scanning', (db) => scanRecords(db, this.cache, space, options));
  }

  readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    return this.read('reading the change log', (db) => readLogRecords(db, this.cache, space, afterSeq, limit));
  }

  index(space: string): Promise<IndexEntry[]> {
    return this.read('reading the index', (db) => readIndex(db, this.cache, space));
  }

  spaces(): Promise<string[]> {
    return this.read('listing spaces', (db) => listSpaces(db, this.cache));
  }

  /** A read in its own readonly transaction, retried once on a fresh connection if the old one was lost. */
  private async read<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    try {
      const out = await fn(await this.connection());
      // Batches another tab left (closed before folding) are folded here once idle.
      if (!this.running && this.queue.length === 0) this.scheduleFold();
      return out;
    } catch (e) {
      if (!isLostConnection(e) || this.closed) throw storageError(e, what);
      this.dropConnection();
      try {
        return await fn(await this.connection());
      } catch (again) {
        throw storageError(again, what);
      }
    }
  }

  // ---- connection ----

  private connection(): Promise<Db> {
    if (this.closed) return Promise.reject(closedError());
    if (this.gone) return Promise.reject(this.gone);
    if (!this.db) {
      // A new connection: the database may have been deleted and made again since (batch ids start over).
      this.cache.clear();
      const opened = openDatabase(this.factory!, this.name, {
        onVersionChange: () => this.closeConnection(db),
        onTerminated: () => this.forget(db),
        ...(this.options.onBlocked ? { onBlocked: this.options.onBlocked } : {}),
      });
      const made = this.made;
      // The first connection's making, read without holding the open up; a later one must be of the same making.
      if (made === undefined) (this.made = opened.then(readMade)).catch(() => {});
      const db = made === undefined ? opened : opened.then((d) => this.sameMaking(d, made));
      db.catch(() => this.forget(db));
      this.db = db;
    }
    return this.db;
  }

  /**
   * A connection opened again after ours was lost: when the database is not the one first opened (the browser deleted
   * it, and this open or another tab's made it anew), what this instance stored is gone, so is the sequence its dots
   * were minted from. It must not go on (minting those dots again, acknowledging writes as if the old records were
   * there): every operation fails from now on; the replica opened again is one restored from nothing (a new replicaId).
   */
  private async sameMaking(db: Db, made: Promise<unknown>): Promise<Db> {
    const [was, now] = await Promise.all([made.catch(() => MADE_UNKNOWN), readMade(db)]);
    if (was === MADE_UNKNOWN) this.made = Promise.resolve(now);
    else if (was !== now) {
      db.close();
      this.gone ??= new ConcordError('STORAGE_ERROR', `IndexedDB: the database "${this.name}" was deleted while open (by the browser under storage pressure, by clearing site data, or by another tab): what this instance stored is gone. Close the replica and open it again: it starts as a new replica.`);
      throw this.gone;
    }
    return db;
  }

  /** Another connection asks for an upgrade or deletion: step aside; the next operation reopens. */
  private closeConnection(db: Promise<Db>): void {
    this.forget(db);
    void db.then((d) => d.close(), () => {});
  }

  private forget(db: Promise<Db>): void {
    if (this.db === db) this.db = undefined;
  }

  private dropConnection(): void {
    const db = this.db;
    if (db) this.closeConnection(db);
  }
}

/** The first connection's making could not be read (its connection was lost at once): the next one's is taken. */
const MADE_UNKNOWN = Symbol('made unknown');

function closedError(): ConcordError {
  return new ConcordError('CLOSED', 'storage is closed');
}

async function askPersistence(ask: boolean): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.persist !== 'function') return false;
  try {
    if (typeof storage.persisted === 'function' && (await storage.persisted())) return true;
    return ask ? await storage.persist() : false;
  } catch {
    return false;
  }
}

