/**
 * `indexedDBStorage(name)`: the storage port over IndexedDB, shared by every tab of the origin.
 *
 * Invariants:
 * - Transactions commit with `{ durability: 'strict' }`: `transact` resolves only once the browser reports
 *   the commit flushed. Group commit (group-commit.ts, tx.ts): callbacks queued while a commit is under way
 *   run together in the next IDB transaction, each still all-or-nothing and in call order, so many writes
 *   in flight share one flush, their first reads are issued together, and each key is written once.
 * - Inside an IDB transaction nothing is awaited but IndexedDB requests (the callbacks' contract) and the
 *   batch's own turns.
 * - Readwrite transactions over the same stores are serialized by IndexedDB across tabs, which is what lets
 *   every tab mint sequence numbers (dots) from meta 'seq' without reusing one.
 * - Reads outside `transact` use readonly transactions, which see only committed (durable) data: `readLog`
 *   never returns an entry that is not durable.
 * - A `versionchange` closes our connection at once (so an upgrade elsewhere proceeds); a lost connection is
 *   reopened on next use, and an operation that failed because of it is retried once.
 */
import { ConcordError } from '../../lib/errors.js';
import type { IndexEntry, KeyRecord, Leadership, ScanOptions, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { isLostConnection, storageError } from './errors.js';
import { inactiveError, runGroup, type Job } from './group-commit.js';
import { listSpaces, readIndex, readLogRecords, scanRecords } from './reads.js';
import { openDatabase, RECORD_STORES, type Db } from './schema.js';
import { Hints, OpenInstances, TabLeadership } from './tabs.js';
import { readRecord } from './tx.js';

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
}

export interface IndexedDBStorage extends StorageAdapter {
  /**
   * Whether the browser granted persistent storage (asked once, at the first open, unless
   * `requestPersistence: false`); false where unsupported.
   */
  readonly persisted: Promise<boolean>;
  onExternalChange(listener: (spaces: string[]) => void): () => void;
  leadership(): Leadership;
}

export class IDBStorage implements IndexedDBStorage {
  private db: Promise<Db> | undefined;
  private closed = true;
  private queue: Job[] = [];
  private running: Promise<void> | undefined;
  private persistAnswer: Promise<boolean> | undefined;
  private readonly hints: Hints;
  private readonly tabLeadership: TabLeadership;
  private readonly instances: OpenInstances;
  private readonly factory: IDBFactory | undefined;
  private readonly maxBatch: number;

  constructor(
    readonly name: string,
    private readonly options: IndexedDBStorageOptions = {},
  ) {
    this.factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    this.maxBatch = options.maxBatch ?? 1000;
    this.hints = new Hints(name);
    this.tabLeadership = new TabLeadership(name);
    this.instances = new OpenInstances(name);
  }

  get persisted(): Promise<boolean> {
    return (this.persistAnswer ??= askPersistence(this.options.requestPersistence ?? true));
  }

  async open(): Promise<void> {
    if (!this.factory) throw new ConcordError('STORAGE_ERROR', 'indexedDBStorage: IndexedDB is not available here (pass { indexedDB } to inject one)');
    void this.persisted;
    this.closed = false;
    try {
      await this.connection();
    } catch (e) {
      this.closed = true;
      throw storageError(e, 'opening the database');
    }
    this.hints.start();
    await this.instances.start();
    this.tabLeadership.resume();
  }

  async openedElsewhere(): Promise<boolean> {
    return this.instances.elsewhere;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.running) await this.running;
    this.closed = true;
    this.hints.stop();
    this.instances.stop();
    this.tabLeadership.stop();
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  onExternalChange(listener: (spaces: string[]) => void): () => void {
    return this.hints.on(listener);
  }

  leadership(): Leadership {
    if (this.closed) this.tabLeadership.want();
    else this.tabLeadership.start();
    return this.tabLeadership;
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
    if (this.running || this.queue.length === 0) return;
    this.running = this.runBatch().finally(() => {
      this.running = undefined;
      this.pump();
    });
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
    let attempt = await runGroup(db, jobs);
    if (attempt.kind === 'lost') {
      this.dropConnection();
      const again = await this.connection().catch((e) => e as Error);
      attempt = again instanceof Error ? { kind: 'failed', error: again } : await runGroup(again, jobs);
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
    return this.read('reading a key', (db) => readRecord(db.transaction([...RECORD_STORES], 'readonly'), space, key));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return this.read('reading metadata', async (db) => (await db.get('meta', name)) as T | undefined);
  }

  scan(space: string, options: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    return this.read('scanning', (db) => scanRecords(db, space, options));
  }

  readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    return this.read('reading the change log', (db) => readLogRecords(db, space, afterSeq, limit));
  }

  index(space: string): Promise<IndexEntry[]> {
    return this.read('reading the index', (db) => readIndex(db, space));
  }

  spaces(): Promise<string[]> {
    return this.read('listing spaces', (db) => listSpaces(db));
  }

  /** A read in its own readonly transaction, retried once on a fresh connection if the old one was lost. */
  private async read<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    try {
      return await fn(await this.connection());
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
    if (!this.db) {
      const db = openDatabase(this.factory!, this.name, {
        onVersionChange: () => this.closeConnection(db),
        onTerminated: () => this.forget(db),
        ...(this.options.onBlocked ? { onBlocked: this.options.onBlocked } : {}),
      });
      db.catch(() => this.forget(db));
      this.db = db;
    }
    return this.db;
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

