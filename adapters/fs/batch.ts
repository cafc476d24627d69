/**
 * A batch: what one log frame holds. Transactions committed while the log writer is busy (writing or fsyncing the
 * group before) are appended to the batch still open at the tail of its queue instead of each making its own:
 * one frame, one head, one promise for all of them. A batch is the unit of durability and of rollback — its
 * transactions reach the disk together (a frame is checksummed whole) and are undone together — which is no
 * weaker than before: none of them was acknowledged before its group's fsync, and a failure already rolled back
 * every batch applied after the failed one.
 *
 * The batch is sealed (its head encoded) when the writer takes it into a group; nothing is appended after that.
 */
import type { DataFile } from './data-file.js';
import type { KeyRecord } from '../../lib/storage.js';
import { change, encodeChange, encodeHead, RecordArea, type Change, type EncodedBatch } from './frame.js';
import { chainable, Entry, setMetaOf, type Keyspace } from './keyspace.js';
import type { Batch } from './log-writer.js';

/** Changes and record bytes past which a batch takes no more transactions (the next one opens a new batch). */
const MAX_BATCH_CHANGES = 8192;
const MAX_BATCH_BYTES = 4 << 20;

export class PendingBatch implements Batch {
  readonly changes: Change[] = [];
  /** Per change: the entry it stored (puts) and the entry it replaced. */
  readonly entries: Array<Entry | undefined> = [];
  readonly prevs: Array<Entry | undefined> = [];
  /** Metadata as the batch leaves it: the last value each name was set to. */
  readonly meta = new Map<string, unknown>();
  /** Per name the batch sets: whether it was set before the batch, and to what. */
  metaUndo: Array<[name: string, had: boolean, prev: unknown]> | undefined;
  payloadAt = 0;
  segment: DataFile | undefined;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (e: unknown) => void;
  private recordBytes = 0;
  private readonly area = new RecordArea();
  private encoded: EncodedBatch | undefined;

  constructor(readonly id: number) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A failure is reported to every transaction in the batch through its own chain on `done`; a batch whose
    // transactions all went away must not raise an unhandled rejection of its own.
    this.done.catch(noop);
  }

  /** Whether another transaction may still be appended. */
  get open(): boolean {
    return this.encoded === undefined && this.changes.length < MAX_BATCH_CHANGES && this.recordBytes < MAX_BATCH_BYTES;
  }

  /** Applies a transaction's encoded writes and metadata to the index and adds them to the batch, keeping what each replaced. */
  apply(ks: Keyspace, { changes, texts, before }: EncodedWrites, meta: readonly unknown[] | undefined): void {
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      const text = texts[i];
      if (text !== undefined) {
        const { len, crc } = this.area.append(text);
        c.len = len;
        c.crc = crc;
      }
      const e = c.rec === null ? undefined : new Entry(c.rec.seq, c.rec.h, c.len, c.crc, this.id, c.rec);
      if (e && c.chained) e.chainTo(before[i]);
      this.changes.push(c);
      this.entries.push(e);
      this.prevs.push(ks.space(c.space).swap(c.key, e));
      this.recordBytes += c.len;
    }
    for (let j = 0; meta && j < meta.length; j += 2) {
      const name = meta[j] as string;
      const value = meta[j + 1];
      // the value before the batch, the first time the batch sets the name: a batch is rolled back whole
      if (!this.meta.has(name)) (this.metaUndo ??= []).push([name, ks.meta.has(name), ks.meta.get(name)]);
      this.meta.set(name, value);
      setMetaOf(ks.meta, name, value);
    }
  }

  /** Seals the batch and returns its frame's contents (the same ones on every call). */
  encode(): EncodedBatch {
    return (this.encoded ??= encodeHead(this.changes, this.meta, this.area.parts()));
  }
}

export interface EncodedWrites {
  readonly changes: Change[];
  /** Per change: its record's stored form (undefined for a remove), appended to the batch's records when applied. */
  readonly texts: Array<string | Buffer | undefined>;
  /** Per change: the key's entry before it (a chained record is read with it). */
  readonly before: Array<Entry | undefined>;
}

/**
 * Encodes a transaction's writes, (space, key, record or null) triples (throws, before anything is applied, when a record cannot be encoded); a put may be
 * stored chained to the key's current record (record.ts).
 */
export function encodeWrites(ks: Keyspace, writes: ReadonlyArray<string | KeyRecord | null>): EncodedWrites {
  const changes: Change[] = [];
  const texts: Array<string | Buffer | undefined> = [];
  const before: Array<Entry | undefined> = [];
  for (let i = 0; i < writes.length; i += 3) {
    const space = writes[i] as string;
    const key = writes[i + 1] as string;
    const rec = writes[i + 2] as KeyRecord | null;
    const c = change(space, key, rec);
    const prev = rec ? ks.get(space, key) : undefined;
    texts.push(encodeChange(c, rec && prev?.rec && chainable(prev, rec) ? prev.rec : undefined));
    changes.push(c);
    before.push(prev);
  }
  return { changes, texts, before };
}

function noop(): void {}
