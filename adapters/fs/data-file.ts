/**
 * A data file that records are read from (a log segment or a snapshot), shared by every index entry
 * pointing into it. Reads are positioned and counted, so a file retired by compaction is closed only once
 * no read is in flight (its name may already be unlinked: an open descriptor still reads it).
 */
import { ConcordError } from '../../lib/errors.js';
import { crc32 } from './crc32.js';
import { decodeRecord, type StoredRecord } from './record.js';
import { ioError } from './io-errors.js';
import { readFully, type IoFile } from './io.js';

export class DataFile {
  private reads = 0;
  private retired = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly file: IoFile,
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

  /** Reads one stored record and checks it against the CRC the index holds for it. */
  async readRecord(position: number, length: number, crc: number): Promise<StoredRecord> {
    const bytes = await this.read(position, length);
    if (bytes.length !== length || crc32(bytes) !== crc) {
      throw new ConcordError('CORRUPT', `${this.name}: the record at offset ${position} does not match its checksum`);
    }
    try {
      return decodeRecord(bytes);
    } catch {
      throw new ConcordError('CORRUPT', `${this.name}: the record at offset ${position} is not readable`);
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
