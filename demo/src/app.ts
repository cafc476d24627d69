/** What every panel of the demo shares: the device, its replica and space, and the write journal. */
import type { Replica, Space, WriteResult } from '../../lib/index.js';
import type { Device } from './device.js';

export const SPACE = 'demo';
export const LIST_KEY = 'list';
/** Document contents (Yjs documents, concord/yjs) and their titles, by document id. */
export const DOC_PREFIX = 'docs/';
export const TITLE_PREFIX = 'doc-titles/';
export const NOTE_PREFIX = 'notes/';

export interface WriteEntry {
  readonly key: string;
  readonly what: string;
  readonly at: number;
  /** The dot the write minted (notation.ts), if it changed anything. */
  readonly dot: string | undefined;
  durability: 'local' | 'synced';
}

/** The latest writes of this window, each shown as local until a relay stored it. */
export class WriteJournal {
  readonly entries: WriteEntry[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(private readonly limit = 6) {}

  track(what: string, w: WriteResult, dot?: string): void {
    const entry: WriteEntry = { key: w.key, what, at: Date.now(), dot, durability: w.durability === 'local' ? 'local' : 'synced' };
    // One row per key and action, the latest.
    const same = this.entries.findIndex((e) => e.key === entry.key && e.what === entry.what);
    if (same >= 0) this.entries.splice(same, 1);
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, this.limit);
    this.changed();
    if (entry.durability === 'local') {
      void w.synced.then(() => {
        entry.durability = 'synced';
        this.changed();
      });
    }
  }

  onChange(cb: () => void): void {
    this.listeners.add(cb);
  }

  private changed(): void {
    for (const cb of this.listeners) cb();
  }
}

export interface App {
  readonly device: Device;
  readonly replica: Replica;
  readonly space: Space;
  readonly relayUrl: string;
  readonly journal: WriteJournal;
  /** Records a write in the journal and returns it. */
  wrote(what: string, w: WriteResult): WriteResult;
}
