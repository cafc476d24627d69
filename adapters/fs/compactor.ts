/**
 * When file storage compacts, and the compaction itself: the writer starts a new segment at a group boundary, the
 * state as of that boundary (the index minus the batches still queued) is written as a snapshot while writes continue
 * in the new segment, then the index is pointed at the snapshot and the older files are deleted (file-storage.ts).
 */
import type { KeyRecord } from '../../lib/storage.js';
import type { PendingBatch } from './batch.js';
import { repoint, stateWithout, toSnapshotView, wholeRecords } from './compaction.js';
import { DataFile } from './data-file.js';
import { ioError } from './io-errors.js';
import type { Io } from './io.js';
import type { Entry, Keyspace } from './keyspace.js';
import type { LogWriter, Segment } from './log-writer.js';
import type { CompactContext } from './compact-record.js';
import { snapName, writeSnapshot } from './snapshot.js';

export interface CompactionOptions {
  /** Compact once the log since the last snapshot exceeds this many bytes… (default 8 MiB) */
  compactMinBytes?: number;
  /** …and this multiple of the live data (default 2)… */
  compactRatio?: number;
  /** …or more frames than this and than a quarter of the keys (default 10 000): replaying many small frames at
   * open costs more than loading a snapshot. */
  compactMinFrames?: number;
  /**
   * Compact at close when the log outweighs the live data (and is over 64 KiB) and the live data is at most
   * 64 MiB (default true): a closed small store holds about its data once.
   */
  compactOnClose?: boolean;
}

/** The files of the open storage: the snapshot, and the segments after it. */
export interface LogFiles {
  snapshot: DataFile | undefined;
  /** Segments not yet covered by a snapshot, oldest first; the last one is being appended to. */
  segments: Segment[];
}

/** What compaction reads and changes of the open file storage. */
export interface CompactionHost {
  readonly io: Io;
  readonly dir: string;
  readonly files: LogFiles;
  keyspace(): Keyspace;
  writer(): LogWriter<PendingBatch> | undefined;
  isOpen(): boolean;
  /** A batch that stays open past the rotation would mix what the snapshot's view undoes with what it never saw. */
  closeOpenBatch(): void;
  readEntry(e: Entry): Promise<KeyRecord>;
  onError(error: unknown): void;
}

const CLOSE_COMPACT_MIN_LOG = 64 << 10;
/** After a failed compaction, the next waits this long, doubling with each failure in a row up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
const CLOSE_COMPACT_MAX_LIVE = 64 << 20;

export class Compactor {
  private running: Promise<void> | undefined;
  /** After failed compactions (`failures` in a row): none is tried again before this (performance.now). */
  private retryAfter = 0;
  private failures = 0;
  private readonly onClose: boolean;
  private readonly minBytes: number;
  private readonly ratio: number;
  private readonly minFrames: number;

  constructor(
    private readonly host: CompactionHost,
    options: CompactionOptions,
  ) {
    this.onClose = options.compactOnClose ?? true;
    this.minBytes = options.compactMinBytes ?? 8 << 20;
    this.ratio = options.compactRatio ?? 2;
    this.minFrames = options.compactMinFrames ?? 10_000;
  }

  private logBytes(): number {
    let n = 0;
    for (const s of this.host.files.segments) n += s.size;
    return n;
  }

  /** Starts a compaction in the background when the log calls for one. */
  maybe(): void {
    const h = this.host;
    if (this.running || !h.isOpen() || !h.writer()) return;
    const logBytes = this.logBytes();
    let frames = 0;
    for (const s of h.files.segments) frames += s.frames;
    const ks = h.keyspace();
    // Compact when the log outgrows the live data, or when replaying it would cost more at open than
    // loading a snapshot of every key (a frame head is parsed per batch, a snapshot is flat arrays).
    if (logBytes < this.minBytes) return;
    if (logBytes < this.ratio * ks.liveBytes() && frames < Math.max(this.minFrames, ks.keyCount() / 4)) return;
    if (this.failures > 0 && performance.now() < this.retryAfter) return;
    this.running = this.compact().then(
      () => {
        this.failures = 0;
        this.running = undefined;
        this.maybe(); // the log written meanwhile may call for another one already
      },
      (e: unknown) => {
        // Tried again on a schedule, not once the log has grown by some multiple: a disk that filled once would let a
        // large log double before the next try. No retry storm either: 1 s after the first failure, doubling to 60 s.
        this.failures++;
        this.retryAfter = performance.now() + Math.min(RETRY_FIRST_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
        this.running = undefined;
        h.onError(e);
      },
    );
  }

  /** Compacts now, whatever the log size (after the one under way, if any). */
  async now(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.compact().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  /**
   * At close: lets a compaction under way finish (the next open then loads its snapshot, not a long log), and leaves
   * a small store whose log outweighs its data compact (a bounded cost at close); a larger one compacts in the
   * background while open, as always.
   */
  async atClose(): Promise<void> {
    await this.running;
    const w = this.host.writer();
    if (!this.onClose || !w || w.isBroken) return;
    const live = this.host.keyspace().liveBytes();
    if (live <= CLOSE_COMPACT_MAX_LIVE && this.logBytes() > Math.max(CLOSE_COMPACT_MIN_LOG, live)) await this.compact().catch((e: unknown) => this.host.onError(e));
  }

  private async compact(): Promise<void> {
    const h = this.host;
    const writer = h.writer()!;
    const ks = h.keyspace();
    const { view, gen } = await new Promise<{ view: Map<string, Map<string, Entry>>; meta: Map<string, unknown>; gen: number }>((resolve, reject) =>
      writer.rotate((pending, gen) => {
        h.closeOpenBatch();
        h.files.segments.push(writer.segment);
        resolve({ ...stateWithout(ks, pending), gen });
      }, reject),
    ).then(({ view, meta, gen }) => ({ view: toSnapshotView(view, meta), gen }));
    view.whole = await wholeRecords(view, (e) => h.readEntry(e));
    const res = await writeSnapshot(h.io, h.dir, gen, view, () => false, carriedTable(h.files.snapshot?.compact));
    if (!res) return;
    let data: DataFile;
    try {
      data = new DataFile(snapName(gen), await h.io.open(res.path, 'r'), res.compact);
    } catch (e) {
      throw ioError(e, `opening ${snapName(gen)}`);
    }
    repoint(ks, view, res, data);
    h.files.snapshot?.retire();
    h.files.snapshot = data;
    const old = h.files.segments.filter((s) => s.num < gen);
    h.files.segments = h.files.segments.filter((s) => s.num >= gen);
    for (const s of old) {
      s.data.retire();
      await h.io.unlink(`${h.dir}/${s.data.name}`).catch(noop);
    }
    const names = await h.io.readdir(h.dir).catch(() => [] as string[]);
    for (const n of names) {
      const m = /^snap-(\d+)\.snap$/.exec(n);
      if (m && Number(m[1]) < gen) await h.io.unlink(`${h.dir}/${n}`).catch(noop);
    }
  }
}

function noop(): void {}

/**
 * The snapshot before's table of ids, to keep (its compact records are then copied as they are) — unless most of its
 * ids are named by no record any more (their keys were removed): then every record is encoded again, into a fresh
 * table, so a table never outgrows twice what the records name (past a small size).
 */
export function carriedTable(prev: CompactContext | undefined): CompactContext | undefined {
  if (!prev) return undefined;
  return prev.ids.length > 256 && prev.used * 2 < prev.ids.length ? undefined : prev;
}
