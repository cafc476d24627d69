/**
 * A simulated disk with file-storage semantics (see adapters/fs/file-storage.ts), for the simulator and for
 * tests of crash, restore and tab faults. One `SimDisk` is the data; `disk.instance()` is one process (or one
 * browser tab) that has it open, a StorageAdapter. Invariants, as for file storage:
 *
 * - Transactions of every instance are serialized; one is *applied* as soon as its function returns (the next
 *   transaction, `get`, `scan`, `index` and `getMeta` of every instance see it) and its `transact()` resolves only
 *   once it is *durable*: after a group commit's fsync, a delay drawn from `fsyncDelay` on the given timers
 *   (virtual time in the simulator). Transactions committed while an fsync runs go in the next group.
 *   With no `fsyncDelay`, a transaction is durable when it is applied (like memoryStorage).
 * - A transaction that wrote nothing resolves once everything applied before it is durable.
 * - `readLog` returns durable records only, and stops at the first log entry that is not durable.
 * - `crash()`: power loss. Every transaction not yet durable is gone (its `transact()` rejects with
 *   ConcordError 'CLOSED'), and every instance is dead: each call on it rejects 'CLOSED'. The next
 *   `instance()` opens the durable state.
 * - `failNextCommit(n)`: the disk is full for the next `n` group commits (as file storage's log write failing with
 *   ENOSPC, adapters/fs/log-writer.ts): the group whose fsync would complete, and every transaction queued after it
 *   (applied on top of it), is rejected in order with ConcordError 'STORAGE_FULL', and the applied state goes back to
 *   the durable one (nothing of them stays: file-storage.ts onFailed). A transaction whose function was running then
 *   rejects with 'STORAGE_ERROR' once it returns, nothing of it kept (file storage's failEpoch). Instances stay
 *   alive, and later transactions commit as before. Instances whose log read stopped before a record a failed write
 *   held are told (as when a group is durable), and so are the other instances, of the spaces the failed writes
 *   touched. Without `fsyncDelay` the failing transaction is rejected at once, nothing of it applied. The count lapses
 *   when no instance is live (a crash, the last close): a replica opening later finds room again.
 * - `copy()`: a new disk holding this one's durable state (a backup, a copied directory, a VM snapshot).
 * - Several live instances share the state (tabs of one origin): after a transaction of one is durable, the
 *   others' `onExternalChange` listeners hear the spaces it changed (a hint, on the timers, like
 *   BroadcastChannel), and `leadership()` makes exactly one live instance the leader (the earliest to ask),
    if (!this.disk.jitter) return this.disk.readLog(space, afterSeq, limit, this);
    return this.jittered(() => this.disk.readLog(space, afterSeq, limit, this));
 */
import { coversDot } from '../../lib/dvv.js';
import { NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import { ConcordError } from '../../lib/errors.js';
import type { IndexEntry, KeyRecord, Leadership, ScanOptions, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { keysInRange, upperBound } from '../../lib/sorted.js';
import type { Timers } from '../../lib/sync/link.js';

export interface SimDiskOptions {
  timers: Timers;
  /** Virtual ms one group commit's fsync takes; undefined: durable at once. */
  fsyncDelay?: () => number;
  /**
   * The disk tells where it lives (StorageAdapter `location`), and a copy lives elsewhere: as the file storage's
   * directory does. Without it, a copy cannot be told from the original (IndexedDB, a VM snapshot).
   */
  tellsCopies?: boolean;
  /**
   * Storage-timing jitter: the delay of one completion, drawn per completion (from a stream of the caller's own):
   * n ≥ 0 waits n microtasks, n < 0 one zero-delay timer on `timers` (so a timer due now may fire first).
   */
  jitter?: () => number;
}

let places = 0;

interface Placed {
  rec: KeyRecord;
  /** The batch that wrote it (0: durable from the start, e.g. after a crash or copy). */
  batch: number;
}

class SpaceState {
  readonly records = new Map<string, Placed>();
  logSeq: number[] = [];
  logKey: string[] = [];
  sorted: string[] | null = null;

  put(key: string, p: Placed): void {
    if (!this.records.has(key)) this.sorted = null;
    this.records.set(key, p);
    const last = this.logSeq[this.logSeq.length - 1];
    if (last !== undefined && p.rec.seq < last) {
      // Out of order (never from the engine, which mints increasing seqs): rebuild the log sorted.
      this.logSeq.push(p.rec.seq);
      this.logKey.push(key);
      const order = this.logSeq.map((s, i) => [s, this.logKey[i]!] as const).sort((a, b) => a[0] - b[0]);
      this.logSeq = order.map((e) => e[0]);
      this.logKey = order.map((e) => e[1]);
    } else {
      this.logSeq.push(p.rec.seq);
      this.logKey.push(key);
    }
    if (this.logSeq.length > 64 && this.logSeq.length > 2 * this.records.size) this.compact();
  }

  remove(key: string): void {
    if (this.records.delete(key)) this.sorted = null;
  }

  private compact(): void {
    const live: Array<[number, string]> = [];
    for (let i = 0; i < this.logSeq.length; i++) if (this.records.get(this.logKey[i]!)?.rec.seq === this.logSeq[i]) live.push([this.logSeq[i]!, this.logKey[i]!]);
    this.logSeq = live.map((e) => e[0]);
    this.logKey = live.map((e) => e[1]);
  }
}

class State {
  readonly spaces = new Map<string, SpaceState>();
  readonly meta = new Map<string, string>();

  space(name: string): SpaceState {
    let s = this.spaces.get(name);
    if (!s) this.spaces.set(name, (s = new SpaceState()));
    return s;
  }

  /** A copy whose records are all marked durable (batch 0). */
  clone(): State {
    const out = new State();
    for (const [name, s] of this.spaces) {
      const entries = [...s.records].sort((a, b) => a[1].rec.seq - b[1].rec.seq);
      const t = out.space(name);
      for (const [key, p] of entries) t.put(key, { rec: p.rec, batch: 0 });
    }
    for (const [k, v] of this.meta) out.meta.set(k, v);
    return out;
  }
}

type Write = { space: string; key: string; rec: KeyRecord | null } | { meta: string; json: string };

interface Batch {
  id: number;
  writes: Write[];
  /** The instance that committed it (its own listeners are not told). */
  by: Instance;
  resolve(): void;
  reject(e: unknown): void;
  done: Promise<void>;
}

const ROLLED_BACK = 'an earlier write failed and was rolled back while this transaction ran; nothing of it was kept (retry it)';
const closed = (why: string) => new ConcordError('CLOSED', `storage is closed (${why})`);

export class SimDisk {
  private applied = new State();
  private durable = new State();
  private nextBatch = 1;
  private durableBatch = 0;
  /** Applied, waiting for the next group commit; and the group whose fsync runs. */
  private queued: Batch[] = [];
  private group: Batch[] = [];
  private fsyncTimer: unknown;
  private tail: Promise<unknown> = Promise.resolve();
  /** Bumped by a crash: transactions and instances of an older generation are dead. */
  private generation = 0;
  private readonly live: Instance[] = [];
  /** Transactions applied and made durable so far (a backup point for tests). */
  commits = 0;
  /** Group commits still to fail (`failNextCommit`), and transactions rejected so far for a full disk. */
  private fullFor = 0;
  failedCommits = 0;
  /** Bumped by each failed group: a transaction whose function ran across it keeps nothing. */
  private failEpoch = 0;
  /** Where it lives, when it tells (`tellsCopies`): every disk, copies included, somewhere of its own. */
  readonly place: string | undefined;

  /** The jitter in force (from the options; a run turns it off before it checks what it holds, with no clock left to step). */
  jitter: (() => number) | undefined;

  constructor(readonly options: SimDiskOptions) {
    this.place = options.tellsCopies ? `disk-${++places}` : undefined;
    this.jitter = options.jitter;
  }

  private readonly hopTimers = new Map<unknown, () => void>();

  /** @internal One jittered delay (a no-op without jitter; callers skip it then, so no microtask is added). */
  async hop(): Promise<void> {
    const n = this.jitter?.() ?? 0;
    if (n < 0) {
      await new Promise<void>((resolve) => {
        const handle = this.options.timers.setTimeout(() => {
          this.hopTimers.delete(handle);
          resolve();
        }, 0);
        this.hopTimers.set(handle, resolve);
      });
    } else for (let i = 0; i < n; i++) await undefined;
  }

  /** Completions waiting on a jitter timer now. */
  get waits(): number {
    return this.hopTimers.size;
  }

  /** Jitter off from now on; delays waiting on a timer end at once (for checks and closing with no clock stepping). */
  calm(): void {
    this.jitter = undefined;
    for (const [handle, resolve] of this.hopTimers) {
      this.options.timers.clearTimeout(handle);
      resolve();
    }
    this.hopTimers.clear();
  }

  /** A process or tab opening the disk. */
  instance(): StorageAdapter & { readonly leadershipOf: () => Leadership } {
    return new Instance(this, this.generation);
  }

  /** The disk is full for the next `commits` group commits: each fails, with everything queued after it. */
  failNextCommit(commits = 1): void {
    if (this.live.length > 0) this.fullFor += commits;
  }

  /** Room again: no commit fails for a full disk from now on (the simulator's heal). */
  room(): void {
    this.fullFor = 0;
  }

  /** Power loss: what is not durable is gone, and every instance is dead. */
  crash(): void {
    this.generation++;
    this.fullFor = 0;
    this.options.timers.clearTimeout(this.fsyncTimer);
    this.fsyncTimer = undefined;
    const lost = [...this.group, ...this.queued];
    this.group = [];
    this.queued = [];
    this.applied = this.durable.clone();
    this.durable = this.applied.clone();
    for (const b of lost) b.reject(closed('crashed before the write was durable'));
    for (const i of this.live.splice(0)) i.die();
    this.tail = Promise.resolve();
  }

  /** A new disk holding this one's durable state now. */
  copy(): SimDisk {
    const d = new SimDisk(this.options);
    d.applied = this.durable.clone();
    d.durable = this.durable.clone();
    return d;
  }

  /** The applied records of a space, in key order (for checkers). */
  records(space: string): Array<[string, KeyRecord]> {
    const s = this.applied.spaces.get(space);
    if (!s) return [];
    return [...s.records].map(([k, p]) => [k, p.rec] as [string, KeyRecord]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** The durable records of a space (what a power loss now would leave). */
  durableRecords(space: string): Array<[string, KeyRecord]> {
    const s = this.durable.spaces.get(space);
    return s ? [...s.records].map(([k, p]) => [k, p.rec] as [string, KeyRecord]) : [];
  }

  /**
   * Whether the durable state has seen dot (r, n) of `key` — (r, ep, n) where the dot names its epoch: its durable
   * record's context covers it, by its points and `reg`'s ancestry of epochs (dvv.ts coversDot).
   */
  durablySeen(space: string, key: string, r: string, n: number, ep?: string, reg: EpochRegistry = NO_EPOCHS): boolean {
    const rec = this.durable.spaces.get(space)?.records.get(key)?.rec;
    return rec !== undefined && coversDot(reg, rec, r, ep, n);
  }

  /** Applied, not yet durable transactions. */
  get pendingBatches(): number {
    return this.group.length + this.queued.length;
  }

  // ---- used by instances ----

  /** @internal */
  isLive(gen: number): boolean {
    return gen === this.generation;
  }

  /** @internal */
  liveCount(): number {
    return this.live.length;
  }

  /** @internal */
  attach(i: Instance): void {
    if (!this.live.includes(i)) this.live.push(i);
    this.electLeader();
  }

  /** @internal */
  detach(i: Instance): void {
    const at = this.live.indexOf(i);
    if (at >= 0) this.live.splice(at, 1);
    if (this.live.length === 0) this.fullFor = 0;
    this.electLeader();
  }

  private electLeader(): void {
    const candidates = this.live.filter((i) => i.wantsLead);
    for (const i of this.live) i.setLeader(i === candidates[0]);
  }

  /** @internal */
  electionChanged(): void {
    this.electLeader();
  }

  /** @internal */
  read(space: string, key: string): KeyRecord | undefined {
    return this.applied.spaces.get(space)?.records.get(key)?.rec;
  }

  /** @internal */
  readMeta(name: string): unknown {
    const json = this.applied.meta.get(name);
    return json === undefined ? undefined : JSON.parse(json);
  }

  /** @internal */
  transact<T>(by: Instance, fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    const gen = this.generation;
    const run = async (): Promise<{ result: T; durable: Promise<void> | undefined }> => {
      if (this.jitter) await this.hop();
      if (!this.isLive(gen) || !by.isOpen) throw closed('crashed or closed');
      const tx = new SimTx(this);
      const epoch = this.failEpoch;
      const result = await fn(tx);
      tx.closed = true;
      if (!this.isLive(gen)) throw closed('crashed while the transaction ran');
      if (this.failEpoch !== epoch) throw new ConcordError('STORAGE_ERROR', ROLLED_BACK);
      if (tx.writes.length === 0) {
        const last = this.queued[this.queued.length - 1] ?? this.group[this.group.length - 1];
        return { result, durable: last?.done };
      }
      return { result, durable: this.commit(by, tx.writes) };
    };
    const p = this.tail.then(run, run);
    this.tail = p.then(noop, noop);
    const out = p.then(({ result, durable }) => (durable ? durable.then(() => result) : result));
    return this.jitter ? out.then(async (result) => (this.jitter && (await this.hop()), result)) : out;
  }

  private commit(by: Instance, writes: Write[]): Promise<void> {
    const failsNow = !this.options.fsyncDelay && this.fullFor > 0;
    if (!failsNow) for (const w of writes) this.apply(this.applied, w, this.nextBatch);
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(noop);
    const batch: Batch = { id: this.nextBatch++, writes, by, resolve, reject, done };
    if (failsNow || !this.options.fsyncDelay) {
      if (failsNow) this.fail([batch]);
      else this.makeDurable([batch]);
      return done;
    }
    this.queued.push(batch);
    if (this.group.length === 0) this.startFsync();
    return done;
  }

  private startFsync(): void {
    this.group = this.queued.splice(0);
    const gen = this.generation;
    this.fsyncTimer = this.options.timers.setTimeout(() => {
      if (!this.isLive(gen)) return;
      const group = this.group;
      this.group = [];
      this.fsyncTimer = undefined;
      if (this.fullFor > 0) this.fail(group.concat(this.queued.splice(0)));
      else this.makeDurable(group);
      if (this.queued.length) this.startFsync();
    }, Math.max(0, this.options.fsyncDelay!()));
  }

  private makeDurable(group: Batch[]): void {
    const spaces = new Set<string>();
    for (const b of group) {
      for (const w of b.writes) {
        this.apply(this.durable, w, 0);
        if ('space' in w) spaces.add(w.space);
      }
      this.durableBatch = b.id;
      this.commits++;
    }
    if (this.jitter) for (const b of group) void this.hop().then(b.resolve);
    else for (const b of group) b.resolve();
    this.tell(group, spaces);
  }

  /**
   * A full disk: `batches` (a group and everything queued after it: every batch not durable) fail, in order, and the
   * applied state is the durable one again.
   */
  private fail(batches: Batch[]): void {
    this.fullFor--;
    this.failEpoch++;
    this.failedCommits += batches.length;
    this.applied = this.durable.clone();
    const spaces = new Set<string>();
    for (const b of batches) for (const w of b.writes) if ('space' in w) spaces.add(w.space);
    const error = () => new ConcordError('STORAGE_FULL', 'disk full while writing the log: nothing of this write was kept');
    if (this.jitter) for (const b of batches) void this.hop().then(() => b.reject(error()));
    else for (const b of batches) b.reject(error());
    this.tell(batches, spaces);
  }

  /** Hints to the live instances (tabs) after a group settled, on the timers (like BroadcastChannel). */
  private tell(group: Batch[], spaces: Set<string>): void {
    const by = new Set(group.map((b) => b.by));
    const names = [...spaces];
    for (const i of this.live) {
      const told = by.size === 1 && by.has(i) ? [] : names;
      const held = [...i.heldIn].filter((space) => !told.includes(space));
      i.heldIn.clear();
      if (told.length + held.length > 0) this.options.timers.setTimeout(() => i.hint([...told, ...held]), 0);
    }
  }

  private apply(state: State, w: Write, batch: number): void {
    if ('meta' in w) state.meta.set(w.meta, w.json);
    else if (w.rec === null) state.spaces.get(w.space)?.remove(w.key);
    else state.space(w.space).put(w.key, { rec: w.rec, batch });
  }

  /** @internal */
  scan(space: string, { prefix = '', after, limit }: ScanOptions): Array<[string, KeyRecord]> {
    const s = this.applied.spaces.get(space);
    if (!s) return [];
    const keys = (s.sorted ??= [...s.records.keys()].sort());
    return keysInRange(keys, prefix, after, limit).map((key) => [key, s.records.get(key)!.rec]);
  }

  /** @internal Durable records only, stopping at the first entry that is not (as file storage does). */
  readLog(space: string, afterSeq: number, limit: number, by?: Instance): Array<[string, KeyRecord]> {
    const s = this.applied.spaces.get(space);
    if (!s) return [];
    // Where a key's durable record sits while a write not durable yet replaced or removed it: a power loss brings it
    // back there, so the log stops before it (StorageAdapter readLog).
    let held = Infinity;
    const d = this.durable.spaces.get(space);
    if (d) {
      for (const b of this.group.length > 0 ? [...this.group, ...this.queued] : this.queued) {
        for (const w of b.writes) {
          if (!('space' in w) || w.space !== space) continue;
          const seq = d.records.get(w.key)?.rec.seq;
          if (seq !== undefined && seq > afterSeq && seq < held) held = seq;
        }
      }
    }
    const out: Array<[string, KeyRecord]> = [];
    for (let i = upperBound(s.logSeq, afterSeq); i < s.logSeq.length && out.length < limit; i++) {
      const p = s.records.get(s.logKey[i]!);
      if (!p || p.rec.seq !== s.logSeq[i]) continue;
      if (p.batch > this.durableBatch) break;
      if (p.rec.seq >= held) {
        // Held: no commit of another instance may come to lift it (the write holding it may be the reader's own), so the
        // reader is told when a group is durable, as if another instance had committed (StorageAdapter onExternalChange).
        by?.heldIn.add(space);
        break;
      }
      out.push([s.logKey[i]!, p.rec]);
    }
    return out;
  }

  /** @internal */
  index(space: string): IndexEntry[] {
    const s = this.applied.spaces.get(space);
    if (!s) return [];
    return [...s.records].map(([key, p]) => ({ key, seq: p.rec.seq, h: p.rec.h }));
  }

  /** @internal */
  spaces(): string[] {
    return [...this.applied.spaces].filter(([, s]) => s.records.size > 0).map(([n]) => n);
  }
}

class SimTx implements StorageTx {
  readonly writes: Write[] = [];
  closed = false;
  constructor(private readonly disk: SimDisk) {}

  get(space: string, key: string): KeyRecord | undefined {
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const w = this.writes[i]!;
      if ('space' in w && w.space === space && w.key === key) return w.rec ?? undefined;
    }
    return this.disk.read(space, key);
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.live();
    this.writes.push({ space, key, rec });
  }

  remove(space: string, key: string): void {
    this.live();
    this.writes.push({ space, key, rec: null });
  }

  getMeta<T>(name: string): T | undefined {
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const w = this.writes[i]!;
      if ('meta' in w && w.meta === name) return JSON.parse(w.json) as T;
    }
    return this.disk.readMeta(name) as T | undefined;
  }

  setMeta(name: string, value: unknown): void {
    this.live();
    this.writes.push({ meta: name, json: JSON.stringify(value) });
  }

  private live(): void {
    if (this.closed) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}

class Instance implements StorageAdapter {
  private open_ = false;
  private dead = false;
  private elsewhere = false;
  wantsLead = false;
  private leader = false;
  private readonly leaderListeners = new Set<(v: boolean) => void>();
  private readonly externalListeners = new Set<(spaces: string[]) => void>();
  /** Spaces whose last read of the log stopped before a durable record a pending write replaced (told when one is durable). */
  readonly heldIn = new Set<string>();

  constructor(
    private readonly disk: SimDisk,
    private readonly gen: number,
  ) {}

  get isOpen(): boolean {
    return this.open_ && !this.dead && this.disk.isLive(this.gen);
  }

  private check(): void {
    if (!this.isOpen) throw closed(this.dead ? 'crashed' : 'not open');
  }

  async open(): Promise<void> {
    if (this.dead || !this.disk.isLive(this.gen)) throw closed('crashed');
    this.open_ = true;
    this.elsewhere = this.disk.liveCount() > 0;
    this.disk.attach(this);
  }

  /** Another live instance (tab) had the disk open when this one opened (as IndexedDB's open lock tells). */
  async openedElsewhere(): Promise<boolean> {
    return this.elsewhere;
  }

  async location(): Promise<string | undefined> {
    return this.disk.place;
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    // Like file storage, a clean close waits for what was applied to be durable.
    if (this.isOpen) await this.disk.transact(this, () => undefined).catch(noop);
    this.open_ = false;
    this.disk.detach(this);
    this.setLeader(false);
  }

  /** @internal The disk crashed under this instance. */
  die(): void {
    this.dead = true;
    this.setLeader(false);
  }

  transact<T>(fn: (tx: StorageTx) => Promise<T> | T): Promise<T> {
    if (!this.isOpen) return Promise.reject(closed('not open'));
    return this.disk.transact(this, fn);
  }

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    this.check();
    if (!this.disk.jitter) return this.disk.read(space, key);
    return this.jittered(() => this.disk.read(space, key));
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    this.check();
    if (!this.disk.jitter) return this.disk.readMeta(name) as T | undefined;
    return this.jittered(() => this.disk.readMeta(name) as T | undefined);
  }

  async scan(space: string, options: ScanOptions): Promise<Array<[string, KeyRecord]>> {
    this.check();
    if (!this.disk.jitter) return this.disk.scan(space, options);
    return this.jittered(() => this.disk.scan(space, options));
  }

  async readLog(space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    this.check();
    if (!this.disk.jitter) return this.disk.readLog(space, afterSeq, limit, this);
    return this.jittered(() => this.disk.readLog(space, afterSeq, limit, this));
  }

  async index(space: string): Promise<IndexEntry[]> {
    this.check();
    if (!this.disk.jitter) return this.disk.index(space);
    return this.jittered(() => this.disk.index(space));
  }

  async spaces(): Promise<string[]> {
    this.check();
    if (!this.disk.jitter) return this.disk.spaces();
    return this.jittered(() => this.disk.spaces());
  }

  /** A read under jitter: a delay before it looks (the instance must still be live then) and one before it answers. */
  private async jittered<T>(read: () => T): Promise<T> {
    await this.disk.hop();
    this.check();
    const result = read();
    await this.disk.hop();
    return result;
  }

  onExternalChange(listener: (spaces: string[]) => void): () => void {
    this.externalListeners.add(listener);
    return () => void this.externalListeners.delete(listener);
  }

  /** @internal */
  hint(spaces: string[]): void {
    if (!this.isOpen) return;
    for (const l of this.externalListeners) l(spaces);
  }

  leadership(): Leadership {
    if (!this.wantsLead) {
      this.wantsLead = true;
      if (this.isOpen) this.disk.electionChanged();
    }
    return this.leadershipOf();
  }

  readonly leadershipOf = (): Leadership => {
    const self = this;
    return {
      get isLeader() {
        return self.leader;
      },
      onChange(listener) {
        self.leaderListeners.add(listener);
        return () => void self.leaderListeners.delete(listener);
      },
    };
  };

  /** @internal */
  setLeader(on: boolean): void {
    if (this.leader === on) return;
    this.leader = on;
    for (const l of this.leaderListeners) l(on);
  }
}

function noop(): void {}
