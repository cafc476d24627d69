/**
 * A transaction's buffer: writes and metadata are held here until `fn` returns, read back by the
 * transaction itself, and handed over as one batch. Nothing reaches the index if `fn` throws.
 * A transaction run at once (`now`, file-storage.ts transactNow) reads only from memory: a read that would go to
 * disk throws NOT_NOW, which ends the run and keeps nothing of it.
 */
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord, StorageTx } from '../../lib/storage.js';

/** Thrown by a read of a transaction run at once that cannot answer from memory. */
export const NOT_NOW: unique symbol = Symbol('not now');

export interface TxHost {
  readCurrent(space: string, key: string): Promise<KeyRecord | undefined>;
  currentNow(space: string, key: string): KeyRecord | undefined | typeof NOT_NOW;
  currentMeta(name: string): unknown;
}

export function cloneJson(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
}

export class FileTx implements StorageTx {
  readonly writes = new Map<string, Map<string, KeyRecord | null>>();
  readonly meta = new Map<string, unknown>();
  closed = false;

  constructor(
    private readonly host: TxHost,
    private readonly now = false,
  ) {}

  get(space: string, key: string): Promise<KeyRecord | undefined> | KeyRecord | undefined {
    const w = this.writes.get(space);
    if (this.now) {
      if (w?.has(key)) return w.get(key) ?? undefined;
      const rec = this.host.currentNow(space, key);
      if (rec === NOT_NOW) throw NOT_NOW;
      return rec;
    }
    if (w?.has(key)) return Promise.resolve(w.get(key) ?? undefined);
    return this.host.readCurrent(space, key);
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  getMeta<T>(name: string): Promise<T | undefined> | T | undefined {
    const value = (this.meta.has(name) ? cloneJson(this.meta.get(name)) : this.host.currentMeta(name)) as T | undefined;
    return this.now ? value : Promise.resolve(value);
  }

  setMeta(name: string, value: unknown): void {
    this.assertLive();
    this.meta.set(name, cloneJson(value));
  }

  get isEmpty(): boolean {
    return this.writes.size === 0 && this.meta.size === 0;
  }

  private write(space: string, key: string, rec: KeyRecord | null): void {
    this.assertLive();
    let w = this.writes.get(space);
    if (!w) this.writes.set(space, (w = new Map()));
    w.set(key, rec);
  }

  private assertLive(): void {
    if (this.closed) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}
