/**
 * Records of a key as a chain (schema.ts): its root in `states`, then `ch` records in `deltas`, each stored as
 * its deltas and references against the one before (lib/chain.ts). A write that derives from the key's previous
 * record adds a row of about its delta; past the in-memory chain's bound (lib/chain.ts recordChainBound: 64 rows, more
 * over large values; a read reads them all) the record is stored whole again, as the new root, and the rows go — at the
 * first record whose values are at hand, and at twice the bound whatever it costs (lib/chain.ts cutHere).
 */
import { chainForm, cutHere, recordChainBound, unchain } from '../../lib/chain.js';
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord } from '../../lib/storage.js';
import type { Head, StoredRow } from './schema.js';

/** A record read back with what its write needs to know: its chain's length. */
export interface ReadRecord {
  rec: KeyRecord;
  ch: number;
}

function row(rec: KeyRecord, vs: StoredRow['vs']): StoredRow {
  const out: StoredRow = rec.src === undefined ? { vs, cc: rec.cc } : { vs, cc: rec.cc, src: rec.src };
  // Points only where a context names an epoch (no record holds one yet: record.ts); untagged rows are as they were.
  if (rec.pts !== undefined) out.pts = rec.pts;
  return out;
}

/** The key's record from its head, root and chain rows (in seq order). Throws CORRUPT when they do not fit. */
export function assemble(head: Head, root: StoredRow, rows: readonly StoredRow[]): ReadRecord {
  const ch = head.ch ?? 0;
  try {
    if (rows.length !== ch) throw new Error(`${rows.length} chain rows where the head says ${ch}`);
    let rec: KeyRecord = { vs: unchain(root.vs, undefined), cc: root.cc, ...(root.pts !== undefined ? { pts: root.pts } : {}), seq: head.seq, h: head.h, ...(root.src !== undefined ? { src: root.src } : {}) };
    for (const r of rows) rec = { vs: unchain(r.vs, rec), cc: r.cc, ...(r.pts !== undefined ? { pts: r.pts } : {}), seq: head.seq, h: head.h, ...(r.src !== undefined ? { src: r.src } : {}) };
    return { rec, ch };
  } catch (cause) {
    throw new ConcordError('CORRUPT', `the stored record of ${JSON.stringify(head.k)} in space ${JSON.stringify(head.s)} does not read back`, { cause });
  }
}

/**
 * How a write stores `rec` after `base` (the key's record before it, with its chain length; undefined when absent
 * or not read): chained as a `deltas` row when it derives from or repeats `base`'s versions, else whole in `states`.
 */
export function storedForm(rec: KeyRecord, base: ReadRecord | undefined): { chained: boolean; row: StoredRow; ch: number } {
  if (base && !cutHere(base.ch, recordChainBound(base.rec), rec)) {
    const form = chainForm(rec, base.rec);
    if (form.chained) return { chained: true, row: row(rec, form.vs), ch: base.ch + 1 };
    return { chained: false, row: row(rec, form.vs), ch: 0 };
  }
  return { chained: false, row: row(rec, chainForm(rec, undefined).vs), ch: 0 };
}
