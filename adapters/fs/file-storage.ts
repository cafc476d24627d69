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
 *   writer is busy share one batch, one frame (batch.ts); a batch that is full is written at once, as the next group's
 *   first frames (log-writer.ts write-ahead), its group fsynced once its last frame is written. `transactNow` runs one
 *   at once when nothing is queued and its reads answer from memory, and hands back the promise of its durability.
 * - `readLog` returns only entries whose batch is durable: it stops at the first one that is not, and before a key's
 *   durable record while a batch not durable yet replaced or removed it (`heldAfter`; the log a power loss leaves).
 * - A batch that fails to reach the disk is rolled back from the index, with every batch applied after it,
 *   in reverse order, so memory matches disk; transactions that read the rolled-back state fail too.
 * - Values are not held in memory: the index keeps where each record's text is (file, offset, length, CRC)
 *   and reads it with a positioned read when asked; pending records, and a small cache, stay in memory.
 * - Compaction runs in the background (compactor.ts): a snapshot of the state as of a group boundary is written
 *   while writes continue in a new segment, then the index is pointed at it and the older files are deleted.
 */
import { ConcordError } from '../../lib/errors.js';
import { dropOldest } from '../../lib/evict.js';
import type { IndexEntry, KeyRecord, ScanOptions, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { DataFile } from './data-file.js';
import { Compactor, type CompactionHost, type CompactionOptions, type LogFiles } from './compactor.js';
import { encodeWrites, PendingBatch } from './batch.js';
import { ioError } from './io-errors.js';
import { nodeIo, type Io } from './io.js';
import { placeOf } from './place.js';
import { Entry, Keyspace, type SpaceIndex } from './keyspace.js';
import { acquireLock, type DirLock } from './lock.js';
import { LogWriter, type Segment } from './log-writer.js';
import { readRecordWith } from './record.js';
import { recover } from './recovery.js';
import { segName } from './snapshot.js';
import { cloneJson, FileTx, NOT_NOW } from './tx.js';

export interface FileStorageOptions extends CompactionOptions {
  /** Records kept in memory after they were written or read (default 1024). */
  cacheRecords?: number;
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
  /** The snapshot and the segments after it (compactor.ts LogFiles). */
  private readonly files: LogFiles = { snapshot: undefined, segments: [] };
  private tail: Promise<unknown> = Promise.resolve();
  private nextBatch = 1;
  private chained = 0;
  private durableBatch = 0;
  private lastBatch: PendingBatch | undefined;
  /** The batch transactions are appended to while the writer has not taken it yet. */
  private openBatch: PendingBatch | undefined;
  /** The batches not durable yet, oldest first (readLog holds the log back where they replaced durable records). */
  private unsettled: PendingBatch[] = [];
  /** Transactions handed to `transact` whose function has not finished yet. */
  private queued = 0;
  private failEpoch = 0;
  /** Set when a rollback threw part way: the index may show writes reported failed, so nothing is read until a reopen. */
  private unsound: ConcordError | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly cache = new Set<Entry>();
  private readonly compactor: Compactor;
  private readonly cacheRecords: number;
  private readonly onError: (error: unknown) => void;

  constructor(
    readonly dir: string,
    options: FileStorageOptions = {},
  ) {
    this.io = options.io ?? nodeIo;
    this.cacheRecords = options.cacheRecords ?? 1024;
    this.onError = options.onError ?? ((e) => process.emitWarning(`concord/fs: ${e instanceof Error ? e.message : String(e)}`));
    const host: CompactionHost = {
      io: this.io,
      dir,
      files: this.files,
      keyspace: () => this.ks,
      writer: () => this.writer,
      isOpen: () => this.state === 'open',
      closeOpenBatch: () => void (this.openBatch = undefined),
      readEntry: (e) => this.readEntry(e),
      onError: (e) => this.onError(e),
    };
    this.compactor = new Compactor(host, options);
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
      this.unsound = undefined;
      this.cache.clear();
      const r = await recover(this.io, this.dir, this.ks);
      this.files.snapshot = r.snapshot;
      this.files.segments = r.segments;
      if (!this.files.segments.length) {
        const num = Math.max(r.gen, 1);
        try {
          const file = await this.io.open(`${this.dir}/${segName(num)}`, 'wx+');
          this.files.segments.push({ num, data: new DataFile(segName(num), file), size: 0, frames: 0 });
          await this.io.syncDir(this.dir);
        } catch (e) {
          throw ioError(e, `creating ${segName(num)}`);
        }
      }
      this.writer = new LogWriter<PendingBatch>(this.io, this.dir, this.files.segments[this.files.segments.length - 1]!, r.lastGroup + 1, {
        durable: (group) => this.onDurable(group),
        failed: (batches, error) => this.onFailed(batches, error),
      });
      this.nextBatch = 1;
      this.durableBatch = 0;
      this.lastBatch = undefined;
      this.openBatch = undefined;
      this.unsettled = [];
      this.state = 'open';
      // A long log replayed at this open is compacted soon (not at once: the first reads come first).
      this.openTimer = setTimeout(() => this.compactor.maybe(), 1000);
      this.openTimer.unref?.();
    } catch (e) {
      await this.releaseFiles();
      this.state = 'closed';
      throw e;
    }
  }

  /** Where the data lives, as a copy of the directory does not share (place.ts). */
  location(): Promise<string | undefined> {
    return placeOf(this.io, this.dir);
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    clearTimeout(this.openTimer);
    await this.tail;
    await this.writer?.drain();
    await this.compactor.atClose();
    await this.releaseFiles();
    this.state = 'closed';
  }

  private async releaseFiles(): Promise<void> {
    await this.files.snapshot?.close();
    for (const s of this.files.segments) await s.data.close();
    this.files.snapshot = undefined;
    this.files.segments = [];
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
   * Encodes the transaction's records into the open batch, or a new one (throwing before anything is applied when one
   * cannot be: the batch's record area is as before), applies them to the index (keeping what each replaced) and adds
   * them to the batch, queued for the writer with its first transaction.
   */
  private commit(tx: FileTx): PendingBatch {
    const writes = tx.writes ?? [];
    let batch = this.openBatch;
    if (!batch?.open) batch = this.openBatch = new PendingBatch(this.nextBatch++);
    const encoded = encodeWrites(this.ks, writes, tx, batch.area);
    if (!batch.queued) {
      this.writer!.enqueue(batch);
      batch.queued = true;
      this.unsettled.push(batch);
    }
    batch.apply(this.ks, writes, encoded, tx.meta);
    this.lastBatch = batch;
    return batch;
  }

  /** A group is on disk: its batches resolve, also if pointing its entries at the file throws (the writer then breaks). */
  private onDurable(group: PendingBatch[]): void {
    try {
      this.pointAt(group);
    } finally {
      this.durableBatch = group[group.length - 1]!.id;
      let settled = 0;
      while (settled < this.unsettled.length && this.unsettled[settled]!.id <= this.durableBatch) settled++;
      if (settled > 0) this.unsettled.splice(0, settled);
      for (const b of group) b.resolve();
    }
    this.compactor.maybe();
  }

  private pointAt(group: PendingBatch[]): void {
    // Every entry of the group is pointed at the file first, the cache kept after: an entry without a file is pending
    // (readLog streams none), so a throw part way through would have left puts acknowledged and never streamed.
    for (const b of group) {
      // A put's record follows the head and the records of the puts before it (frame.ts encodeHead); an entry's length
      // does not change before it is durable (compaction re-points only durable entries).
      const entries = b.entries;
      let off = b.payloadAt + b.encode().headLen;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (!e) continue;
        e.file = b.segment;
        e.off = off;
        off += e.len;
      }
    }
    // The cache keeps the records written last: of a group of more puts than it holds, the first ones would be added
    // only to be dropped again by the group's own later ones (and everything cached before with them).
    let puts = 0;
    for (const b of group) puts += b.puts;
    let dropped = puts - this.cacheRecords;
    if (dropped >= 0) this.forget();
    for (const b of group) {
      for (const e of b.entries) {
        if (!e) continue;
        if (dropped-- > 0) e.rec = undefined;
        else this.remember(e);
      }
    }
  }

  /**
   * Batches failed: they are rolled back and reject, also if the rollback throws (the writer then breaks, and reads
   * are refused until a reopen: the index may still show a write reported failed).
   */
  private onFailed(batches: PendingBatch[], error: ConcordError): void {
    try {
      this.rollBack(batches);
    } catch (e) {
      this.unsound = new ConcordError('STORAGE_ERROR', `rolling back a failed write failed part way (${e instanceof Error ? e.message : String(e)}); nothing is read or written until the storage is reopened`, { cause: e });
      throw e;
    } finally {
      this.failEpoch++;
      this.unsettled = this.unsettled.filter((b) => !batches.includes(b));
      if (this.openBatch && batches.includes(this.openBatch)) this.openBatch = undefined;
      // The failed batches are the last ones (a group and all queued after it): every batch before them is durable,
      // so a read-only transaction from now on waits for nothing, rather than for a batch that failed.
      if (this.lastBatch && batches.includes(this.lastBatch)) this.lastBatch = undefined;
      for (const b of batches) b.reject(error);
    }
  }

  private rollBack(batches: PendingBatch[]): void {
    for (let i = batches.length - 1; i >= 0; i--) {
      const b = batches[i]!;
      for (let j = b.keys.length - 1; j >= 0; j--) this.ks.space(b.spaces[j]!).restore(b.keys[j]!, b.prevs[j]);
      for (let j = (b.metaUndo?.length ?? 0) - 1; j >= 0; j--) {
        const [name, had, prev] = b.metaUndo![j]!;
        if (had) this.ks.meta.set(name, prev);
        else this.ks.meta.delete(name);
      }
    }
  }

  /**
   * Keeps a record in memory for a while; past the cache size (and a slack of up to an eighth of it) the oldest durable
   * ones are dropped down to the size in one pass. Not one a call: a Set's iteration from its start steps over every
   * slot deleted before it until the table is rebuilt, so dropping the oldest on each put cost up to the table's size a
   * put (0.6–1.2 µs at 1 024, against 0.07 in one pass, measured alone on a Set of 1 024 at load ~11).
   */
  private remember(e: Entry): void {
    this.cache.delete(e);
    this.cache.add(e);
    if (this.cache.size <= this.cacheRecords + (this.cacheRecords >> 3)) return;
    dropOldest(this.cache, this.cache.size - this.cacheRecords, (old) => {
      if (old.file) old.rec = undefined;
    });
  }

  /** Drops every durable record the cache holds. */
  private forget(): void {
    for (const e of this.cache) if (e.file) e.rec = undefined;
    this.cache.clear();
  }

  spaceIndex(space: string): SpaceIndex | undefined {
    return this.ks.spaces.get(space);
  }

  /** The current (applied) record of a key, read from disk when not in memory. */
  async readCurrent(space: string, key: string): Promise<KeyRecord | undefined> {
    const e = this.ks.get(space, key);
    if (!e) return undefined;
    return this.readEntry(e);
  }

  async readEntry(e: Entry): Promise<KeyRecord> {
    if (e.rec) return e.rec;
    const file = e.file!;
    const off = e.off;
    const stored = await file.readRecord(off, e.len, e.crc, e.seq, e.h);
    // Compaction may have stored the record elsewhere meanwhile (whole, where it was chained): read it there.
    if (e.file !== file || e.off !== off) return this.readEntry(e);
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
    const held = this.heldAfter(space, afterSeq);
    return this.readAll(s.log(afterSeq, limit, (e) => e.file !== undefined && e.seq < held));
  }

  /**
   * The lowest seq past `afterSeq` where a key's durable record sits while a batch not durable yet replaced it (or
   * removed it): a power loss brings the record back there, so the log read stops before it (StorageAdapter readLog).
   */
  private heldAfter(space: string, afterSeq: number): number {
    let held = Infinity;
    for (const b of this.unsettled) {
      if (b.id <= this.durableBatch) continue;
      const { spaces, prevs } = b;
      for (let i = 0; i < prevs.length; i++) {
        const p = prevs[i];
        if (p !== undefined && p.file !== undefined && p.seq > afterSeq && p.seq < held && spaces[i] === space) held = p.seq;
      }
    }
    return held;
  }

  private async readAll(entries: Array<[string, Entry]>): Promise<Array<[string, KeyRecord]>> {
    // Records that stand alone and are not in memory are read together, file by file (DataFile.readRecords:
    // one read per run of neighbours); chained ones, with the record they build on, one by one.
    const byFile = new Map<DataFile, Entry[]>();
    for (const [, e] of entries) if (!e.rec && !e.chained && e.file) byFile.get(e.file)?.push(e) ?? byFile.set(e.file, [e]);
    const read = new Map<Entry, KeyRecord>();
    await Promise.all(
      [...byFile].map(async ([file, es]) => {
        const where = es.map((e) => e.off);
        const stored = await file.readRecords(es.map((e, i) => ({ off: where[i]!, len: e.len, crc: e.crc, seq: e.seq, h: e.h })));
        es.forEach((e, i) => {
          if (e.rec || e.file !== file || e.off !== where[i] || e.chained) return; // read, or stored elsewhere meanwhile
          const rec = readRecordWith(stored[i]!, undefined);
          read.set(e, rec); // kept here: the cache may drop it again before the page is returned
          e.rec = rec;
          this.remember(e);
        });
      }),
    );
    const recs = await Promise.all(entries.map(([, e]) => read.get(e) ?? this.readEntry(e)));
    return entries.map(([k], i) => [k, recs[i]!]);
  }

  async index(space: string): Promise<IndexEntry[]> {
    this.assertOpen();
    return this.ks.spaces.get(space)?.index() ?? [];
  }

  async summary(space: string, upTo: number): Promise<{ keys: number; lastSeq: number }> {
    this.assertOpen();
    return this.ks.spaces.get(space)?.summary(upTo) ?? { keys: 0, lastSeq: 0 };
  }

  async spaces(): Promise<string[]> {
    this.assertOpen();
    return [...this.ks.spaces].filter(([, s]) => s.records.size > 0).map(([name]) => name);
  }

  /** Starts compaction now, whatever the log size; resolves when it finished (for tests and tools). */
  async compactNow(): Promise<void> {
    this.assertOpen();
    await this.compactor.now();
  }

  private assertOpen(): void {
    if (this.state !== 'open' && this.state !== 'closing') throw closedError();
    if (this.unsound) throw this.unsound;
  }
}

const closedError = () => new ConcordError('CLOSED', 'storage is closed');
const noop = () => {};

const YIELD_EVERY = 512;

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
