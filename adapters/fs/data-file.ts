/**
 * A data file that records are read from (a log segment or a snapshot), shared by every index entry
 * pointing into it. Reads are positioned and counted, so a file retired by compaction is closed only once
 * no read is in flight (its name may already be unlinked: an open descriptor still reads it).
 */
import { ConcordError } from '../../lib/errors.js';
import { crc32 } from './crc32.js';
import type { CompactContext } from './compact-record.js';
import { decodeRecord, type StoredRecord } from './record.js';
import { ioError } from './io-errors.js';
import { readFully, type IoFile } from './io.js';

/** A record asked for: where it is, its CRC, and the seq and hash the index holds for it. */
interface Wanted {
  readonly off: number;
  readonly len: number;
  readonly crc: number;
  readonly seq: number;
  readonly h: string;
}

export class DataFile {
  private reads = 0;
  private retired = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly file: IoFile,
    /** A snapshot's table of replica ids and base time, which its compact records are read with. */
    readonly compact?: CompactContext,
  ) {}

  /** Reads `length` bytes at `position`; fewer only at end of file. */
  async read(position: number, length: number): Promise<Buffer> {
    if (this.retired && this.closing) throw new ConcordError('STORAGE_ERROR', `${this.name} was read after it was closed`);
    this.reads++;
    try {
      const buf = Buffer.allocUnsafe(length);
      const n = await readFully(this.file, buf, length, position);
      return n === length ? buf : buf.subarray(0, n);
    } catch (e) {
      throw ioError(e, `reading ${this.name}`);
    } finally {
      this.reads--;
      if (this.retired && this.reads === 0) void this.close();
    }
  }

  /** Reads one stored record and checks it against the CRC the index holds for it (and its seq and hash). */
  async readRecord(position: number, length: number, crc: number, seq: number, h: string): Promise<StoredRecord> {
    return this.check(await this.read(position, length), { off: position, len: length, crc, seq, h });
  }

  /**
   * Several records at once, each checked against its CRC: records that lie next to each other (a snapshot's, a
   * segment's in log order) are read with one positioned read per run of them, not one each. A run is cut where a
   * gap passes `maxGap` bytes or the run passes `maxRun`. Returns them in the order asked.
   */
  async readRecords(wanted: ReadonlyArray<Wanted>, maxGap = 4096, maxRun = 1 << 20): Promise<StoredRecord[]> {
    const order = wanted.map((_, i) => i).sort((a, b) => wanted[a]!.off - wanted[b]!.off);
    const out: StoredRecord[] = new Array(wanted.length);
    const reads: Promise<void>[] = [];
    for (let i = 0; i < order.length; ) {
      const start = wanted[order[i]!]!.off;
      let end = start + wanted[order[i]!]!.len;
      let j = i + 1;
      for (; j < order.length; j++) {
        const w = wanted[order[j]!]!;
        if (w.off > end + maxGap || w.off + w.len - start > maxRun) break;
        end = Math.max(end, w.off + w.len);
      }
      const run = order.slice(i, j);
      reads.push(
        this.read(start, end - start).then((bytes) => {
          for (const k of run) {
            const w = wanted[k]!;
            out[k] = this.check(bytes.subarray(w.off - start, w.off - start + w.len), w);
          }
        }),
      );
      i = j;
    }
    await Promise.all(reads);
    return out;
  }

  private check(bytes: Buffer, w: Wanted): StoredRecord {
    if (bytes.length !== w.len || crc32(bytes) !== w.crc) {
      throw new ConcordError('CORRUPT', `${this.name}: the record at offset ${w.off} does not match its checksum`);
    }
    try {
      return decodeRecord(bytes, this.compact, w.seq, w.h);
    } catch {
      throw new ConcordError('CORRUPT', `${this.name}: the record at offset ${w.off} is not readable`);
    }
  }

  /** No longer referenced by the index: close once reads in flight are done. */
  retire(): void {
    this.retired = true;
    if (this.reads === 0) void this.close();
  }

  close(): Promise<void> {
    return (this.closing ??= this.file.close().catch(() => {}));
  }
}
