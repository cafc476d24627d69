/**
 * The log's binary record (record format 2, from this release): a record whose values are all texts (record.ts
 * isPlain, the form of most puts) stored in a log frame as
 *
 *   0x02 ‖ the compact form's body (compact-record.ts writeState), its ids written inline and its times from 0
 *
 * An id (a replica id or an epoch label) is a varint i: below the count of names the record gave so far, that name;
 * equal to it, a new name, whose text follows (length ‖ UTF-8). The record's seq and hash are not in it: its frame's
 * head names them (frame.ts), as a snapshot's index does for its compact records. A text value is its UTF-8, not a JSON
 * text in a JSON text: an S4 put's record is about 80 bytes instead of 190, written without escaping and checksummed in
 * half the bytes.
 *
 * A frame names each put stored so (frame.ts RECORD_V2 in its head op), and an earlier release refuses such an op when
 * it opens the directory (CORRUPT: its reader takes only the chained mark there), rather than opening and failing key
 * by key. A record the form cannot hold (a number that is not a non-negative safe integer, a text with a lone
 * surrogate) is stored as its JSON, as before. Snapshots never hold this form (snapshot.ts): a directory compacted
 * to its snapshot is read by the releases that read snapshot version 3.
 */
import type { KeyRecord } from '../../lib/storage.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { readState, writeState, type IdOut } from './compact-record.js';
import type { StoredRecord } from './record.js';

export const LOG_RECORD = 0x02;

/** Names looked up among the first this many a record gave (a later one is written again: a record of many writers). */
const LOOKED_UP = 16;
/** The scratch writer's size kept between records (one that grew past it for a large value is let go). */
const SCRATCH = 1 << 12;

let scratch = new ByteWriter(SCRATCH);
/** The names the record being written gave so far: the first `named` of them. */
const names: string[] = [];
let named = 0;

const inlineId: IdOut = (w, id, plus) => {
  const n = named;
  for (let i = 0; i < n && i < LOOKED_UP; i++) {
    if (names[i] === id) {
      w.uint(i + plus);
      return true;
    }
  }
  w.uint(n + plus);
  if (n < LOOKED_UP) names[n] = id;
  named++;
  return w.text(id);
};

/**
 * Writes `rec` in the log's binary form into a scratch writer; answers the writer, its bytes from 0 to its `at` (the
 * next call overwrites them: copy them before), or undefined where the form cannot hold the record.
 */
export function encodeLogRecord(rec: KeyRecord): ByteWriter | undefined {
  if (scratch.buf.length > SCRATCH) scratch = new ByteWriter(SCRATCH);
  const w = scratch;
  w.at = 0;
  w.uint(LOG_RECORD);
  named = 0;
  const ok = writeState(w, rec, inlineId, 0);
  return ok ? w : undefined;
}

const logError = (why: string) => new Error(`a log record: ${why}`);

/** Reads a record of the log's binary form; `seq` and `h` are its frame head's. Throws on anything malformed. */
export function decodeLogRecord(b: Buffer, seq: number, h: string): StoredRecord {
  const reader = new ByteReader(b, 1, b.length, logError);
  const given: string[] = [];
  const id = (i: number): string => {
    if (i < given.length) return given[i]!;
    if (i !== given.length) throw logError('an id not given');
    const [s, e] = reader.skip();
    const name = b.toString('utf8', s, e);
    given.push(name);
    return name;
  };
  return readState(b, reader, id, 0, seq, h);
}
