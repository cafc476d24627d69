/**
 * One `transact` callback's view of a shared readwrite IndexedDB transaction (group commit: several
 * callbacks run one after another inside one IDB transaction, committed once, durably).
 *
 * Invariants:
 * - A callback's writes are buffered here and reach IndexedDB only when it returns (`flush`); a throwing
 *   callback is simply not flushed, so it leaves nothing behind while the others in the batch commit.
 * - Reads look at the buffer first, then IndexedDB. Requests run in issue order within a transaction,
 *   so a callback sees everything flushed by the callbacks before it.
 * - Only IndexedDB requests are awaited here, so the transaction stays active across a callback's awaits.
 */
import type { IDBPTransaction } from 'idb';
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord, StorageTx } from '../../lib/storage.js';
import type { Head, Schema } from './schema.js';

export type WriteTx = IDBPTransaction<Schema, ('heads' | 'states' | 'meta')[], 'readwrite'>;
type ReadTx = IDBPTransaction<Schema, ('heads' | 'states')[], 'readonly'>;

/** Reads one record (head and state) within a transaction; both requests are issued at once. */
export async function readRecord(tx: ReadTx | WriteTx, space: string, key: string): Promise<KeyRecord | undefined> {
  const t = tx as ReadTx;
  const [head, state] = await Promise.all([t.objectStore('heads').get([space, key]), t.objectStore('states').get([space, key])]);
  return head && state ? { ...state, seq: head.seq, h: head.h } : undefined;
}

export function cloneMeta(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
}

export class BatchTx implements StorageTx {
  private readonly writes = new Map<string, Map<string, KeyRecord | null>>();
  private readonly meta = new Map<string, unknown>();
  private live = true;

  constructor(private readonly tx: WriteTx) {}

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    const w = this.writes.get(space);
    if (w?.has(key)) return w.get(key) ?? undefined;
    return readRecord(this.tx, space, key);
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    if (this.meta.has(name)) return cloneMeta(this.meta.get(name)) as T | undefined;
    return (await this.tx.objectStore('meta').get(name)) as T | undefined;
  }

  setMeta(name: string, value: unknown): void {
    this.assertLive();
    this.meta.set(name, cloneMeta(value));
  }

  /** Ends the callback's use of this object; later calls throw. */
  finish(): void {
    this.live = false;
  }

  /**
   * Issues the buffered writes into the IDB transaction (synchronously: all or none of them, since the
   * transaction cannot become inactive in the middle) and adds the spaces written to `spaces`.
   */
  flush(spaces: Set<string>): void {
    const heads = this.tx.objectStore('heads');
    const states = this.tx.objectStore('states');
    const meta = this.tx.objectStore('meta');
    for (const [space, writes] of this.writes) {
      for (const [key, rec] of writes) {
        if (rec === null) {
          ignore(heads.delete([space, key]));
          ignore(states.delete([space, key]));
        } else {
          const { seq, h, ...state } = rec;
          const head: Head = { s: space, k: key, seq, h };
          ignore(heads.put(head));
          ignore(states.put(state, [space, key]));
        }
      }
      if (writes.size > 0) spaces.add(space);
    }
    for (const [name, value] of this.meta) ignore(meta.put(value, name));
  }

  private write(space: string, key: string, rec: KeyRecord | null): void {
    this.assertLive();
    let w = this.writes.get(space);
    if (!w) this.writes.set(space, (w = new Map()));
    w.set(key, rec);
  }

  private assertLive(): void {
    if (!this.live) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}

/** A failed write request aborts the transaction; the failure is reported once, through the transaction. */
function ignore(p: Promise<unknown>): void {
  p.catch(() => {});
}
