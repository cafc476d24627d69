/**
 * The in-memory index of a file storage: per space, key → Entry (seq, hash, where the record text lives),
 * and the change log as append-only arrays (seq, key) in increasing seq order, whose stale entries (the
 * key moved to a later seq) are compacted away when they outnumber the live ones. Values are not held:
 * an entry keeps its KeyRecord only while its batch is not yet on disk, or briefly as a read cache.
 *
 * Keys loaded from a snapshot stay rows of its flat columns (BaseColumns) until an Entry is needed.
 *
 * Invariants: every entry either has `rec` (pending or cached) or a `file` (durable), or both; an entry
 * object's seq and hash never change (only its location does, when compaction moves it to a snapshot),
 * so comparing entry identity tells whether a key changed. Changes return what they replaced, which is
 * what a failed batch's rollback restores.
 */
import { cutHere } from '../../lib/chain.js';
import { chainBound } from '../../lib/deltas.js';
import type { KeyRecord } from '../../lib/storage.js';
import type { DataFile } from './data-file.js';
import { keysInRange, upperBound } from '../../lib/sorted.js';

/** How a chained record (record.ts) hangs on the key's previous one: kept apart, as most records stand alone. */
interface Chain {
  /** The entry this record is read with (undefined: the previous record is missing, so this one cannot be read). */
  readonly prev: Entry | undefined;
  /** Records back to one that stands alone. */
  readonly depth: number;
  /** Bytes on disk this record needs: its own, and its chain's. */
  readonly weight: number;
  /** Bytes of the record that stands alone at the chain's start. */
  readonly rootLen: number;
}

export class Entry {
  /** Set while the record is chained (one object for the four fields: an entry per key, pending or not, is smaller). */
  private chain: Chain | undefined = undefined;
  /**
   * The CRC-32 as a signed 32-bit integer: a small integer, held in the entry itself. Kept as the unsigned number it is,
   * half of all CRCs (those at or above 2^31) would each take a heap number, and a field that ever held one holds every
   * value so: one more object per entry, per put in flight. NaN for a value no CRC-32 has (a frame's head is checked
   * for a number only): it is answered as -1, which no record's checksum matches — as the value itself matched none —
   * rather than as its low 32 bits, which one might.
   */
  private crcBits: number;

  constructor(
    readonly seq: number,
    readonly h: string,
    public len: number,
    crc: number,
    public rec: KeyRecord | undefined,
    /**
     * Where the record is stored once durable: set when its batch's group was fsynced (file-storage.ts onDurable), or
     * when loaded from disk; undefined while its batch is pending (so an entry is durable exactly when it has a file).
     */
    public file: DataFile | undefined = undefined,
    public off = 0,
  ) {
    this.crcBits = crcBitsOf(crc);
  }

  /** The CRC-32 of the record's stored form (unsigned, as frames and snapshots name it). */
  get crc(): number {
    const c = this.crcBits;
    return c === c ? c >>> 0 : -1;
  }

  /** A chained record (record.ts) is read with the key's previous record: this one. */
  get prev(): Entry | undefined {
    return this.chain?.prev;
  }

  get chained(): boolean {
    return this.chain !== undefined;
  }

  /** Records back to one that stands alone (0 for one that does). */
  get depth(): number {
    return this.chain?.depth ?? 0;
  }

  /** Bytes on disk this record needs: its own, and its chain's. */
  get weight(): number {
    return this.chain?.weight ?? this.len;
  }

  /** Bytes of the record that stands alone at the chain's start. */
  get rootLen(): number {
    return this.chain?.rootLen ?? this.len;
  }

  /** This record is chained to `prev` (undefined: its previous record is missing, so it cannot be read). */
  chainTo(prev: Entry | undefined): void {
    this.chain = { prev, depth: (prev?.depth ?? 0) + 1, weight: this.len + (prev?.weight ?? 0), rootLen: prev?.rootLen ?? 0 };
  }

  /** Now stored whole at (file, off): no chain. */
  standAlone(len: number, crc: number): void {
    this.len = len;
    this.crcBits = crcBitsOf(crc);
    this.chain = undefined;
  }
}

/** A CRC-32 as Entry holds it: its bits as a signed 32-bit integer, or NaN for a number that is no CRC-32. */
function crcBitsOf(crc: number): number {
  return crc >>> 0 === crc ? crc | 0 : NaN;
}

/**
 * A snapshot's index of one space, as flat columns: keys loaded from a snapshot are held as row numbers
 * into these until something needs their Entry (opening 100 000 keys allocates no Entry objects).
 */
export interface BaseColumns {
  readonly file: DataFile;
  readonly seqs: Float64Array;
  readonly lens: Uint32Array;
  readonly crcs: Uint32Array;
  readonly offs: Float64Array;
  /** 16 hex digits per row, or one string per row when some hash is not 16 characters. */
  readonly hashes: string | string[];
}

function hashAt(b: BaseColumns, row: number): string {
  return typeof b.hashes === 'string' ? b.hashes.slice(row * 16, row * 16 + 16) : b.hashes[row]!;
}

export class SpaceIndex {
  /** key → Entry, or a row of `base` not yet materialized. */
  readonly records = new Map<string, Entry | number>();
  base: BaseColumns | undefined;
  logSeq: number[] = [];
  logKey: string[] = [];
  sorted: string[] | null = null;
  bytes = 0;
  /** Counts the changes of which entry a key has (a transaction's read of an entry stays good while this holds: tx.ts). */
  changes = 0;

  private materialize(key: string, row: number): Entry {
    const b = this.base!;
    const e = new Entry(b.seqs[row]!, hashAt(b, row), b.lens[row]!, b.crcs[row]!, undefined, b.file, b.offs[row]!);
    this.records.set(key, e);
    return e;
  }

  entry(key: string): Entry | undefined {
    const v = this.records.get(key);
    return typeof v === 'number' ? this.materialize(key, v) : v;
  }

  private seqOf(v: Entry | number): number {
    return typeof v === 'number' ? this.base!.seqs[v]! : v.seq;
  }

  private lenOf(v: Entry | number): number {
    return typeof v === 'number' ? this.base!.lens[v]! : v.weight;
  }

  /** A stored entry's weight changed (compaction stored it whole): keep the byte count. */
  reweighed(key: string, entry: Entry, before: number): void {
    if (this.records.get(key) === entry) this.bytes += entry.weight - before;
  }

  /** Replaces a key's entry (undefined: removes it). */
  set(key: string, entry: Entry | undefined): void {
    if (this.replace(key, entry, this.records.get(key))) this.logAppend(entry!.seq, key);
  }

  /**
   * Replaces or removes a key's row (`prev`: the row it has, undefined when none — passed, not a default: a default
   * would look an absent key up again), keeping the byte count and key order; true when a row was stored.
   */
  private replace(key: string, entry: Entry | undefined, prev: Entry | number | undefined): boolean {
    this.changes++;
    if (prev !== undefined) this.bytes -= this.lenOf(prev);
    if (entry === undefined) {
      if (prev !== undefined) {
        this.records.delete(key);
        this.sorted = null;
      }
      return false;
    }
    if (prev === undefined) this.sorted = null;
    this.records.set(key, entry);
    this.bytes += entry.weight;
    return true;
  }

  /**
   * Like set, and returns the entry it replaced (what a rollback restores). `prev` is that entry as the caller has just
   * read it (`entry(key)`, nothing changed since; undefined: the key has none): the key is not looked up again.
   */
  swap(key: string, entry: Entry | undefined, prev: Entry | undefined): Entry | undefined {
    if (this.replace(key, entry, prev)) this.logAppend(entry!.seq, key);
    return prev;
  }

  /** Every row still held as a number becomes an Entry (before compaction moves them to a new file). */
  materializeAll(): void {
    if (!this.base) return;
    for (const [key, v] of this.records) if (typeof v === 'number') this.materialize(key, v);
    this.base = undefined;
  }

  /** Puts back what a failed batch replaced; its log position may have been compacted away meanwhile. */
  restore(key: string, entry: Entry | undefined): void {
    if (!this.replace(key, entry, this.records.get(key))) return;
    const seq = entry!.seq;
    let i = upperBound(this.logSeq, seq - 1);
    for (; i < this.logSeq.length && this.logSeq[i] === seq; i++) if (this.logKey[i] === key) return;
    this.logSeq.splice(i, 0, seq);
    this.logKey.splice(i, 0, key);
  }

  private logAppend(seq: number, key: string): void {
    const n = this.logSeq.length;
    if (n > 0 && this.logSeq[n - 1]! > seq) {
      const i = upperBound(this.logSeq, seq);
      this.logSeq.splice(i, 0, seq);
      this.logKey.splice(i, 0, key);
    } else {
      this.logSeq.push(seq);
      this.logKey.push(key);
    }
    if (this.logSeq.length > 64 && this.logSeq.length > 2 * this.records.size) this.compactLog();
  }

  private compactLog(): void {
    const seqs: number[] = [];
    const keys: string[] = [];
    for (let i = 0; i < this.logSeq.length; i++) {
      const key = this.logKey[i]!;
      const v = this.records.get(key);
      if (v !== undefined && this.seqOf(v) === this.logSeq[i]) {
        seqs.push(this.logSeq[i]!);
        keys.push(key);
      }
    }
    this.logSeq = seqs;
    this.logKey = keys;
  }

  /** Log entries after `afterSeq` in seq order, stopping at the first one `durable` rejects. */
  log(afterSeq: number, limit: number, durable: (e: Entry) => boolean): Array<[string, Entry]> {
    const out: Array<[string, Entry]> = [];
    for (let i = upperBound(this.logSeq, afterSeq); i < this.logSeq.length && out.length < limit; i++) {
      const key = this.logKey[i]!;
      const v = this.records.get(key);
      if (v === undefined || this.seqOf(v) !== this.logSeq[i]) continue;
      const e = this.entry(key)!;
      if (!durable(e)) break;
      out.push([key, e]);
    }
    return out;
  }

  /** Keys in order, with the prefix, after `after` (exclusive), at most `limit`. */
  scan(prefix: string, after: string | undefined, limit: number): Array<[string, Entry]> {
    const keys = (this.sorted ??= [...this.records.keys()].sort());
    return keysInRange(keys, prefix, after, limit).map((key) => [key, this.entry(key)!]);
  }

  /** How many keys have a seq at or below `upTo`, and the highest such seq (no hash made, no entry built). */
  summary(upTo: number): { keys: number; lastSeq: number } {
    const b = this.base;
    let keys = 0;
    let lastSeq = 0;
    for (const v of this.records.values()) {
      const seq = typeof v === 'number' ? b!.seqs[v]! : v.seq;
      if (seq > upTo) continue;
      keys++;
      if (seq > lastSeq) lastSeq = seq;
    }
    return { keys, lastSeq };
  }

  /** Every key with its seq and hash, without materializing entries. */
  index(): Array<{ key: string; seq: number; h: string }> {
    const out: Array<{ key: string; seq: number; h: string }> = [];
    const b = this.base;
    for (const [key, v] of this.records) {
      if (typeof v === 'number') out.push({ key, seq: b!.seqs[v]!, h: hashAt(b!, v) });
      else out.push({ key, seq: v.seq, h: v.h });
    }
    return out;
  }
}

export class Keyspace {
  readonly spaces = new Map<string, SpaceIndex>();
  readonly meta = new Map<string, unknown>();

  space(name: string): SpaceIndex {
    let s = this.spaces.get(name);
    if (!s) this.spaces.set(name, (s = new SpaceIndex()));
    return s;
  }

  get(space: string, key: string): Entry | undefined {
    return this.spaces.get(space)?.entry(key);
  }

  liveBytes(): number {
    let n = 0;
    for (const s of this.spaces.values()) n += s.bytes;
    return n;
  }

  keyCount(): number {
    let n = 0;
    for (const s of this.spaces.values()) n += s.records.size;
    return n;
  }
}

/** Records a chain may grow to before a record is stored whole again (reading a key reads its chain). */
export const MAX_DISK_CHAIN = 128;

/**
 * Records a chain starting from a record of `rootLen` bytes may grow to: MAX_DISK_CHAIN, or the in-memory bound for a
 * value of that size where it is longer (lib/deltas.ts chainBound: one per KiB, up to 1 024). Cutting a chain writes
 * the whole value again (a 300 KB document every 128 keystrokes was 2.3 KB written a keystroke, and an encode of the
 * document on the writer's write path); a longer chain of small records costs a read of the key little beside its root.
 */
export function diskChainBound(rootLen: number): number {
  return Math.max(MAX_DISK_CHAIN, chainBound(rootLen));
}

/**
 * Whether `rec`, the next record of a key, may be chained to `prev` (stored as its deltas and references, record.ts):
 * while its deltas weigh less than the record they start from, and while the chain is short enough to read at once
 * (diskChainBound). Past that bound the chain is cut at the first record whose values are all at hand (a writer's
 * document binding or a working copy materialized them): storing one that is not whole would apply the chain's
 * deltas again (a 300 KB document: ~27 ms on the writer's write path). At twice the bound it is cut regardless.
 */
export function chainable(prev: Entry, rec: KeyRecord): boolean {
  return prev.weight - prev.rootLen <= prev.rootLen && !cutHere(prev.depth, diskChainBound(prev.rootLen), rec);
}

/** Sets a metadata name, or removes it for null (StorageTx.setMeta): the log's frames and snapshots say the same. */
export function setMetaOf(meta: Map<string, unknown>, name: string, value: unknown): void {
  if (value === null) meta.delete(name);
  else meta.set(name, value);
}
