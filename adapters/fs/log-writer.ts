/**
 * Group commit. Batches queue here in transaction order; one loop writes everything queued as one commit
 * group (a single positioned, gathered write at the end of the current segment) and fdatasyncs it. While that fsync
 * runs, new batches queue and go together in the next group, so many transactions in flight share one fsync.
 * A batch is reported durable only after its group's fsync returned.
 *
 * On a failed write the segment is truncated back to where the group began, and the group plus every batch
 * queued after it (they were applied on top of it) is reported failed, in order. The cut is fsynced before anything
 * else is written (on this failure path only): unsynced, a power loss may undo it and bring the failed group's bytes
 * back — behind the next group's frames, or before a later segment — where recovery can tell them from damage only by
 * refusing the open, or, a group whole on disk, would apply writes reported failed. Once the cut is durable no byte of
 * the group is left, so its number is given back: the next group takes it, and the groups of a segment stay numbered
 * one after the other (recovery takes a torn tail's group from its frames, recovery.ts: a group number skipped, as an
 * earlier release's writer left them, or counted on across a rotation, reads as well). A batch that
 * cannot be encoded fails the same way (its whole group, the batches before it written ahead included, and every batch
 * after it), and the writer goes on. A failed fsync leaves
 * the file's state unknown (the kernel may have dropped the dirty pages), and so does a failed truncate or a failed
 * fsync of the cut: the writer is then broken and refuses everything after. After a failed fsync the segment is cut back
 * all the same (and that cut fsynced), so a group reported failed does not come back at the next open; where that cut
 * fails too, the group's writes are reported as of unknown outcome (a crash may keep the group whole).
 *
 * Write-ahead: a batch that takes no more transactions (a later one was queued behind it: it was full) is written at
 * once, as the first frames of the next group, while no group is being written or synced — not at the writer's next
 * turn, which a caller issuing puts in one synchronous run (100 000 in flight) only lets come once it is done: the
 * copy into the file then runs in the I/O thread beside that run, and only the rest of the group and its fsync are
 * left after it. Such frames carry the next group's number and no last-frame flag; the group's fsync follows its last
 * frame, written by the loop, once every write of the group has returned. So frames of a group not yet fsynced are
 * never followed by frames of a later group (frame.ts: what tells a torn tail from damage): a crash before the fsync
 * leaves an incomplete group, dropped whole at recovery as before, and a failed write still truncates the segment back
 * to where the group began (after every write of the group has returned).
 * Each time more frames are written ahead, an fdatasync is begun first, in the I/O threads too: it flushes the frames
 * written ahead before (most of a burst's bytes) while the run goes on, so the group's own fsync after its last frame
 * has little left to flush (S4: a 100 000-put burst's 26 MB, its last fdatasync ~22 ms → ~3). It makes nothing durable
 * the group's fsync would not (a put settles only after the fsync begun once its group's last frame was written; frames
 * of a group not fsynced whole are a torn tail, flushed or not); one that fails fails the group as a failed group fsync
 * does (the segment cut back, the writer broken).
 *
 * Segment rotation (for compaction) happens between groups: a new segment file is created (or the empty one a rotation
 * whose directory fsync failed left is taken: openSegment) and its directory entry fsynced, and `onRotated` runs
 * synchronously with the batches still queued — the ones not in the older segments. No batch is written ahead while a rotation waits, and a rotation waits for the batches written ahead
 * to be in a group.
 */
import { ConcordError } from '../../lib/errors.js';
import { DataFile } from './data-file.js';
import { FOLLOWS, FRAME_HEADER, framePieces, LAST_IN_GROUP, type EncodedBatch } from './frame.js';
import { errnoCode, ioError } from './io-errors.js';
import { writeAll, type Io, type IoFile } from './io.js';
import { segName } from './snapshot.js';

export interface Batch {
  readonly id: number;
  /** Seals the batch (nothing is added to it after) and returns its frame's contents; the same on every call. */
  encode(): EncodedBatch;
  /** Set when written: offset of the payload in `segment`. */
  payloadAt: number;
  segment: DataFile | undefined;
}

export interface WriterHooks<B extends Batch> {
  durable(group: B[]): void;
  failed(batches: B[], error: ConcordError, broken: boolean): void;
}

export interface Segment {
  num: number;
  data: DataFile;
  size: number;
  /** Frames in it (what replaying it costs). */
  frames: number;
}

interface Rotation<B> {
  then: (pending: readonly B[], newSegment: number) => void;
  fail: (error: ConcordError) => void;
}

const MAX_GROUP_BYTES = 32 << 20;

export class LogWriter<B extends Batch> {
  private queue: B[] = [];
  private running: Promise<void> | undefined;
  private rotation: Rotation<B> | undefined;
  private broken: ConcordError | undefined;
  /** A group is being written or synced (from its first write to its report): nothing is written ahead meanwhile. */
  private busy = false;
  /** Batches at the queue's front written ahead (not synced), their frames' bytes, and their writes' outcomes. */
  private ahead = 0;
  private aheadBytes = 0;
  private aheadWrites: Array<Promise<WriteFailure | undefined>> = [];
  /** fdatasyncs begun while writing ahead (each flushes the frames written ahead before it), and their outcomes. */
  private aheadSyncs: Array<Promise<WriteFailure | undefined>> = [];

  constructor(
    private readonly io: Io,
    private readonly dir: string,
    public segment: Segment,
    private nextGroup: number,
    private readonly hooks: WriterHooks<B>,
  ) {}

  get isBroken(): ConcordError | undefined {
    return this.broken;
  }

  /**
   * Queues a batch. Every batch queued before it takes no more transactions from now on (the caller appends only to the
   * batch it queued last): those not written yet may be written ahead at once.
   */
  enqueue(batch: B): void {
    if (this.broken) throw this.broken;
    this.queue.push(batch);
    if (this.queue.length - this.ahead > 1) this.writeAhead();
    this.kick();
  }

  /**
   * Writes the queued batches before the last one, as the next group's first frames (no last-frame flag), at once: only
   * while no group is being written or synced and no rotation waits, and up to a group's size.
   */
  private writeAhead(): void {
    if (this.busy || this.rotation || this.broken) return;
    const seg = this.segment;
    // Frames written ahead before now are flushed while the run that queues batches goes on (see the top).
    if (this.ahead > 0 && this.ahead < this.queue.length - 1) this.aheadSyncs.push(outcome(seg.data.file.datasync()));
    for (const last = this.queue.length - 1; this.ahead < last; this.ahead++) {
      const b = this.queue[this.ahead]!;
      let enc: EncodedBatch;
      try {
        enc = b.encode();
      } catch {
        return; // not written ahead: the loop fails its group and the batches after it (writeGroup)
      }
      if (this.ahead > 0 && this.aheadBytes + FRAME_HEADER + enc.length > MAX_GROUP_BYTES) return;
      const at = seg.size + this.aheadBytes;
      b.payloadAt = at + FRAME_HEADER;
      b.segment = seg.data;
      this.aheadBytes += FRAME_HEADER + enc.length;
      this.aheadWrites.push(outcome(writeAll(seg.data.file, framePieces(enc, this.nextGroup, follows(seg)), at)));
    }
  }

  /** Starts a new segment at the next group boundary; `then` sees the batches queued for it. */
  rotate(then: Rotation<B>['then'], fail: Rotation<B>['fail']): void {
    if (this.broken) return fail(this.broken);
    this.rotation = { then, fail };
    this.kick();
  }

  /** Resolves once everything queued so far was written (or failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running || this.broken) return;
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.loop())
      // not an I/O failure (those are handled in place): a bug; refuse further writes rather than guess
      .catch((e: unknown) => this.breakWith(e, 'committing'))
      .finally(() => {
      this.running = undefined;
      if ((this.queue.length || this.rotation) && !this.broken) this.kick();
    });
  }

  /**
   * Breaks the writer (what is in memory may not match the disk any more: nothing is written until a reopen) and fails
   * every batch queued. The hooks settle what they are handed also when they throw (file-storage.ts): a throw of
   * theirs here is not thrown again — out of the loop it would leave drain, and close with it, rejected.
   */
  private breakWith(e: unknown, doing: string): void {
    if (!this.broken) {
      const error = ioError(e, doing);
      this.broken = new ConcordError(error.code, `${error.message}; the storage's state is uncertain, so no write is accepted until the storage is reopened`, { cause: e });
    }
    const failed = this.queue;
    this.queue = [];
    this.ahead = this.aheadBytes = 0;
    this.aheadWrites = [];
    this.aheadSyncs = [];
    this.busy = false;
    for (const b of failed) b.segment = undefined;
    try {
      this.hooks.failed(failed, this.broken, true);
    } catch {
      // settled all the same (above); the writer is broken already
    }
    this.failRotation();
  }

  /**
   * Reports a group through a hook. A hook that throws leaves the storage's bookkeeping half done (its batches settled
   * all the same, file-storage.ts): the writer breaks, and fails what is queued after them, rather than leave it waiting.
   */
  private report(call: () => void): void {
    try {
      call();
    } catch (e) {
      this.breakWith(e, 'reporting a commit group');
    }
  }

  /**
   * A broken writer starts no segment: a rotation asked for fails. One still usable (a group's write failed and the
   * segment was cut back) keeps it asked for: it happens before the next group (dropped, its compaction waited for ever,
   * and `close` with it).
   */
  private failRotation(): void {
    const r = this.rotation;
    if (!r || !this.broken) return;
    this.rotation = undefined;
    r.fail(this.broken);
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.broken) return;
      // batches written ahead are in the current segment: they go in a group before it changes
      if (this.rotation && this.ahead === 0) await this.doRotate(this.rotation);
      if (!this.queue.length) return;
      await this.writeGroup();
    }
  }

  /** Takes the next group off the queue: every batch written ahead, and at least one after them (the last frame, flagged). */
  private take(ahead: number): { group: B[]; bytes: number } {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n <= ahead || bytes < MAX_GROUP_BYTES)) bytes += FRAME_HEADER + this.queue[n++]!.encode().length;
    return { group: this.queue.splice(0, n), bytes };
  }

  /**
   * Writes and fsyncs the next group. Whatever fails once it is taken (a batch's encoding, a write, the fsync) fails it
   * and every batch queued after it: each settles, through `failed`.
   */
  private async writeGroup(): Promise<void> {
    const seg = this.segment;
    const groupNo = this.nextGroup;
    this.busy = true;
    // The batches written ahead are the group's first frames (writeAhead); their writes are in flight or done.
    const writes = this.aheadWrites;
    const flushes = this.aheadSyncs;
    let at = this.aheadBytes;
    const ahead = this.ahead;
    this.ahead = this.aheadBytes = 0;
    this.aheadWrites = [];
    this.aheadSyncs = [];
    let group: B[] = [];
    let bytes = 0;
    let stage = 'encoding';
    try {
      ({ group, bytes } = this.take(ahead));
      // The rest of the group's frames as pieces, written in one gathered write: the records' bytes go to the file from
      // where their batch holds them.
      const pieces: Buffer[] = [];
      const from = seg.size + at;
      for (let i = ahead; i < group.length; i++) {
        const b = group[i]!;
        const enc = b.encode();
        b.payloadAt = seg.size + at + FRAME_HEADER;
        b.segment = seg.data;
        for (const piece of framePieces(enc, groupNo, follows(seg) | (i === group.length - 1 ? LAST_IN_GROUP : 0))) pieces.push(piece);
        at += FRAME_HEADER + enc.length;
      }
      writes.push(outcome(writeAll(seg.data.file, pieces, from)));
      stage = 'writing';
      // every write of the group returned (a failed one truncates the segment after the others landed)
      for (const w of await Promise.all(writes)) if (w) throw w.error;
      stage = 'syncing';
      // a flush begun while writing ahead that failed leaves the file's state unknown, as a failed group fsync does
      for (const f of await Promise.all(flushes)) if (f) throw f.error;
      await seg.data.file.datasync();
    } catch (e) {
      const error = ioError(e, `${stage} ${seg.data.name}`);
      // the writes of the group under way (written ahead, when encoding failed) land, and its flushes end, before the cut
      await Promise.all(writes);
      const flushFailed = (await Promise.all(flushes)).some((f) => f !== undefined);
      // A failed fsync is cut back too: the group was reported failed, and must not come back at the next open (its
      // bytes may be on disk); the writer stays broken (the disk failed a sync), but what it holds is known.
      const cut = await cutBack(seg);
      const broken = stage === 'syncing' || flushFailed || !cut;
      const failed = group.concat(this.queue);
      this.queue = [];
      for (const b of failed) b.segment = undefined;
      if (broken) {
        this.broken = new ConcordError(error.code, `${error.message}; the log's state on disk is uncertain, so no write is accepted until the storage is reopened`, { cause: e });
      }
      this.busy = false;
      if (stage === 'syncing' && !cut) {
        // Written whole and neither synced nor cut back: a crash may keep the group whole, and a reopen apply it. Its
        // writes are reported as of unknown outcome; those queued after it were never written (failed, as always).
        const after = failed.slice(group.length);
        const unknown = new ConcordError(error.code, `${error.message}, and cutting its group back out of the log failed too: a reopen may still find this write (its outcome is not known)`, { cause: e });
        if (after.length) this.report(() => this.hooks.failed(after, error, broken));
        this.report(() => this.hooks.failed(group, unknown, broken));
      } else {
        this.report(() => this.hooks.failed(failed, error, broken));
      }
      this.failRotation();
      return;
    }
    seg.size += bytes;
    seg.frames += group.length;
    this.nextGroup++;
    this.busy = false;
    this.report(() => this.hooks.durable(group));
  }

  private async doRotate({ then, fail }: Rotation<B>): Promise<void> {
    const num = this.segment.num + 1;
    const name = segName(num);
    try {
      const file = await openSegment(this.io, `${this.dir}/${name}`, name);
      try {
        await this.io.syncDir(this.dir);
      } catch (e) {
        await file.close().catch(() => {});
        throw e;
      }
      this.segment = { num, data: new DataFile(name, file), size: 0, frames: 0 };
    } catch (e) {
      this.rotation = undefined;
      fail(ioError(e, `starting segment ${name}`));
      return;
    }
    this.rotation = undefined;
    // The segment started: writes go on in it whatever `then` does (recovery replays every segment from the snapshot's
    // generation on, so a compaction that stops here leaves nothing out). Its failure is the compaction's, not the start's.
    try {
      then(this.queue, num);
    } catch (e) {
      fail(ioError(e, `compacting as of the start of ${name} (the segment started: writes go on in it)`));
    }
  }
}

/**
 * Creates the file of a new segment — or takes the one a rotation before left: created, its directory's fsync failed
 * (doRotate), so it stayed, empty (nothing is written to a segment before its rotation succeeded). Refused with EEXIST,
 * every later rotation would fail until a reopen: compaction stopped for good. A file of that number holding bytes is
 * not one this writer left (the lock keeps other writers out; recovery appends to the last segment it finds): refused.
 */
async function openSegment(io: Io, path: string, name: string): Promise<IoFile> {
  try {
    return await io.open(path, 'wx+');
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
  }
  const file = await io.open(path, 'r+');
  let size: number;
  try {
    size = await file.size();
  } catch (e) {
    await file.close().catch(() => {});
    throw e;
  }
  if (size === 0) return file;
  await file.close().catch(() => {});
  throw new ConcordError('STORAGE_ERROR', `${name} already exists and holds ${size} bytes this writer never wrote (is another process writing to this directory?); left as it is`);
}

/** A group's mark (frame.ts FOLLOWS): the segment holds complete groups, the last of them the one before it. */
function follows(seg: Segment): number {
  return seg.frames > 0 ? FOLLOWS : 0;
}

/** Cuts the segment back to its durable end, durably (see the top); false if the truncate or its fsync failed. */
async function cutBack(seg: Segment): Promise<boolean> {
  try {
    await seg.data.file.truncate(seg.size);
    await seg.data.file.datasync();
    return true;
  } catch {
    return false;
  }
}

/** A write's failure, kept as a value: a write of a group waits for the others before its failure is handled. */
interface WriteFailure {
  error: unknown;
}

function outcome(write: Promise<void>): Promise<WriteFailure | undefined> {
  return write.then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
}
