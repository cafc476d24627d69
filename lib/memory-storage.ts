/**
 * `memoryStorage()`: the storage port held in memory, for tests and ephemeral replicas. Transactions are
 * serialized and buffered (a throwing transaction leaves nothing behind); everything is durable at once.
 *
 * The change log per space is an append-only pair of arrays (seq, key) in increasing seq order; an entry is
 * stale once its key moved to a later seq, and stale entries are compacted away when they outnumber the live.
 */
import { ConcordError } from './errors.js';
import type { IndexEntry, KeyRecord, ScanOptions, StorageAdapter, StorageTx } from './storage.js';

interface SpaceData {
  records: Map<string, KeyRecord>;
  logSeq: number[];
  logKey: string[];
  sorted: string[] | null;
}

export function memoryStorage(): StorageAdapter {
  return new MemoryStorage();
}

function cloneMeta(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
}

class MemoryStorage implements StorageAdapter {
  private readonly data = new Map<string, SpaceData>();
  private readonly meta = new Map<string, unknown>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  async open(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
  }

  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      this.assertOpen();
      const tx = new MemoryTx(this);
      const result = await fn(tx);
      tx.closed = true;
      for (const [space, writes] of tx.writes) {
        for (const [key, rec] of writes) this.apply(space, key, rec);
      }
      for (const [name, value] of tx.meta) this.meta.set(name, value);
      return result;
    };
    const p = this.tail.then(run, run);
    this.tail = p.then(noop, noop);
    return p;
  }

  committed(space: string, key: string): KeyRecord | undefined {
    return this.data.get(space)?.records.get(key);
  }

  committedMeta(name: string): unknown {
    return cloneMeta(this.meta.get(name));
  }

  private apply(space: string, key: string, rec: KeyRecord | null): void {
    let d = this.data.get(space);
    if (!d) this.data.set(space, (d = { records: new Map(), logSeq: [], logKey: [], sorted: null }));
    const had = d.records.has(key);
    if (rec === null) {
      if (had) {
        d.records.delete(key);
        d.sorted = null;
      }
      return;
    }
    d.records.set(key, rec);
    if (!had) d.sorted = null;
    d.logSeq.push(rec.seq);
    d.logKey.push(key);
    if (d.logSeq.length > 64 && d.logSeq.length > 2 * d.records.size) compact(d);
  }

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    this.assertOpen();
    return this.committed(space, key);
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    this.assertOpen();
    return this.committedMeta(name) as T | undefined;
  }

  async scan(space: string, { prefix = '', after, limit }: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    this.assertOpen();
    const d = this.data.get(space);
    if (!d) return [];
    const keys = (d.sorted ??= [...d.records.keys()].sort());
    const from = after !== undefined && after >= prefix ? after : prefix;
    let i = lowerBound(keys, from);
    if (i < keys.length && keys[i] === after) i++;
    const out: Array<[string, KeyRecord]> = [];
    for (; i < keys.length && out.length < limit; i++) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) break;
      out.push([key, d.records.get(key)!]);
    }
    return out;
  }

  async readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    this.assertOpen();
    const d = this.data.get(space);
    if (!d) return [];
    const out: Array<[string, KeyRecord]> = [];
    for (let i = upperBound(d.logSeq, afterSeq); i < d.logSeq.length && out.length < limit; i++) {
      const key = d.logKey[i]!;
      const rec = d.records.get(key);
      if (rec && rec.seq === d.logSeq[i]) out.push([key, rec]);
    }
    return out;
  }

  async index(space: string): Promise<IndexEntry[]> {
    this.assertOpen();
    const d = this.data.get(space);
    if (!d) return [];
    const out: IndexEntry[] = [];
    for (const [key, rec] of d.records) out.push({ key, seq: rec.seq, h: rec.h });
    return out;
  }

  async spaces(): Promise<string[]> {
    this.assertOpen();
    return [...this.data].filter(([, d]) => d.records.size > 0).map(([name]) => name);
  }

  private assertOpen(): void {
    if (this.closed) throw new ConcordError('CLOSED', 'storage is closed');
  }
}

class MemoryTx implements StorageTx {
  readonly writes = new Map<string, Map<string, KeyRecord | null>>();
  readonly meta = new Map<string, unknown>();
  closed = false;

  constructor(private readonly store: MemoryStorage) {}

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    const w = this.writes.get(space);
    if (w?.has(key)) return w.get(key) ?? undefined;
    return this.store.committed(space, key);
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return (this.meta.has(name) ? cloneMeta(this.meta.get(name)) : this.store.committedMeta(name)) as T | undefined;
  }

  setMeta(name: string, value: unknown): void {
    this.assertLive();
    this.meta.set(name, cloneMeta(value));
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

function compact(d: SpaceData): void {
  const live: Array<[number, string]> = [];
  for (let i = 0; i < d.logSeq.length; i++) {
    const key = d.logKey[i]!;
    if (d.records.get(key)?.seq === d.logSeq[i]) live.push([d.logSeq[i]!, key]);
  }
  d.logSeq = live.map((e) => e[0]);
  d.logKey = live.map((e) => e[1]);
}

function lowerBound(a: readonly string[], x: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function noop(): void {}
