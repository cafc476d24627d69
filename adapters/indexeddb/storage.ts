/**
 * `indexedDBStorage(name)`: the storage port over IndexedDB, shared by every tab of the origin.
 *
 * Invariants:
 * - Transactions commit with `{ durability: 'strict' }`: `transact` resolves only once the browser reports
 *   the commit flushed. Group commit: callbacks queued while a commit is under way run together in the next
 *   IDB transaction (each still all-or-nothing, see tx.ts), so many writes in flight cost one flush.
 * - Inside an IDB transaction nothing but IndexedDB requests is awaited (the callbacks' contract).
 * - Readwrite transactions over the same stores are serialized by IndexedDB across tabs, which is what lets
 *   every tab mint sequence numbers (dots) from meta 'seq' without reusing one.
 * - Reads outside `transact` use readonly transactions, which see only committed (durable) data: `readLog`
 *   never returns an entry that is not durable.
 * - A `versionchange` closes our connection at once (so an upgrade elsewhere proceeds); a lost connection is
 *   reopened on next use, and an operation that failed because of it is retried once.
 */
import { ConcordError } from '../../lib/errors.js';
import type { IndexEntry, KeyRecord, Leadership, ScanOptions, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { isLostConnection, LostConnection, storageError } from './errors.js';
import { AFTER_ALL_KEYS, openDatabase, prefixEnd, RECORD_STORES, STORES, type Db } from './schema.js';
import { Hints, TabLeadership } from './tabs.js';
import { Batch, BatchTx, readRecord, type WriteTx } from './tx.js';

export interface IndexedDBStorageOptions {
  /** The IndexedDB factory (default: the global `indexedDB`); e.g. `new IDBFactory()` from fake-indexeddb. */
  indexedDB?: IDBFactory;
  /** Called when opening waits for other connections to the database (older tabs) to close. */
  onBlocked?: () => void;
  /** Most callbacks run in one IDB transaction (default 1000). */
  maxBatch?: number;
}

export interface IndexedDBStorage extends StorageAdapter {
  /** Whether the browser granted persistent storage (asked once, at the first open); false where unsupported. */
  readonly persisted: Promise<boolean>;
  onExternalChange(listener: (spaces: string[]) => void): () => void;
  leadership(): Leadership;
}

interface Job {
  fn: (tx: StorageTx) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Runs in a transaction of its own (after a batch ended early, to single out the culprit). */
  solo?: boolean;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class IDBStorage implements IndexedDBStorage {
  private db: Promise<Db> | undefined;
  private closed = true;
  private queue: Job[] = [];
  private running: Promise<void> | undefined;
  private persistAnswer: Promise<boolean> | undefined;
  private readonly hints: Hints;
  private readonly tabLeadership: TabLeadership;
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
  }

  get persisted(): Promise<boolean> {
    return (this.persistAnswer ??= askPersistence());
  }

  async open(): Promise<void> {
    if (!this.factory) throw new ConcordError('STORAGE_ERROR', 'indexedDBStorage: IndexedDB is not available here (pass { indexedDB } to inject one)');
    void this.persisted;
    this.closed = false;
    await this.connection();
    this.hints.start();
    this.tabLeadership.resume();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.running) await this.running;
    this.closed = true;
    this.hints.stop();
    this.tabLeadership.stop();
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  onExternalChange(listener: (spaces: string[]) => void): () => void {
    return this.hints.on(listener);
  }

  leadership(): Leadership {
    if (!this.closed) this.tabLeadership.start();
    else this.tabLeadership.resume();
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
    let attempt = await this.commit(db, jobs);
    if (attempt.kind === 'lost') {
      this.dropConnection();
      const again = await this.connection().catch((e) => e as Error);
      attempt = again instanceof Error ? { kind: 'failed', error: again } : await this.commit(again, jobs);
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

  /** Runs the jobs' callbacks as one readwrite transaction (see tx.ts) and waits for its durable commit. */
  private async commit(db: Db, jobs: Job[]): Promise<{ kind: 'done'; outcomes: Outcome[]; spaces: string[] } | { kind: 'lost' | 'failed' | 'inactive'; error: unknown }> {
    let tx: WriteTx;
    try {
      tx = db.transaction([...STORES], 'readwrite', { durability: 'strict' });
    } catch (e) {
      return { kind: isLostConnection(e) ? 'lost' : 'failed', error: e };
    }
    const done = tx.done;
    // Committed before our flush: a callback let the transaction end (nothing of the batch was written).
    let endedEarly = false;
    done.then(() => (endedEarly = true), () => {});
    const early = (e: unknown) => isInactive(e) || endedEarly;
    const batch = new Batch(tx);
    const turns = jobs.map(() => deferred());
    const views = jobs.map((_, i) => new BatchTx(batch, turns[i]!.promise));
    // Every callback starts now (its first read is issued at once); each read resolves at its turn.
    const runs = jobs.map((job, i) => settle(() => job.fn(views[i]!)));
    batch.startReads();
    const outcomes: Outcome[] = [];
    let inactive: unknown;
    for (let i = 0; i < jobs.length; i++) {
      turns[i]!.resolve();
      const outcome = await runs[i]!;
      views[i]!.finish();
      if (outcome.ok) batch.absorb(views[i]!.writes, views[i]!.meta);
      else if (early(outcome.error)) inactive ??= outcome.error;
      outcomes.push(outcome);
    }
    let spaces: string[] = [];
    if (inactive === undefined) {
      try {
        spaces = batch.flush();
      } catch (e) {
        if (!early(e)) {
          abort(tx);
          return { kind: 'failed', error: e };
        }
        inactive = e;
      }
    }
    if (inactive === undefined && endedEarly) inactive = new DOMException('transaction ended early', 'TransactionInactiveError');
    if (inactive !== undefined) {
      abort(tx);
      return { kind: 'inactive', error: inactive };
    }
    try {
      await done;
    } catch (e) {
      return { kind: isLostConnection(e) ? 'lost' : 'failed', error: e };
    }
    return { kind: 'done', outcomes, spaces };
  }

  // ---- reads ----

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    return this.read('reading a key', (db) => readRecord(db.transaction([...RECORD_STORES], 'readonly'), space, key));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return this.read('reading metadata', async (db) => (await db.get('meta', name)) as T | undefined);
  }

  async scan(space: string, { prefix = '', after, limit }: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    const end = prefixEnd(prefix);
    const fromAfter = after !== undefined && after >= prefix;
    if (limit <= 0 || (fromAfter && end !== undefined && after >= end)) return [];
    const range = IDBKeyRange.bound(
      [space, fromAfter ? after : prefix],
      end === undefined ? [space, AFTER_ALL_KEYS] : [space, end],
      fromAfter,
      true,
    );
    return this.read('scanning', async (db) => {
      const tx = db.transaction([...RECORD_STORES], 'readonly');
      const [heads, states] = await Promise.all([tx.objectStore('heads').getAll(range, limit), tx.objectStore('states').getAll(range, limit)]);
      return heads.map((head, i): [string, KeyRecord] => [head.k, { ...states[i]!, seq: head.seq, h: head.h }]);
    });
  }

  async readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    if (limit <= 0) return [];
    const range = IDBKeyRange.bound([space, afterSeq], [space, Infinity], true, false);
    return this.read('reading the change log', async (db) => {
      const tx = db.transaction([...RECORD_STORES], 'readonly');
      const heads = await tx.objectStore('heads').index('log').getAll(range, limit);
      const store = tx.objectStore('states');
      const states = await Promise.all(heads.map((head) => store.get([space, head.k])));
      return heads.map((head, i): [string, KeyRecord] => [head.k, { ...states[i]!, seq: head.seq, h: head.h }]);
    });
  }

  async index(space: string): Promise<IndexEntry[]> {
    const range = IDBKeyRange.bound([space], [space, AFTER_ALL_KEYS]);
    return this.read('reading the index', async (db) => {
      const heads = await db.getAll('heads', range);
      return heads.map((head) => ({ key: head.k, seq: head.seq, h: head.h }));
    });
  }

  async spaces(): Promise<string[]> {
    return this.read('listing spaces', async (db) => {
      const out: string[] = [];
      let cursor = await db.transaction('heads', 'readonly').store.openKeyCursor();
      while (cursor) {
        const space = cursor.key[0];
        out.push(space);
        cursor = await cursor.continue([space, AFTER_ALL_KEYS] as unknown as [string, string]);
      }
      return out;
    });
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

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function settle(fn: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function abort(tx: WriteTx): void {
  try {
    tx.abort();
  } catch {
    // Already finished.
  }
}

function closedError(): ConcordError {
  return new ConcordError('CLOSED', 'storage is closed');
}

function isInactive(e: unknown): boolean {
  return e !== null && typeof e === 'object' && (e as { name?: unknown }).name === 'TransactionInactiveError';
}

function inactiveError(e: unknown): ConcordError {
  return new ConcordError('STORAGE_ERROR', 'the IndexedDB transaction ended early: a transact() callback awaited something other than a tx read', { cause: e });
}

async function askPersistence(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.persist !== 'function') return false;
  try {
    if (typeof storage.persisted === 'function' && (await storage.persisted())) return true;
    return await storage.persist();
  } catch {
    return false;
  }
}

export { LostConnection };
