/**
 * A transaction's buffer: writes and metadata are held here until `fn` returns, read back by the
 * transaction itself, and handed over as one batch. Nothing reaches the index if `fn` throws.
 * A transaction run at once (`now`, file-storage.ts transactNow) reads only from memory: a read that would go to
 * disk throws NOT_NOW, which ends the run and keeps nothing of it.
 */
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord, StorageTx } from '../../lib/storage.js';
import type { Entry, SpaceIndex } from './keyspace.js';

/** Thrown by a read of a transaction run at once that cannot answer from memory. */
export const NOT_NOW: unique symbol = Symbol('not now');

export interface TxHost {
  /** The index of a space, if it has one. */
  spaceIndex(space: string): SpaceIndex | undefined;
  /** An entry's record, read from disk when not in memory. */
  readEntry(e: Entry): Promise<KeyRecord>;
  currentMeta(name: string): unknown;
}

export function cloneJson(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
}

/** Writes past which a transaction indexes them (a put writes one key; a join batch hundreds). */
const INDEX_FROM = 16;

export class FileTx implements StorageTx {
  /**
   * Writes as (space, key, record or null) triples, one per key: a later write of a key replaces its record in place
   * (as a Map keeps a key's first place). Made on the first write, as flat arrays: three Maps a put were a tenth of
   * what a put in flight allocated.
   */
  writes: Array<string | KeyRecord | null> | undefined;
  /** Metadata as (name, value) pairs, one per name. */
  meta: unknown[] | undefined;
  /** Where each key's triple starts, once a transaction writes more than INDEX_FROM keys. */
  private index: Map<string, Map<string, number>> | undefined;
  closed = false;
  /**
   * The key read from the index last, the entry it had, and the index's change count then: a put reads its key and
   * writes it, and its commit takes the entry from here rather than looking the key up again (batch.ts encodeWrites).
   */
  private seenIndex: SpaceIndex | undefined;
  private seenKey = '';
  private seenEntry: Entry | undefined;
  private seenAt = 0;

  constructor(
    private readonly host: TxHost,
    private readonly now = false,
  ) {}

  get(space: string, key: string): Promise<KeyRecord | undefined> | KeyRecord | undefined {
    const at = this.find(space, key);
    if (this.now) {
      if (at >= 0) return (this.writes![at + 2] as KeyRecord | null) ?? undefined;
      const e = this.look(space, key);
      if (e === undefined) return undefined;
      if (e.rec === undefined) throw NOT_NOW;
      return e.rec;
    }
    if (at >= 0) return Promise.resolve((this.writes![at + 2] as KeyRecord | null) ?? undefined);
    const e = this.look(space, key);
    return e === undefined ? Promise.resolve(undefined) : this.host.readEntry(e);
  }

  /** The key's entry in the index, kept as the last one seen. */
  private look(space: string, key: string): Entry | undefined {
    const s = this.host.spaceIndex(space);
    if (s === undefined) return undefined;
    const e = s.entry(key);
    this.seenIndex = s;
    this.seenKey = key;
    this.seenEntry = e;
    this.seenAt = s.changes;
    return e;
  }

  /**
   * The key's entry as this transaction read it from `s`, its space's index, while no entry of that index changed
   * since; null when it has not read the key so (the caller looks it up).
   */
  seen(s: SpaceIndex | undefined, key: string): Entry | undefined | null {
    return s !== undefined && s === this.seenIndex && key === this.seenKey && s.changes === this.seenAt ? this.seenEntry : null;
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  getMeta<T>(name: string): Promise<T | undefined> | T | undefined {
    const at = this.findMeta(name);
    const value = (at >= 0 ? cloneJson(this.meta![at + 1]) : this.host.currentMeta(name)) as T | undefined;
    return this.now ? value : Promise.resolve(value);
  }

  setMeta(name: string, value: unknown): void {
    this.assertLive();
    const at = this.findMeta(name);
    if (at >= 0) this.meta![at + 1] = cloneJson(value);
    else if (this.meta) this.meta.push(name, cloneJson(value));
    else this.meta = [name, cloneJson(value)];
  }

  get isEmpty(): boolean {
    return this.writes === undefined && this.meta === undefined;
  }

  private write(space: string, key: string, rec: KeyRecord | null): void {
    this.assertLive();
    const at = this.find(space, key);
    if (at >= 0) {
      this.writes![at + 2] = rec;
      return;
    }
    const w = this.writes;
    // The first write makes the array with its three slots (a push onto [] would reserve room for seventeen).
    if (w === undefined) {
      this.writes = [space, key, rec];
      return;
    }
    const start = w.length;
    w.push(space, key, rec);
    if (this.index) addIndex(this.index, space, key, start);
    else if (w.length > 3 * INDEX_FROM) {
      this.index = new Map();
      for (let i = 0; i < w.length; i += 3) addIndex(this.index, w[i] as string, w[i + 1] as string, i);
    }
  }

  /** Where the key's triple starts in `writes`, or -1. */
  private find(space: string, key: string): number {
    const w = this.writes;
    if (!w) return -1;
    if (this.index) return this.index.get(space)?.get(key) ?? -1;
    for (let i = w.length - 3; i >= 0; i -= 3) if (w[i + 1] === key && w[i] === space) return i;
    return -1;
  }

  private findMeta(name: string): number {
    const m = this.meta;
    if (m) for (let i = m.length - 2; i >= 0; i -= 2) if (m[i] === name) return i;
    return -1;
  }

  private assertLive(): void {
    if (this.closed) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}

function addIndex(index: Map<string, Map<string, number>>, space: string, key: string, at: number): void {
  let keys = index.get(space);
  if (!keys) index.set(space, (keys = new Map()));
  keys.set(key, at);
}
