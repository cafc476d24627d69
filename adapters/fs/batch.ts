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
import { encodeHead, opRoom, RecordArea, type EncodedBatch } from './frame.js';
import { chainable, Entry, setMetaOf, type Keyspace, type SpaceIndex } from './keyspace.js';
import type { Batch } from './log-writer.js';
import { encodeLogRecord } from './log-record.js';
import { encodeRecord, isPlain } from './record.js';

/** Changes and record bytes past which a batch takes no more transactions (the next one opens a new batch). */
const MAX_BATCH_CHANGES = 8192;
const MAX_BATCH_BYTES = 4 << 20;

export class PendingBatch implements Batch {
  /**
   * Per change, in order: its space and key, the entry it stored (a put: the entry holds the record, its stored form's
   * length and CRC, and whether it is chained, all the frame's head needs) or undefined (a remove), and the entry it
   * replaced. Parallel arrays, not an object per change: a put waiting for its fsync keeps less.
   */
  readonly spaces: string[] = [];
  readonly keys: string[] = [];
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
  /** Puts in the batch (changes that store a record). */
  puts = 0;
  /** The records' bytes, and the room their ops take in the frame's head (frame.ts opRoom), counted as they come. */
  private readonly sizes: { room: number; bytes: number } = { room: 0, bytes: 0 };
  /** The records' bytes (encodeWrites writes a transaction's there before it is applied). */
  readonly area = new RecordArea();
  /** Handed to the log writer (file-storage.ts: on the first transaction applied to it). */
  queued = false;
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
    return this.encoded === undefined && this.keys.length < MAX_BATCH_CHANGES && this.sizes.bytes < MAX_BATCH_BYTES;
  }

  /**
   * Applies a transaction's writes, encoded into this batch's record area (encodeWrites), and its metadata to the index
   * and adds them to the batch, keeping what each replaced.
   */
  apply(ks: Keyspace, writes: ReadonlyArray<string | KeyRecord | null>, encoded: EncodedWrites, meta: readonly unknown[] | undefined): void {
    for (let i = 0, j = 0; i < writes.length; i += 3, j += 4) {
      const space = writes[i] as string;
      const key = writes[i + 1] as string;
      const rec = writes[i + 2] as KeyRecord | null;
      let e: Entry | undefined;
      if (rec !== null) {
        const len = encoded[j] as number;
        e = new Entry(rec.seq, rec.h, len, encoded[j + 1] as number, rec);
        const prev = encoded[j + 2] as Entry | undefined;
        if (prev !== undefined) e.chainTo(prev);
        this.sizes.bytes += len;
        this.puts++;
      }
      this.sizes.room += opRoom(space, key, e?.h);
      this.spaces.push(space);
      this.keys.push(key);
      this.entries.push(e);
      this.prevs.push(ks.space(space).swap(key, e, encoded[j + 3] as Entry | undefined));
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
    return (this.encoded ??= encodeHead(this.spaces, this.keys, this.entries, this.meta, this.area.parts(), this.sizes));
  }
}

/**
 * A transaction's writes encoded, four slots per (space, key, record or null) triple of its writes, in their order: the
 * byte length and CRC-32 of the record's stored form in the batch's record area (undefined for a remove), the entry of
 * the key's previous record it is stored chained to (record.ts; undefined: it stands alone), and the key's entry when
 * the writes were encoded (apply replaces it: the key is not looked up again). One array, not an object per write:
 * most transactions are one put.
 */
export type EncodedWrites = Array<number | Entry | undefined>;

/** What a transaction read of the index (tx.ts FileTx.seen): a key's entry, or null when it did not read it. */
export interface SeenEntries {
  seen(s: SpaceIndex | undefined, key: string): Entry | undefined | null;
}

/**
 * Encodes a transaction's writes, (space, key, record or null) triples, into `area` (a batch's record area); a put may
 * be stored chained to the key's current record (record.ts), one whose values are all texts is written in the log's
 * binary form (log-record.ts), or where that cannot hold it as its JSON straight into the area. When a record cannot
 * be encoded it throws, and the area is as before: nothing is applied.
 * A key the transaction read, with nothing changed since, is not looked up again (`read`).
 */
export function encodeWrites(ks: Keyspace, writes: ReadonlyArray<string | KeyRecord | null>, read: SeenEntries | undefined, area: RecordArea): EncodedWrites {
  // An array of the writes' size (a push onto [] would reserve room for seventeen).
  const out: EncodedWrites = new Array((writes.length / 3) * 4);
  area.mark();
  try {
    for (let i = 0, j = 0; i < writes.length; i += 3, j += 4) {
      const s = ks.spaces.get(writes[i] as string);
      const key = writes[i + 1] as string;
      const seen = read ? read.seen(s, key) : null;
      const prev = (out[j + 3] = seen !== null ? seen : s?.entry(key));
      const rec = writes[i + 2] as KeyRecord | null;
      if (rec === null) continue;
      if (isPlain(rec)) {
        const w = encodeLogRecord(rec);
        out[j] = w !== undefined ? area.appendBytes(w.buf, w.at) : area.appendJson(rec);
      } else {
        const enc = encodeRecord(rec, prev?.rec && chainable(prev, rec) ? prev.rec : undefined);
        out[j] = area.append(enc.text);
        if (enc.chained) out[j + 2] = prev;
      }
      out[j + 1] = area.crc;
    }
  } catch (e) {
    area.rollback();
    throw e;
  }
  return out;
}

function noop(): void {}
