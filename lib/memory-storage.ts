/**
 * `memoryStorage()`: the storage port held in memory, for tests and ephemeral replicas. Transactions are
 * serialized and buffered (a throwing transaction leaves nothing behind); everything is durable at once.
 *
 * The change log per space is an append-only pair of arrays (seq, key) in increasing seq order; an entry is
 * stale once its key moved to a later seq, and stale entries are compacted away when they outnumber the live.
 */
import { ConcordError } from './errors.js';
import { keysInRange, upperBound } from './sorted.js';
import { RecordTable } from './memory-records.js';
import type { IndexEntry, KeyRecord, ScanOptions, StorageAdapter, StorageTx } from './storage.js';

interface SpaceData {
  /** Its records, most kept in columns (memory-records.ts). */
  records: RecordTable;
  logSeq: number[];
  logKey: string[];
  sorted: string[] | null;
}

export function memoryStorage(): StorageAdapter {
  return new MemoryStorage();
}

/** A copy of a metadata value, as JSON makes it (what a stored one reads back as). */
export function cloneMeta(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return flatCopy(value) ?? JSON.parse(JSON.stringify(value));
}

/** A JSON scalar that JSON gives back as it is (not -0, NaN or ±Infinity, which come back as 0 and null). */
const asIs = (v: unknown): boolean =>
  typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0));

/** Whether JSON serialises `o` through a toJSON method (its own or inherited), not field by field. */
const hasToJson = (o: object): boolean => typeof (o as { toJSON?: unknown }).toJSON === 'function';

/**
 * A plain object of such scalars and arrays of them (a sync cursor, what a peer delivered: every join of a received
 * frame stores one) copied field by field, which is what the JSON round trip makes of it; undefined for anything else.
 */
function flatCopy(o: object): object | undefined {
  if (Object.getPrototypeOf(o) !== Object.prototype || hasToJson(o)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (k === '__proto__') return undefined;
    if (asIs(v)) out[k] = v;
    else if (Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype && !hasToJson(v)) {
      for (let i = 0; i < v.length; i++) if (!asIs(v[i])) return undefined;
      out[k] = v.slice();
    } else return undefined;
  }
  return out;
}

interface Job {
  fn: (tx: StorageTx) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class MemoryStorage implements StorageAdapter {
  private readonly data = new Map<string, SpaceData>();
  private readonly meta = new Map<string, unknown>();
  /** Transactions waiting for the running one; at most one runs at a time. */
  private readonly queue: Job[] = [];
  private running = false;
  private idle: Array<() => void> = [];
  private closed = false;

  async open(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    if (this.running) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.closed = true;
  }

  transactNow<T>(fn: (tx: StorageTx) => T): { value: T } | undefined {
    if (this.running || this.queue.length > 0 || this.closed) return undefined;
    const tx = new MemoryTx(this);
    const value = fn(tx);
    if (value instanceof Promise) throw new ConcordError('STORAGE_ERROR', 'transactNow: the transaction answered with a promise');
    tx.finish();
    return { value };
  }

  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve, reject } as Job);
      if (!this.running) this.drain();
    });
  }

  /**
   * Runs queued transactions one at a time. A transaction whose function answers synchronously commits
   * at once; one that returns a promise holds the queue until it settles.
   */
  private drain(): void {
    this.running = true;
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      let tx: MemoryTx;
      let out: unknown;
      try {
        this.assertOpen();
        tx = new MemoryTx(this);
        out = job.fn(tx);
      } catch (e) {
        job.reject(e);
        continue;
      }
      if (out instanceof Promise) {
        out.then(
          (value) => {
            tx.finish();
            job.resolve(value);
          },
          job.reject,
        ).finally(() => this.drain());
        return;
      }
      tx.finish();
      job.resolve(out);
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** @internal Applies a committed transaction's writes. */
  applyWrite(space: string, key: string, rec: KeyRecord | null): void {
    this.apply(space, key, rec);
  }

  /** @internal */
  applyMeta(name: string, value: unknown): void {
    if (value === null) this.meta.delete(name);
    else this.meta.set(name, value);
  }

  committed(space: string, key: string): KeyRecord | undefined {
    return this.data.get(space)?.records.get(key);
  }

  committedMeta(name: string): unknown {
    return cloneMeta(this.meta.get(name));
  }

  /** The committed value of `name` itself (a reader that changes nothing: MemoryTx peekMeta). */
  keptMeta(name: string): unknown {
    return this.meta.get(name);
  }

  private apply(space: string, key: string, rec: KeyRecord | null): void {
    let d = this.data.get(space);
    if (!d) this.data.set(space, (d = { records: new RecordTable(), logSeq: [], logKey: [], sorted: null }));
    if (rec === null) {
      if (d.records.delete(key)) d.sorted = null;
      return;
    }
    if (d.records.set(key, rec)) d.sorted = null; // a new key
    d.logSeq.push(rec.seq);
    d.logKey.push(key);
    // One comparison read whole on every commit (not a second one first read at the 65th entry: its first run would
    // deoptimize the optimized commit that inlined it, as columns.ts says of its growth).
    if (d.logSeq.length > Math.max(64, 2 * d.records.size)) compact(d);
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
    return keysInRange(keys, prefix, after, limit).map((key) => [key, d.records.get(key)!]);
  }

  async readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    this.assertOpen();
    const d = this.data.get(space);
    if (!d) return [];
    const out: Array<[string, KeyRecord]> = [];
    for (let i = upperBound(d.logSeq, afterSeq); i < d.logSeq.length && out.length < limit; i++) {
      const key = d.logKey[i]!;
      if (d.records.seqOf(key) === d.logSeq[i]) out.push([key, d.records.get(key)!]);
    }
    return out;
  }

  async index(space: string): Promise<IndexEntry[]> {
    this.assertOpen();
    const d = this.data.get(space);
    if (!d) return [];
    return d.records.index();
  }

  async spaces(): Promise<string[]> {
    this.assertOpen();
    return [...this.data].filter(([, d]) => d.records.size > 0).map(([name]) => name);
  }

  private assertOpen(): void {
    if (this.closed) throw new ConcordError('CLOSED', 'storage is closed');
  }
}

/**
 * A transaction's buffered writes: the first write and the first metadata change in fields of its own (a put makes
 * one of each, and allocates no array for them), the rest in flat arrays searched from the end (a transaction writes
 * a handful of keys; a join batch a few hundred), made when needed. Reads answer at once.
 */
class MemoryTx implements StorageTx {
  private space0: string | undefined;
  private key0: string | undefined;
  private rec0: KeyRecord | null = null;
  private writes: Array<string | KeyRecord | null> | undefined; // space, key, record — triples after the first write
  private name0: string | undefined;
  private value0: unknown;
  private meta: unknown[] | undefined; // name, value — pairs after the first
  closed = false;

  constructor(private readonly store: MemoryStorage) {}

  get(space: string, key: string): KeyRecord | undefined {
    const w = this.writes;
    if (w) {
      for (let i = w.length - 3; i >= 0; i -= 3) {
        if (w[i + 1] === key && w[i] === space) return (w[i + 2] as KeyRecord | null) ?? undefined;
      }
    }
    if (this.key0 === key && this.space0 === space) return this.rec0 ?? undefined;
    return this.store.committed(space, key);
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  /** A copy of the value `peekMeta` finds (the caller may change it). */
  getMeta<T>(name: string): T | undefined {
    return cloneMeta(this.peekMeta(name)) as T | undefined;
  }

  /** The value kept (no copy): its reader only reads it, in this transaction. */
  peekMeta<T>(name: string): T | undefined {
    const m = this.meta;
    if (m) for (let i = m.length - 2; i >= 0; i -= 2) if (m[i] === name) return m[i + 1] as T;
    if (this.name0 === name) return this.value0 as T;
    return this.store.keptMeta(name) as T | undefined;
  }

  setMeta(name: string, value: unknown): void {
    this.setMetaOwned(name, cloneMeta(value));
  }

  /** Keeps `value` as it is: handed over, nothing else holds it (a copy of a JSON value: setMeta). */
  setMetaOwned(name: string, value: unknown): void {
    this.assertLive();
    if (this.name0 === undefined) {
      this.name0 = name;
      this.value0 = value;
    } else if (this.meta) this.meta.push(name, value);
    else this.meta = [name, value];
  }

  /** Ends the transaction and applies its writes, in the order made. */
  finish(): void {
    this.closed = true;
    if (this.space0 !== undefined) this.store.applyWrite(this.space0, this.key0!, this.rec0);
    const w = this.writes;
    if (w) for (let i = 0; i < w.length; i += 3) this.store.applyWrite(w[i] as string, w[i + 1] as string, w[i + 2] as KeyRecord | null);
    if (this.name0 !== undefined) this.store.applyMeta(this.name0, this.value0);
    const m = this.meta;
    if (m) for (let i = 0; i < m.length; i += 2) this.store.applyMeta(m[i] as string, m[i + 1]);
  }

  private write(space: string, key: string, rec: KeyRecord | null): void {
    this.assertLive();
    if (this.space0 === undefined) {
      this.space0 = space;
      this.key0 = key;
      this.rec0 = rec;
    } else if (this.writes) this.writes.push(space, key, rec);
    else this.writes = [space, key, rec];
  }

  private assertLive(): void {
    if (this.closed) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}

function compact(d: SpaceData): void {
  const live: Array<[number, string]> = [];
  for (let i = 0; i < d.logSeq.length; i++) {
    const key = d.logKey[i]!;
    if (d.records.seqOf(key) === d.logSeq[i]) live.push([d.logSeq[i]!, key]);
  }
  d.logSeq = live.map((e) => e[0]);
  d.logKey = live.map((e) => e[1]);
}
