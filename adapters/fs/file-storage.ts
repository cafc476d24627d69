/**
 * `fileStorage(dir)`: the storage port on files, for Node.
 *
 *   dir/LOCK                 one writer per directory (lock.ts)
 *   dir/snap-<gen>.snap      the state at the end of segments < gen (snapshot.ts)
 *   dir/log-<n>.log          segments n ≥ gen: checksummed frames, one per transaction (frame.ts)
 *
 * Invariants:
 * - A transaction is applied to the in-memory index as soon as `fn` returns (the next transaction sees it)
 *   and resolves only after its frame was fsynced (group commit, log-writer.ts). Transactions committed while the
 *   writer is busy share one batch, one frame (batch.ts). `transactNow` runs one at once when nothing is queued
 *   and its reads answer from memory, and hands back the promise of its durability.
 * - `readLog` returns only entries whose batch is durable: it stops at the first one that is not.
 * - A batch that fails to reach the disk is rolled back from the index, with every batch applied after it,
 *   in reverse order, so memory matches disk; transactions that read the rolled-back state fail too.
 * - Values are not held in memory: the index keeps where each record's text is (file, offset, length, CRC)
 *   and reads it with a positioned read when asked; pending records, and a small cache, stay in memory.
 * - Compaction runs in the background: the writer starts a new segment at a group boundary, the state as of
 *   that boundary (the index minus the batches still queued) is written as a snapshot while writes continue
 *   in the new segment, then the index is pointed at the snapshot and the older files are deleted.
 */
import { ConcordError } from '../../lib/errors.js';
import type { IndexEntry, KeyRecord, ScanOptions, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { DataFile } from './data-file.js';
import { repoint, stateWithout, toSnapshotView, wholeRecords } from './compaction.js';
import { PendingBatch } from './batch.js';
import { change, encodeChange } from './frame.js';
import { ioError } from './io-errors.js';
import { nodeIo, type Io } from './io.js';
import { Entry, Keyspace } from './keyspace.js';
import { acquireLock, type DirLock } from './lock.js';
import { LogWriter, type Segment } from './log-writer.js';
import { readRecordWith } from './record.js';
import { recover } from './recovery.js';
import { segName, snapName, writeSnapshot } from './snapshot.js';
import { cloneJson, FileTx, NOT_NOW } from './tx.js';

export interface FileStorageOptions {
  /** Compact once the log since the last snapshot exceeds this many bytes… (default 8 MiB) */
  compactMinBytes?: number;
  /** …and this multiple of the live data (default 2)… */
  compactRatio?: number;
  /** …or more frames (transactions) than this and than a quarter of the keys (default 10 000): replaying
   * many small frames at open costs more than loading a snapshot. */
  compactMinFrames?: number;
  /** Records kept in memory after they were written or read (default 1024). */
  cacheRecords?: number;
  /**
   * Compact at close when the log outweighs the live data (and is over 64 KiB) and the live data is at most
   * 64 MiB (default true): a closed small store holds about its data once.
   */
  compactOnClose?: boolean;
  /** File-system operations; tests wrap the default to inject faults. */
  io?: Io;
  /** Failures of background work (compaction). Default: a process warning. */
  onError?: (error: unknown) => void;
}

type State = 'closed' | 'opening' | 'open' | 'closing';

export class FileStorage implements StorageAdapter {
  private readonly io: Io;
  private state: State = 'closed';
  private ks = new Keyspace();
  private writer: LogWriter<PendingBatch> | undefined;
  private lock: DirLock | undefined;
  private snapshot: DataFile | undefined;
  /** Segments not yet covered by a snapshot, oldest first; the last one is being appended to. */
  private segments: Segment[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private nextBatch = 1;
  private chained = 0;
  private durableBatch = 0;
  private lastBatch: PendingBatch | undefined;
  /** The batch transactions are appended to while the writer has not taken it yet. */
  private openBatch: PendingBatch | undefined;
  /** Transactions handed to `transact` whose function has not finished yet. */
  private queued = 0;
  private failEpoch = 0;
  private compaction: Promise<void> | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  /** After a failed compaction: log size below which none is tried again. */
  private retryCompactionAt = 0;
  private readonly cache = new Set<Entry>();
  private readonly compactOnClose: boolean;
  private readonly compactMinBytes: number;
  private readonly compactRatio: number;
  private readonly compactMinFrames: number;
  private readonly cacheRecords: number;
  private readonly onError: (error: unknown) => void;

  constructor(
    readonly dir: string,
    options: FileStorageOptions = {},
  ) {
    this.io = options.io ?? nodeIo;
    this.compactOnClose = options.compactOnClose ?? true;
    this.compactMinBytes = options.compactMinBytes ?? 8 << 20;
    this.compactRatio = options.compactRatio ?? 2;
    this.compactMinFrames = options.compactMinFrames ?? 10_000;
    this.cacheRecords = options.cacheRecords ?? 1024;
    this.onError = options.onError ?? ((e) => process.emitWarning(`concord/fs: ${e instanceof Error ? e.message : String(e)}`));
  }

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'closed') throw new ConcordError('STORAGE_ERROR', `file storage ${this.dir} is ${this.state}`);
    this.state = 'opening';
    try {
      try {
        await this.io.mkdir(this.dir);
      } catch (e) {
        throw ioError(e, `creating ${this.dir}`);
      }
      this.lock = await acquireLock(this.io, this.dir);
      this.ks = new Keyspace();
      this.cache.clear();
      const r = await recover(this.io, this.dir, this.ks);
      this.snapshot = r.snapshot;
      this.segments = r.segments;
      if (!this.segments.length) {
        const num = Math.max(r.gen, 1);
        try {
          const file = await this.io.open(`${this.dir}/${segName(num)}`, 'wx+');
          this.segments.push({ num, data: new DataFile(segName(num), file), size: 0, frames: 0 });
          await this.io.syncDir(this.dir);
        } catch (e) {
          throw ioError(e, `creating ${segName(num)}`);
        }
      }
      this.writer = new LogWriter<PendingBatch>(this.io, this.dir, this.segments[this.segments.length - 1]!, r.lastGroup + 1, {
        durable: (group) => this.onDurable(group),
        failed: (batches, error) => this.onFailed(batches, error),
      });
      this.nextBatch = 1;
      this.durableBatch = 0;
      this.lastBatch = undefined;
      this.openBatch = undefined;
      this.state = 'open';
      // A long log replayed at this open is compacted soon (not at once: the first reads come first).
      this.openTimer = setTimeout(() => this.maybeCompact(), 1000);
      this.openTimer.unref?.();
    } catch (e) {
      await this.releaseFiles();
      this.state = 'closed';
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    clearTimeout(this.openTimer);
    await this.tail;
    await this.writer?.drain();
    // A compaction under way is let finish: the next open then loads its snapshot, not a long log.
    await this.compaction;
    // A small store whose log outweighs its data is left compact (a snapshot of at most CLOSE_COMPACT_MAX_LIVE bytes:
    // a bounded cost at close); a larger one compacts in the background while open, as always.
    if (this.compactOnClose && this.writer && !this.writer.isBroken) {
      const live = this.ks.liveBytes();
      if (live <= CLOSE_COMPACT_MAX_LIVE && this.logBytes() > Math.max(CLOSE_COMPACT_MIN_LOG, live)) await this.compact().catch((e: unknown) => this.onError(e));
    }
    await this.releaseFiles();
    this.state = 'closed';
  }

  private async releaseFiles(): Promise<void> {
    await this.snapshot?.close();
    for (const s of this.segments) await s.data.close();
    this.snapshot = undefined;
    this.segments = [];
    this.writer = undefined;
    this.cache.clear();
    await this.lock?.release();
    this.lock = undefined;
  }

  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    if (this.state !== 'open') return Promise.reject(closedError());
    this.queued++;
    const run = async (): Promise<{ result: T; durable: Promise<void> | undefined }> => {
      try {
        const broken = this.writer?.isBroken;
        if (broken) throw broken;
        const epoch = this.failEpoch;
        const tx = new FileTx(this);
        const result = await fn(tx);
        tx.closed = true;
        if (this.failEpoch !== epoch) {
          throw new ConcordError('STORAGE_ERROR', 'an earlier write failed and was rolled back while this transaction ran; nothing of it was kept (retry it)');
        }
        return { result, durable: this.finish(tx) };
      } finally {
        this.queued--;
      }
    };
    const p = this.tail.then(run, run);
    // Every so many transactions, let I/O callbacks in (a finished fsync resolves its group and frees it)
    // rather than applying an unbounded backlog in one macrotask.
    this.tail = ++this.chained % YIELD_EVERY === 0 ? p.then(nextMacrotask, nextMacrotask) : p.then(noop, noop);
    return p.then(({ result, durable }) => (durable ? durable.then(() => result) : result));
  }

  /**
   * Runs `fn` at once where it can: the storage is open, no transaction is queued, and every record `fn` reads is in
   * memory (the index holds each key's place, pending and recent records their values). Otherwise nothing is kept of
   * the run (a read that would go to disk ends it before `fn` writes anything) and it answers undefined. The
   * transaction is applied like any other; `durable` resolves once its frame was fsynced (undefined when nothing was
   * pending).
   */
  transactNow<T>(fn: (tx: StorageTx) => T): { value: T; durable?: Promise<void> } | undefined {
    if (this.state !== 'open' || this.queued > 0 || !this.writer || this.writer.isBroken) return undefined;
    const tx = new FileTx(this, true);
    let value: T;
    try {
      value = fn(tx);
    } catch (e) {
      if (e === NOT_NOW) return undefined;
      throw e;
    } finally {
      tx.closed = true;
    }
    if (value instanceof Promise) throw new ConcordError('STORAGE_ERROR', 'transactNow: the transaction answered with a promise');
    const durable = this.finish(tx);
    return durable ? { value, durable } : { value };
  }

  /** Commits a finished transaction; returns what resolves once it is durable (undefined: nothing is pending). */
  private finish(tx: FileTx): Promise<void> | undefined {
    if (!tx.isEmpty) return this.commit(tx).done;
    const last = this.lastBatch;
    return last && last.id > this.durableBatch ? last.done : undefined;
  }

  /**
   * Encodes the transaction's records (throwing before anything is applied when one cannot be), applies them to the
   * index (keeping what each replaced) and adds them to the open batch, or to a new one queued for the writer.
   */
  private commit(tx: FileTx): PendingBatch {
    const changes = [];
    const before: Array<Entry | undefined> = [];
    for (const [space, writes] of tx.writes) {
      for (const [key, rec] of writes) {
        const c = change(space, key, rec);
        const prev = rec ? this.ks.get(space, key) : undefined;
        if (prev?.rec && chainable(prev)) c.prev = prev.rec;
        encodeChange(c);
        changes.push(c);
        before.push(prev);
      }
    }
    let batch = this.openBatch;
    if (!batch?.open) {
      batch = this.openBatch = new PendingBatch(this.nextBatch++);
      this.writer!.enqueue(batch);
    }
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      const e = c.rec === null ? undefined : new Entry(c.rec.seq, c.rec.h, c.len, c.crc, batch.id, c.rec);
      if (e && c.chained) e.chainTo(before[i]);
      batch.add(c, e, this.ks.space(c.space).swap(c.key, e));
    }
    for (const [name, value] of tx.meta) {
      batch.setMeta(name, value, this.ks.meta.has(name), this.ks.meta.get(name));
      this.ks.meta.set(name, value);
    }
    this.lastBatch = batch;
    return batch;
  }

  private onDurable(group: PendingBatch[]): void {
    for (const b of group) {
      const changes = b.changes;
      for (let i = 0; i < changes.length; i++) {
        const e = b.entries[i];
        if (!e) continue;
        e.file = b.segment;
        e.off = b.payloadAt + changes[i]!.rel;
        this.remember(e);
      }
    }
    this.durableBatch = group[group.length - 1]!.id;
    for (const b of group) b.resolve();
    this.maybeCompact();
  }

  private onFailed(batches: PendingBatch[], error: ConcordError): void {
    for (let i = batches.length - 1; i >= 0; i--) {
      const b = batches[i]!;
      const changes = b.changes;
      for (let j = changes.length - 1; j >= 0; j--) this.ks.space(changes[j]!.space).restore(changes[j]!.key, b.prevs[j]);
      for (let j = (b.metaUndo?.length ?? 0) - 1; j >= 0; j--) {
        const [name, had, prev] = b.metaUndo![j]!;
        if (had) this.ks.meta.set(name, prev);
        else this.ks.meta.delete(name);
      }
    }
    this.failEpoch++;
    if (this.openBatch && batches.includes(this.openBatch)) this.openBatch = undefined;
    for (const b of batches) b.reject(error);
  }

  /** Keeps a record in memory for a while; the oldest durable ones are dropped past the cache size. */
  private remember(e: Entry): void {
    this.cache.delete(e);
    this.cache.add(e);
    while (this.cache.size > this.cacheRecords) {
      const old = this.cache.values().next().value as Entry;
      this.cache.delete(old);
      if (old.file) old.rec = undefined;
    }
  }

  /** The current (applied) record of a key when it is in memory (or absent); NOT_NOW when it is only on disk. */
  currentNow(space: string, key: string): KeyRecord | undefined | typeof NOT_NOW {
    const e = this.ks.get(space, key);
    return e ? (e.rec ?? NOT_NOW) : undefined;
  }

  /** The current (applied) record of a key, read from disk when not in memory. */
  async readCurrent(space: string, key: string): Promise<KeyRecord | undefined> {
    const e = this.ks.get(space, key);
    if (!e) return undefined;
    return this.readEntry(e);
  }

  private async readEntry(e: Entry): Promise<KeyRecord> {
    if (e.rec) return e.rec;
    const file = e.file!;
    const stored = await file.readRecord(e.off, e.len, e.crc);
    // A chained record is read with the key's previous record (deltas and references into it); a damaged or
    // missing one makes this key CORRUPT, and only this key.
    if (e.chained && !e.prev) throw new ConcordError('CORRUPT', `${file.name}: the record at offset ${e.off} refers to a previous record that is not there`);
    const prev = e.chained ? await this.readEntry(e.prev!) : undefined;
    let rec: KeyRecord;
    try {
      rec = readRecordWith(stored, prev);
    } catch (cause) {
      throw new ConcordError('CORRUPT', `${file.name}: the record at offset ${e.off} does not fit the record before it`, { cause });
    }
    if (e.file) {
      e.rec = rec;
      this.remember(e);
    }
    return rec;
  }

  currentMeta(name: string): unknown {
    return cloneJson(this.ks.meta.get(name));
  }

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    this.assertOpen();
    return this.readCurrent(space, key);
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    this.assertOpen();
    return this.currentMeta(name) as T | undefined;
  }

  async scan(space: string, { prefix = '', after, limit }: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    this.assertOpen();
    const s = this.ks.spaces.get(space);
    if (!s) return [];
    return this.readAll(s.scan(prefix, after, limit));
  }

  async readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    this.assertOpen();
    const s = this.ks.spaces.get(space);
    if (!s) return [];
    return this.readAll(s.log(afterSeq, limit, (e) => e.batch <= this.durableBatch));
  }

  private async readAll(entries: Array<[string, Entry]>): Promise<Array<[string, KeyRecord]>> {
    const recs = await Promise.all(entries.map(([, e]) => this.readEntry(e)));
    return entries.map(([k], i) => [k, recs[i]!]);
  }

  async index(space: string): Promise<IndexEntry[]> {
    this.assertOpen();
    const s = this.ks.spaces.get(space);
    if (!s) return [];
    return s.index() satisfies IndexEntry[];
  }

  async spaces(): Promise<string[]> {
    this.assertOpen();
    return [...this.ks.spaces].filter(([, s]) => s.records.size > 0).map(([name]) => name);
  }

  private assertOpen(): void {
    if (this.state !== 'open' && this.state !== 'closing') throw closedError();
  }

  // ---- compaction ----

  private logBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  private maybeCompact(): void {
    const w = this.writer;
    if (this.compaction || this.state !== 'open' || !w) return;
    const logBytes = this.logBytes();
    let frames = 0;
    for (const s of this.segments) frames += s.frames;
    // Compact when the log outgrows the live data, or when replaying it would cost more at open than
    // loading a snapshot of every key (a frame head is parsed per transaction, a snapshot is flat arrays).
    if (logBytes < this.compactMinBytes) return;
    if (logBytes < this.compactRatio * this.ks.liveBytes() && frames < Math.max(this.compactMinFrames, this.ks.keyCount() / 4)) return;
    if (logBytes < this.retryCompactionAt) return;
    this.compaction = this.compact()
      .then(
        () => {
          this.retryCompactionAt = 0;
          this.compaction = undefined;
          this.maybeCompact(); // the log written meanwhile may call for another one already
        },
        (e: unknown) => {
          this.retryCompactionAt = 2 * logBytes; // not again before the log has grown: no retry storm
          this.compaction = undefined;
          this.onError(e);
        },
      );
  }

  /** Starts compaction now, whatever the log size; resolves when it finished (for tests and tools). */
  async compactNow(): Promise<void> {
    this.assertOpen();
    while (this.compaction) await this.compaction;
    this.compaction = this.compact().finally(() => {
      this.compaction = undefined;
    });
    await this.compaction;
  }

  private async compact(): Promise<void> {
    const writer = this.writer!;
    const { view, gen } = await new Promise<{ view: Map<string, Map<string, Entry>>; meta: Map<string, unknown>; gen: number }>((resolve, reject) =>
      writer.rotate((pending, gen) => {
        this.openBatch = undefined; // what commits from now on goes to a batch the view below does not undo
        this.segments.push(writer.segment);
        resolve({ ...stateWithout(this.ks, pending), gen });
      }, reject),
    ).then(({ view, meta, gen }) => ({ view: toSnapshotView(view, meta), gen }));
    view.whole = await wholeRecords(view, (e) => this.readEntry(e));
    const res = await writeSnapshot(this.io, this.dir, gen, view, () => false);
    if (!res) return;
    let data: DataFile;
    try {
      data = new DataFile(snapName(gen), await this.io.open(res.path, 'r'));
    } catch (e) {
      throw ioError(e, `opening ${snapName(gen)}`);
    }
    repoint(this.ks, view, res.offsets, data);
    this.snapshot?.retire();
    this.snapshot = data;
    const old = this.segments.filter((s) => s.num < gen);
    this.segments = this.segments.filter((s) => s.num >= gen);
    for (const s of old) {
      s.data.retire();
      await this.io.unlink(`${this.dir}/${s.data.name}`).catch(noop);
    }
    const names = await this.io.readdir(this.dir).catch(() => [] as string[]);
    for (const n of names) {
      const m = /^snap-(\d+)\.snap$/.exec(n);
      if (m && Number(m[1]) < gen) await this.io.unlink(`${this.dir}/${n}`).catch(noop);
    }
  }
}

const CLOSE_COMPACT_MIN_LOG = 64 << 10;
const CLOSE_COMPACT_MAX_LIVE = 64 << 20;

/** Records a chain may grow to before a record is stored whole again (reading a key reads its chain). */
export const MAX_DISK_CHAIN = 128;

/**
 * Whether the next record of a key may be chained to `prev` (stored as its deltas and references, record.ts): while
 * the chain is short enough to read at once, and its deltas weigh less than the record they start from.
 */
function chainable(prev: Entry): boolean {
  return prev.depth < MAX_DISK_CHAIN && prev.weight - prev.rootLen <= prev.rootLen;
}

function closedError(): ConcordError {
  return new ConcordError('CLOSED', 'storage is closed');
}

function noop(): void {}

const YIELD_EVERY = 512;

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
