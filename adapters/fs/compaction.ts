/**
 * Compaction's pieces that need no file-storage state of their own: the view of the index a snapshot is written from
 * (the index minus the batches still queued for the new segment), chained records made whole for it (a snapshot's
 * records stand alone: record.ts), and the index re-pointed at the snapshot once it is durable.
 */
import type { DataFile } from './data-file.js';
import type { Entry, Keyspace } from './keyspace.js';
import type { SnapshotView, WrittenSnapshot } from './snapshot.js';
import type { KeyRecord } from '../../lib/storage.js';

/** What a queued batch replaced (file-storage.ts PendingBatch): enough to undo it in a view. */
export interface Undoable {
  /** Per change: its space and key, and the entry it replaced. */
  readonly spaces: readonly string[];
  readonly keys: readonly string[];
  readonly prevs: ReadonlyArray<Entry | undefined>;
  readonly metaUndo: ReadonlyArray<readonly [name: string, had: boolean, prev: unknown]> | undefined;
}

/** The index as it was before the still-queued batches: exactly what the older segments hold. */
export function stateWithout(ks: Keyspace, pending: readonly Undoable[]): { view: Map<string, Map<string, Entry>>; meta: Map<string, unknown> } {
  const view = new Map<string, Map<string, Entry>>();
  for (const [name, s] of ks.spaces) {
    s.materializeAll(); // the snapshot being replaced goes away: every key needs an Entry to re-point
    view.set(name, new Map(s.records as Map<string, Entry>));
  }
  const meta = new Map(ks.meta);
  for (let i = pending.length - 1; i >= 0; i--) {
    const b = pending[i]!;
    for (let j = b.keys.length - 1; j >= 0; j--) {
      const space = b.spaces[j]!;
      const key = b.keys[j]!;
      const prev = b.prevs[j];
      let m = view.get(space);
      if (!m) view.set(space, (m = new Map()));
      if (prev) m.set(key, prev);
      else m.delete(key);
    }
    for (let j = (b.metaUndo?.length ?? 0) - 1; j >= 0; j--) {
      const [name, had, prev] = b.metaUndo![j]!;
      if (had) meta.set(name, prev);
      else meta.delete(name);
    }
  }
  return { view, meta };
}

export function toSnapshotView(view: Map<string, Map<string, Entry>>, meta: Map<string, unknown>): SnapshotView {
  const spaces: SnapshotView['spaces'] = [];
  for (const [name, m] of view) {
    if (m.size === 0) continue;
    spaces.push([name, [...m].sort((a, b) => a[1].seq - b[1].seq)]);
  }
  return { meta, spaces };
}

/** Chained records of the view, read with their chains: the snapshot stores them whole. */
export async function wholeRecords(view: SnapshotView, read: (e: Entry) => Promise<KeyRecord>): Promise<Map<Entry, KeyRecord>> {
  const whole = new Map<Entry, KeyRecord>();
  for (const [, entries] of view.spaces) {
    for (const [, e] of entries) if (e.chained) whole.set(e, await read(e));
  }
  return whole;
}

/**
 * The snapshot is durable: its entries now live there, each standing alone in the form the snapshot stored it
 * (its length and CRC may differ from the log's: compact-record.ts).
 */
export function repoint(ks: Keyspace, view: SnapshotView, written: WrittenSnapshot, data: DataFile): void {
  view.spaces.forEach(([name, entries], si) => {
    const offs = written.offsets[si]!;
    const lens = written.lens[si]!;
    const crcs = written.crcs[si]!;
    const index = ks.space(name);
    entries.forEach(([key, e], i) => {
      e.file = data;
      e.off = offs[i]!;
      if (e.chained || e.len !== lens[i] || e.crc !== crcs[i]) {
        const weight = e.weight;
        e.standAlone(lens[i]!, crcs[i]!);
        index.reweighed(key, e, weight);
      }
    });
  });
}
