/**
 * The replica core: identity, clock, and the only two ways state changes — a local write and a join of
 * remote state — each one storage transaction that reads the key, advances the replica sequence when
 * (and only when) something changed, and stores the new record. Everything above (spaces, reads,
 * merges, sync) is built on these. After a commit, `change` events carry the new record to the spaces'
 * subscribers and to sync links (with the link it came from, so it is not echoed back).
 */
import { AckTracker } from './acks.js';
import { canonicalStateText, EMPTY_STATE, join, sameState, update, type KeyState, type VersionVector } from './dvv.js';
import { ConcordError } from './errors.js';
import { Emitter } from './events.js';
import { hash64, loadHasher } from './hash.js';
import { HybridClock } from './hlc.js';
import { randomId } from './ids.js';
import type { KeyRecord, StorageAdapter, StorageTx } from './storage.js';
import type { ReplicaStatus } from './types.js';

export interface StoredChange {
  readonly space: string;
  readonly key: string;
  readonly rec: KeyRecord;
  readonly prev: KeyRecord | undefined;
  readonly origin: 'local' | 'remote';
  /** The sync link the change arrived on, if any. */
  readonly source?: object;
  /** Committed by another instance sharing this storage (another tab); seen through the change log. */
  readonly external?: boolean;
}

export interface CoreEvents extends Record<string, unknown> {
  change: StoredChange;
  /** A key was removed outright by tombstone collection. */
  removed: { space: string; key: string };
  error: unknown;
  status: ReplicaStatus;
  /** A Merkle anti-entropy run with a peer ended. */
  antiEntropy: AntiEntropyRun;
}

/** What one anti-entropy run took and repaired (either side reports its own view). */
export interface AntiEntropyRun {
  readonly space: string;
  readonly peer: string;
  /** Turns of the run (messages exchanged, counted once per turn even when split over frames). */
  readonly turns: number;
  /** Bytes sent and received for the run (tree hashes, key lists, repaired states). */
  readonly bytes: number;
  /** Key states sent to the peer, and received from it. */
  readonly keysSent: number;
  readonly keysReceived: number;
  /** Received states that changed something here. */
  readonly keysRepaired: number;
  /** Whether the run set up the cursors (on connect) or was a periodic check. */
  readonly onConnect: boolean;
}

interface Identity {
  id: string;
  epoch: string;
}

export interface CoreOptions {
  storage: StorageAdapter;
  now?: () => number;
  /** Randomness for identifiers and protocol run ids (default: the platform CSPRNG / Math.random); seeded in simulations. */
  random?: () => number;
}

/** The content of a local write: an encoded value, or a tombstone. */
export type WriteContent = { readonly v: string | Uint8Array } | { readonly d: true };

export class ReplicaCore {
  readonly events = new Emitter<CoreEvents>();
  readonly acks = new AckTracker();
  readonly clock: HybridClock;
  readonly now: () => number;
  readonly random: () => number;
  private closed = false;
  /** Sequence at open: no change at or below it is reported as external. */
  private readonly openSeq: number;
  /**
   * Per space, the sequence up to which changes by other instances sharing the storage have been read
   * from the log. Per space, because a hint names spaces: a replica-wide mark advanced while reading one
   * space would skip what another space received meanwhile.
   */
  private readonly externalMarks = new Map<string, number>();
  /** Per space, sequences this instance committed itself past the space's mark (not to be reported twice). */
  private readonly ownSeqs = new Map<string, Set<number>>();
  private externalQueue: Promise<void> = Promise.resolve();
  private readonly stopWatching: (() => void) | undefined;
  private readonly highestDots = new Map<string, number>();

  private constructor(
    readonly storage: StorageAdapter,
    private identity: Identity,
    now: () => number,
    seq: number,
    private readonly seeded: (() => number) | undefined,
  ) {
    this.now = now;
    this.random = seeded ?? Math.random;
    this.clock = new HybridClock(now);
    this.openSeq = seq;
    this.stopWatching = storage.onExternalChange?.((spaces) => {
      this.externalQueue = this.externalQueue.then(() => this.readExternal(spaces)).catch((e) => this.events.emit('error', e));
    });
  }

  static async open({ storage, now = Date.now, random }: CoreOptions): Promise<ReplicaCore> {
    await loadHasher();
    await storage.open();
    const identity = await storage.transact(async (tx) => {
      const existing = await tx.getMeta<Identity>('replica');
      if (existing) return existing;
      const minted = { id: randomId(16, random), epoch: randomId(16, random) };
      tx.setMeta('replica', minted);
      return minted;
    });
    const seq = (await storage.getMeta<number>('seq')) ?? 0;
    return new ReplicaCore(storage, identity, now, seq, random);
  }

  /**
   * Another instance sharing the storage (a tab) committed changes: read them from the log by sequence
   * and report them like our own, so subscribers fire and the instance holding the links pushes them.
   */
  private async readExternal(spaces: readonly string[]): Promise<void> {
    if (this.closed) return;
    const top = (await this.storage.getMeta<number>('seq')) ?? 0;
    for (const space of new Set(spaces)) {
      const mark = this.externalMarks.get(space) ?? this.openSeq;
      if (top <= mark) continue;
      const own = this.ownSeqs.get(space);
      for (let after = mark; ; ) {
        const page = await this.storage.readLog(space, after, 512);
        for (const [key, rec] of page) {
          if (rec.seq > top || own?.has(rec.seq)) continue;
          const mine = rec.vs.some((v) => v.r === this.replicaId && v.n === rec.seq);
          for (const v of rec.vs) this.clock.observe(v.t, v.c);
          this.events.emit('change', { space, key, rec, prev: undefined, origin: mine ? 'local' : 'remote', external: true });
        }
        if (page.length < 512) break;
        after = page[page.length - 1]![1].seq;
      }
      this.externalMarks.set(space, top);
      if (own) for (const seq of own) if (seq <= top) own.delete(seq);
    }
  }

  private noteOwn(space: string, seq: number): void {
    if (!this.storage.onExternalChange || seq <= (this.externalMarks.get(space) ?? this.openSeq)) return;
    let own = this.ownSeqs.get(space);
    if (!own) this.ownSeqs.set(space, (own = new Set()));
    own.add(seq);
  }

  get replicaId(): string {
    return this.identity.id;
  }

  /** The epoch of this replica's change log; a cursor from another epoch is invalid. */
  get epoch(): string {
    return this.identity.epoch;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ConcordError('CLOSED', 'the replica is closed');
  }

  /**
   * A local write. `produce` sees the current record inside the transaction and returns what to write,
   * or undefined to write nothing. `ctx` is what the write supersedes (default: everything stored).
   */
  write(
    space: string,
    key: string,
    produce: (current: KeyRecord | undefined) => WriteContent | undefined,
    ctx?: VersionVector,
  ): Promise<KeyRecord | undefined> {
    if (this.closed) return Promise.reject(new ConcordError('CLOSED', 'the replica is closed'));
    const hlc = this.clock.tick();
    const r = this.identity.id;
    let prev: KeyRecord | undefined;
    const body = (tx: StorageTx, current: KeyRecord | undefined, lastSeq: number | undefined): KeyRecord | undefined => {
      prev = current;
      const content = produce(current);
      if (content === undefined) return undefined;
      const seq = (lastSeq ?? 0) + 1;
      tx.setMeta('seq', seq);
      const version = 'd' in content ? { r, n: seq, t: hlc.ms, c: hlc.logical, d: 1 as const } : { r, n: seq, t: hlc.ms, c: hlc.logical, v: content.v };
      const state = update(current ?? EMPTY_STATE, ctx ?? current?.cc ?? {}, version);
      const next = record(key, state, seq);
      tx.put(space, key, next);
      return next;
    };
    // Both reads go out at once; where storage answers at once (memory), nothing is awaited at all.
    // A promise chain rather than an async function: one promise less per write on the hottest path.
    return this.storage
      .transact((tx) => {
        const current = tx.get(space, key);
        const lastSeq = tx.getMeta<number>('seq');
        if (current instanceof Promise || lastSeq instanceof Promise) {
          return Promise.all([current, lastSeq]).then(([c, s]) => body(tx, c, s));
        }
        return body(tx, current, lastSeq);
      })
      .then((rec) => {
        if (rec) {
          this.noteOwn(space, rec.seq);
          this.events.emit('change', { space, key, rec, prev, origin: 'local' });
        }
        return rec;
      });
  }

  /**
   * Joins remote states of keys into one space, in one transaction. Keys whose state did not change
   * advance nothing. `alsoInTx` stores what must commit with the entries (sync cursors).
   * Returns the changes that were stored.
   */
  async join(
    space: string,
    entries: ReadonlyArray<readonly [string, KeyState]>,
    options: { source?: object; peer?: string; alsoInTx?: (tx: StorageTx) => void } = {},
  ): Promise<StoredChange[]> {
    this.assertOpen();
    const changes: StoredChange[] = [];
    const raised = new Map<string, number>();
    const body = (tx: StorageTx, prevs: ReadonlyArray<KeyRecord | undefined>, lastSeq: number | undefined, highest: ReadonlyMap<string, number>) => {
      changes.length = 0;
      raised.clear();
      let seq = lastSeq ?? 0;
      for (let i = 0; i < entries.length; i++) {
        const [key, remote] = entries[i]!;
        const prev = prevs[i];
        const joined = prev ? join(prev, remote) : join(EMPTY_STATE, remote);
        if (prev ? sameState(joined, prev) : joined.vs.length === 0 && Object.keys(joined.cc).length === 0) continue;
        seq++;
        const src = options.peer !== undefined && sameState(joined, remote) ? options.peer : undefined;
        const rec = record(key, joined, seq, src);
        tx.put(space, key, rec);
        changes.push({ space, key, rec, prev, origin: 'remote', ...(options.source ? { source: options.source } : {}) });
        for (const r in remote.cc) {
          if (r !== this.identity.id && remote.cc[r]! > (raised.get(r) ?? highest.get(r) ?? 0)) raised.set(r, remote.cc[r]!);
        }
      }
      if (seq !== (lastSeq ?? 0)) tx.setMeta('seq', seq);
      for (const [r, n] of raised) tx.setMeta('d:' + r, n);
      options.alsoInTx?.(tx);
    };
    await this.storage.transact((tx) => {
      // Every read goes out at once: the records, the sequence, and the highest dots of writers not cached
      // yet. Where storage answers at once (memory), nothing is awaited at all.
      const prevs = entries.map(([key]) => tx.get(space, key));
      const lastSeq = tx.getMeta<number>('seq');
      const writers = new Set<string>();
      for (const [, remote] of entries) for (const r in remote.cc) if (r !== this.identity.id && !this.highestDots.has(r)) writers.add(r);
      const uncached = [...writers];
      const metas = uncached.map((r) => tx.getMeta<number>('d:' + r));
      const highestOf = (values: ReadonlyArray<number | undefined>) => {
        uncached.forEach((r, i) => this.highestDots.set(r, values[i] ?? 0));
        return this.highestDots;
      };
      if (lastSeq instanceof Promise || prevs.some((p) => p instanceof Promise) || metas.some((m) => m instanceof Promise)) {
        return Promise.all([Promise.all(prevs), lastSeq, Promise.all(metas)]).then(([p, s, m]) => body(tx, p, s, highestOf(m)));
      }
      return body(tx, prevs as Array<KeyRecord | undefined>, lastSeq, highestOf(metas as Array<number | undefined>));
    });
    for (const [r, n] of raised) this.highestDots.set(r, n);
    for (const change of changes) {
      this.noteOwn(space, change.rec.seq);
      for (const v of change.rec.vs) this.clock.observe(v.t, v.c);
      this.events.emit('change', change);
    }
    return changes;
  }

  /**
   * Tombstone GC (relays): removes keys whose surviving versions are all tombstones older than `grace` ms
   * (and keys left with no version at all), and records the log seq of the collection as the space's
   * floor: a peer whose cursor is older must repair by anti-entropy, where versions we collected are
   * refused (see Session) instead of resurrected. Returns how many keys were removed.
   */
  async collectTombstones(grace: number): Promise<number> {
    this.assertOpen();
    const cutoff = this.now() - grace;
    let removed = 0;
    for (const space of await this.storage.spaces()) {
      const doomed: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await this.storage.scan(space, { limit: 512, ...(after !== undefined ? { after } : {}) });
        for (const [key, rec] of page) {
          if (rec.vs.every((v) => v.d && v.t < cutoff)) doomed.push(key);
        }
        if (page.length < 512) break;
        after = page[page.length - 1]![0];
      }
      if (doomed.length === 0) continue;
      const gone: string[] = [];
      await this.storage.transact(async (tx) => {
        gone.length = 0;
        for (const key of doomed) {
          const rec = await tx.get(space, key);
          if (rec && rec.vs.every((v) => v.d && v.t < cutoff)) {
            tx.remove(space, key);
            gone.push(key);
          }
        }
        if (gone.length) tx.setMeta('gc:' + space, (await tx.getMeta<number>('seq')) ?? 0);
      });
      for (const key of gone) this.events.emit('removed', { space, key });
      removed += gone.length;
    }
    return removed;
  }

  /** The log seq of the space's last tombstone collection (0 when none). */
  async collectedAt(space: string): Promise<number> {
    return (await this.storage.getMeta<number>('gc:' + space)) ?? 0;
  }

  /** The seq up to which this replica holds `peer`'s log of a space (what it acknowledged), 0 when none. */
  async acknowledged(peer: string, space: string): Promise<number> {
    return (await this.storage.getMeta<{ e: string; s: number }>(`c:${peer}:${space}`))?.s ?? 0;
  }

  /** Highest counter of `replicaId`'s own dots held here (restore detection: a peer behind its own dots was restored). */
  async highestDotOf(replicaId: string, tx?: StorageTx): Promise<number> {
    let n = this.highestDots.get(replicaId);
    if (n === undefined) {
      n = (await (tx ? tx.getMeta<number>('d:' + replicaId) : this.storage.getMeta<number>('d:' + replicaId))) ?? 0;
      this.highestDots.set(replicaId, n);
    }
    return n;
  }

  /** The replica's sequence: the last seq it assigned (durable). */
  async currentSeq(): Promise<number> {
    return (await this.storage.getMeta<number>('seq')) ?? 0;
  }

  /**
   * A peer holds dots of ours newer than our log: this storage was restored from a backup or copied.
   * Mint a new replicaId and log epoch before writing again, so no dot ever names two values.
   */
  async reidentify(): Promise<void> {
    const next = { id: randomId(16, this.seeded), epoch: randomId(16, this.seeded) };
    await this.storage.transact(async (tx) => {
      tx.setMeta('replica', next);
    });
    this.identity = next;
    this.events.emit('error', new ConcordError('STORAGE_ERROR', 'a peer holds newer writes of this replica than its storage: restored from a backup? It now writes as a new replica ' + next.id));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching?.();
    await this.externalQueue;
    await this.storage.close();
  }
}

export function record(key: string, state: KeyState, seq: number, src?: string): KeyRecord {
  const rec = { vs: state.vs, cc: state.cc, seq, h: hash64(canonicalStateText(key, state)) };
  return src === undefined ? rec : { ...rec, src };
}
