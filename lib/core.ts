/**
 * The replica core: identity, clock, and the two ways state changes — a local write and a join of remote
 * state — each one storage transaction that reads the key, advances the replica sequence when (and only when)
 * something changed, and stores the new record (tombstone collection and re-identification, collection.ts and
 * reidentify.ts, rewrite records the same way). Everything above (spaces, reads, merges, sync) is built on these.
 * After a commit, `change` events carry the new record to the spaces' subscribers and to sync links (with the
 * link it came from, so it is not echoed back); other tabs' commits are reported alike (external.ts).
 */
import { AckTracker } from './acks.js';
import { ChangeOrder } from './change-order.js';
import { anotherWriteHeld, contradiction, coversDot, EMPTY_STATE, joinWith, sameDot, sameState, type Causal, type KeyState } from './dvv.js';
import type { Epochs } from './epoch-points.js';
import { learnStored, openEpochs, saveEpochs } from './epoch-store.js';
import { MAX_STORED_EPOCHS, type EpochEntry, type Seen } from './epochs.js';
import { EPOCH_DOTS } from './sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from './sync/messages.js';
import { OPEN_ASKS_META } from './sync/open-asks-store.js';
import { defaultTimers, type Timers } from './sync/session-state.js';
import { collectTombstones } from './collection.js';
import { noteDropped } from './dropped-own.js';
import { ConcordError } from './errors.js';
import { Emitter } from './events.js';
import { loadHasher } from './hash.js';
import { HybridClock } from './hlc.js';
import { ExternalChanges } from './external.js';
import { FORMER_META, IDENTITY_META, meetEarlierPeer, meetEpochPeer, mintAgain, mintEpoch, openIdentity, readFormer, readIdentity, type Identity } from './identity.js';
import { LocalWrite, writeNow, type Produce, type WriteHost, type WriteReceiver } from './local-write.js';
import { WrittenRecord, type WriteContent } from './record.js';
import { IdentityChanges } from './identity-changes.js';
import { finishReissue, readLeft, REISSUE_META, type IdentityOwner } from './reidentify.js';
import { CLAIM_META, ClaimWatch, type RestoreClaim } from './restore-claims.js';
import type { KeyRecord, StorageAdapter, StorageTx } from './storage.js';
import type { CoreEvents, CoreOptions, JoinOptions, StoredChange } from './core-types.js';

export type { AntiEntropyRun, CoreEvents, CoreOptions, JoinOptions, StoredChange } from './core-types.js';
export type { WriteContent } from './record.js';

/** `writeNow`'s answer when the storage cannot commit at once. */
export const LATER = Symbol('later');

export class ReplicaCore {
  readonly events = new Emitter<CoreEvents>();
  readonly acks = new AckTracker();
  /** @internal A relay acknowledges every log frame at once: its cluster counts replication from its ACKs (sync/ack-policy.ts). */
  promptAcks = false;
  /** @internal Sketch every anti-entropy opening where one fits a frame (sync/fast-path.ts): for the simulator's small spaces. */
  sketchAlways = false;
  /** @internal Timers of the core's own waits (retrying a failed storage write or read): the simulator's are virtual. */
  timers: Timers = defaultTimers;
  /** @internal The protocol versions our hellos announce, where not all (the simulator plays peers of earlier releases). */
  speaks: readonly number[] | undefined;
  readonly clock: HybridClock;
  readonly now: () => number;
  readonly random: () => number;
  private closed = false;
  /** What other instances sharing the storage (tabs) commit. */
  private readonly external: ExternalChanges;
  /** What re-identification (reidentify.ts) reaches of this core. */
  private readonly owner: IdentityOwner;
  /** What a local write (local-write.ts) reaches of this core. */
  private readonly writeHost: WriteHost;
  /** Per peer: the highest own dot it delivered to us directly, and the epoch it announced then (epochs.ts). */
  private readonly seenOf = new Map<string, Seen | null>();
  /**
   * The highest seq known durable: every transaction up to it resolved (storage resolves transactions in
   * order, once durable). Only state at or below it may leave this replica (DESIGN.md: a dot leaves its
   * replica only once it is durable there); a crash loses nothing above it that anyone else saw.
   */
  durableSeq: number;
  /** Who waits for `durableSeq` to reach a seq (`whenDurable`): told as it does, and all at close. */
  private durableWaits: Array<{ seq: number; resolve: () => void }> = [];
  /**
   * A record of `key` was applied at `seq` by this instance (a local write or a join), before it is durable: the
   * pending-writes map (pending.ts) learns of records once durable, and must not count the key acknowledged meanwhile.
   */
  onApplied: ((space: string, key: string, seq: number) => void) | undefined;
  /** The transaction that applied a record (onApplied) failed. */
  onAbandoned: ((space: string, key: string, seq: number) => void) | undefined;
  /** Change events in log order per key: one heard after a newer record of its key is stale (change-order.ts). */
  private readonly order = new ChangeOrder();

  /** The lowest seq of a record this instance applied whose change is not told yet (Infinity: none). */
  get untoldLow(): number {
    return this.order.lowestUntold();
  }
  /**
   * The highest log seq this instance has written, joined or read. When a transaction finds the log past it,
   * another instance sharing the storage (a tab) committed meanwhile, and may have re-identified the replica:
   * a write then reads the identity the storage holds before minting (prepareWrite).
   */
  private seenSeq: number;
  /** Received counters of ours that no dot of this storage's history can be (restore-claims.ts). */
  private readonly claims: ClaimWatch;
  /** No other instance has shared the storage since the open: none can change the identity behind our back. */
  private alone: boolean;
  /** Re-identifications and renewals, one at a time (identity-changes.ts). */
  private readonly changes: IdentityChanges;
  /**
   * The ids this replica wrote under before its current one (identity.ts FORMER_META): versions under them in its
   * storage are its own writes too (pending.ts counts those no peer acknowledged).
   */
  readonly formerIds = new Set<string>();
  /** The storage has met a peer speaking protocol 11, or tags already (noteEpochPeer). */
  private metEpochPeer = false;
  /** The storage's note that a session settled below protocol 11 is there, or on its way (noteEarlierPeer). */
  private metEarlierPeer = false;
  /** The identity whose history `knownEpochs` last learned. */
  private epochsOf: Identity | undefined;
  /**
   * The identity in memory was read from the storage (`adopt`) while the transaction that stored it may not be durable
   * yet (a re-identification queued ahead of a write, reidentify.ts): `was` the identity before, durable; `at` the log's
   * seq the read saw. Until every transaction up to `at` is durable each write reads the stored identity again, and a
   * failed transaction puts `was` back at once (`revertUnsure`): the failed one's epoch record is gone with it, so
   * nothing may be minted under it (disk-full 1743700184: a write minted under a re-identification that failed).
   */
  private unsure: { was: Identity; at: number; formerAdded: boolean } | undefined;
  /**
   * A re-identification left re-issues to finish (reidentify.ts finishReissue): at the next hello, or the next open.
   * Also set when another instance's new id is adopted (it may have left some): the next hello looks.
   */
  private reissueLeft = false;

  private constructor(
    readonly storage: StorageAdapter,
    private identity: Identity,
    now: () => number,
    seq: number,
    readonly seeded: (() => number) | undefined,
    maxClockDriftMs: number | undefined,
    watchClaims: boolean,
    alone: boolean,
    /** The epoch ancestry this replica knows (epoch-points.ts): its own history's, and its peers' (link.ts), as stored (epoch-store.ts). */
    private readonly knownEpochs: Epochs,
  ) {
    this.alone = alone;
    this.claims = new ClaimWatch(watchClaims, alone, identity.history[identity.history.length - 1]![1]);
    this.now = now;
    this.random = seeded ?? Math.random;
    this.clock = new HybridClock(now, maxClockDriftMs !== undefined ? { maxDriftMs: maxClockDriftMs } : {});
    this.durableSeq = seq;
    this.seenSeq = seq;
    this.external = new ExternalChanges(this, seq);
    this.owner = {
      storage,
      clock: this.clock,
      acks: this.acks,
      events: this.events,
      seeded,
      identity: () => this.identity,
      setIdentity: (identity) => {
        if (identity.id !== this.identity.id) {
          this.claims.stop();
          this.formerIds.add(this.identity.id);
        }
        this.identity = identity;
        this.unsure = undefined; // stored by a transaction now durable
      },
      storedTop: () => this.storedTop(),
      committed: (s) => this.committed(s),
      noteOwn: (space, s) => this.external.noteOwn(space, s),
      failed: () => this.revertUnsure(),
      unfinished: (left) => void (this.reissueLeft = left),
    };
    this.changes = new IdentityChanges({
      owner: this.owner,
      claims: this.claims,
      isAlone: () => this.alone,
      isClosed: () => this.closed,
      refreshIdentity: () => this.refreshIdentity(),
    });
    const core = this;
    this.writeHost = {
      get id() {
        return core.identity.id;
      },
      get ep() {
        return mintEpoch(core.identity);
      },
      get seenSeq() {
        return core.seenSeq;
      },
      get identitySure() {
        return core.unsure === undefined;
      },
      get epochs() {
        return core.epochs;
      },
      tick: () => this.clock.tick(),
      sawSeq: (seq) => void (seq > this.seenSeq && (this.seenSeq = seq)),
      minted: (seq) => this.claims.minted(seq),
      withStoredIdentity: (tx, at, then) => this.withStoredIdentity(tx, at, then),
      applied: (space, key, seq) => {
        this.order.applied(space, key, seq);
        this.onApplied?.(space, key, seq);
      },
      abandoned: (space, key, seq) => {
        this.order.told(space, key, seq);
        this.abandonedSeq(seq);
        this.onAbandoned?.(space, key, seq);
      },
      failed: () => this.revertUnsure(),
      written: (space, key, rec, prev) => {
        this.noteDurable(rec.seq);
        this.external.noteOwn(space, rec.seq);
        if (!this.order.told(space, key, rec.seq)) this.events.emit('change', { space, key, rec, prev, origin: 'local' });
      },
    };
  }

  static async open({ storage, now = Date.now, random, maxClockDriftMs, restored = false, speaks }: CoreOptions): Promise<ReplicaCore> {
    await loadHasher();
    await storage.open();
    try {
      // Every open starts a new epoch of the log (epochs.ts), unless another live instance shares the storage.
      const shared = (await storage.openedElsewhere?.()) ?? false;
      if (restored && shared) {
        throw new ConcordError('INVALID_OPTION', 'restored: another instance has this storage open; open the restored copy alone first');
      }
      const location = await storage.location?.();
      // This open's epoch record (and any of the history the registry lacks) is stored with the identity, in its
      // transaction (epoch-store.ts openEpochs): before anything names it, and no transaction more than before.
      const { identity, copied, epochs, metEpochPeer, metEarlierPeer, asks, left } = await storage.transact(async (tx) => {
        const opened = await openIdentity(tx, { startEpoch: !shared, random, restored, location, speaks11: (speaks ?? PROTOCOL_VERSIONS).includes(EPOCH_DOTS) });
        // The open asks (open-asks-store.ts) are read here, in the open's transaction: no read more where none is kept.
        const asks = tx.getMeta<unknown>(OPEN_ASKS_META);
        // So too what a re-identification left to re-issue (reidentify.ts REISSUE_META): finished by this open (resumeClaim).
        const left = tx.getMeta<unknown>(REISSUE_META);
        return { ...opened, epochs: await openEpochs(tx, opened.identity), asks: asks instanceof Promise ? await asks : asks, left: left instanceof Promise ? await left : left };
      });
      const [seq = 0, former] = await Promise.all([storage.getMeta<number>('seq'), storage.getMeta<unknown>(FORMER_META)]);
      const fresh = restored || copied;
      const core = new ReplicaCore(storage, identity, now, seq, random, maxClockDriftMs, !fresh && identity.history.length > 1, !shared && typeof storage.shared !== 'function', epochs);
      for (const id of readFormer(former)) if (id !== identity.id) core.formerIds.add(id);
      if (speaks) core.speaks = speaks;
      core.metEpochPeer = metEpochPeer || identity.tagged !== undefined;
      core.metEarlierPeer = metEarlierPeer;
      core.storedAsks = asks;
      core.reissueLeft = readLeft(left).length > 0;
      return core;
    } catch (e) {
      // A failed open lets the storage go (the file storage's directory lock with it): the next open can go on.
      await storage.close().catch(() => {});
      throw e;
    }
  }

  get replicaId(): string {
    return this.identity.id;
  }

  /**
   * @internal A session's hellos both announced protocol 11 (epoch-chain.ts peerEpochs): the storage notes it once
   * (identity.ts EPOCH_PEER_META), so its next open that starts an epoch tags; a fresh id's storage untouched since its
   * open tags from now on (identity.ts meetEpochPeer). Not awaited (a hello does not wait for a disk); a failed store
   * is tried again at the next such hello.
   */
  noteEpochPeer(): void {
    if (this.metEpochPeer || this.closed) return;
    this.metEpochPeer = true;
    const was = this.identity;
    let started: Identity | undefined;
    this.storage
      .transact(async (tx) => {
        const met = await meetEpochPeer(tx, was);
        // Taken before any later transaction's body runs: a write queued behind this one mints tagged.
        if (met && this.identity === was) this.identity = started = met.identity;
        return met;
      })
      .then(
        (met) => {
          if (!met) return;
          this.committed(met.seq);
          this.events.emit('skipped', { seq: met.seq });
        },
        () => {
          this.metEpochPeer = false;
          if (started && this.identity === started) this.identity = was;
          this.revertUnsure();
        },
      );
  }

  /**
   * @internal A session of this replica, speaking 11, settled below 11 (epoch-chain.ts peerEpochs): a storage that has
   * not met a peer at 11 notes it (identity.ts AT11_META), once an open at most, not awaited, so its next open does not
   * tag while it meets only earlier releases. A failed store is tried again at the next such hello.
   */
  noteEarlierPeer(): void {
    if (this.metEpochPeer || this.metEarlierPeer || this.closed) return;
    this.metEarlierPeer = true;
    this.storage.transact((tx) => meetEarlierPeer(tx)).catch(() => void (this.metEarlierPeer = false));
  }

  /** The epoch of this replica's change log (epochs.ts). */
  get epoch(): string {
    return this.identity.epoch;
  }

  /** Whether states naming epochs are this replica's to make: it tags its dots, or speaks protocol 11 (its reads may return them). */
  get takesEpochs(): boolean {
    return this.identity.tagged !== undefined || (this.speaks ?? PROTOCOL_VERSIONS).includes(EPOCH_DOTS);
  }

  /** The epochs of this replica's change log, oldest first; the last is the current one. */
  get history(): readonly EpochEntry[] {
    return this.identity.history;
  }

  /**
   * Re-reads the identity from storage: another instance sharing it (a tab) may have started the current
   * epoch or re-identified the replica. A session reads it before its hello.
   */
  async refreshIdentity(hello = false): Promise<void> {
    // A re-issue a failed transaction left is tried again first (reidentify.ts finishReissue).
    await this.finishLeft(hello);
    const value = await this.storage.getMeta(IDENTITY_META);
    const stored = readIdentity(value as Parameters<typeof readIdentity>[0]);
    if (!stored || sameIdentity(stored, this.identity)) return this.adopt(value, 0);
    // Changed: read again with the log's seq, which tells whether the transaction that stored it may not be durable yet.
    const [again, seq] = await Promise.all([this.storage.getMeta(IDENTITY_META), this.storage.getMeta<number>('seq')]);
    this.adopt(again, seq ?? 0);
    // Another instance's new id, just adopted: what it left too, before a hello (other reads look at their next turn:
    // the id may be one a transaction of this instance applied and not yet made durable, which they must not wait for).
    if (hello) await this.finishLeft(true);
  }

  /**
   * Finishes re-issues left (`reissueLeft`). Before a hello (`hello`) a failure fails it: what is left may be a tab's write
   * under the old id past the restore point, which must not leave under it (the link retries after its backoff).
   */
  private async finishLeft(hello: boolean): Promise<void> {
    if (this.reissueLeft && !this.closed) await finishReissue(this.owner, false).catch((e: unknown) => (hello ? Promise.reject(e) : this.events.emit('error', e)));
  }

  /**
   * Takes the identity the storage holds, read when the log's seq was `at`; tells when its id changed (`later`: once the
   * running transaction is over). One read while a transaction up to `at` is not durable may be undone (`unsure`).
   */
  private adopt(value: unknown, at: number, later = false): void {
    const stored = readIdentity(value as Parameters<typeof readIdentity>[0]);
    if (!stored) return;
    if (this.unsure && sameIdentity(stored, this.unsure.was)) this.unsure = undefined; // back to the durable one
    // The same identity: kept as it is (noteEpochPeer puts back the one it replaced only if it is still the one in memory).
    if (sameIdentity(stored, this.identity)) return;
    const event = { oldId: this.identity.id, newId: stored.id };
    const formerAdded = event.oldId !== event.newId && !this.formerIds.has(event.oldId);
    if (at > this.durableSeq) {
      if (this.unsure) this.unsure.at = Math.max(this.unsure.at, at);
      else this.unsure = { was: this.identity, at, formerAdded };
    }
    this.identity = stored;
    if (event.oldId === event.newId) return;
    this.formerIds.add(event.oldId); // the instance that changed it stored it (identity.ts noteFormer)
    // Another instance re-identified: it may have left re-issues (a crash, a failure), looked for before the next hello.
    this.reissueLeft = true;
    this.claims.stop();
    if (later) queueMicrotask(() => this.events.emit('reidentified', event));
    else this.events.emit('reidentified', event);
  }

  /**
   * A transaction of this instance failed while the identity in memory was read from one perhaps not durable (`unsure`):
   * every transaction applied after the failed one fails too (storage.ts), the one that stored that identity among them
   * if it was not durable, so the durable identity before it is put back at once; the stored one is read again now, and
   * by the next write (another instance's change read before, durable but not known so here yet, comes back then).
   */
  private revertUnsure(): void {
    const unsure = this.unsure;
    if (!unsure || unsure.at <= this.durableSeq || sameIdentity(this.identity, unsure.was)) return;
    const event = { oldId: this.identity.id, newId: unsure.was.id };
    this.identity = unsure.was;
    if (!this.closed) this.refreshIdentity().catch(() => {});
    if (event.oldId === event.newId) return;
    this.formerIds.delete(event.oldId);
    if (unsure.formerAdded) this.formerIds.delete(event.newId);
    this.events.emit('reidentified', event);
  }

  /**
   * The log's top as the storage holds it: another instance sharing it (a tab) may have committed past what this
   * one has read yet, and what it committed is durable. Restore detection compares peers' claims with this.
   */
  async storedTop(): Promise<number> {
    return Math.max(this.durableSeq, (await this.storage.getMeta<number>('seq')) ?? 0);
  }

  /** Every transaction up to `seq` is durable. */
  noteDurable(seq: number): void {
    if (seq <= this.durableSeq) return;
    this.durableSeq = seq;
    if (this.unsure && this.unsure.at <= seq) this.unsure = undefined;
    if (this.durableWaits.length > 0) this.wakeDurable();
  }

  /**
   * Resolves once every transaction up to `seq` is known durable here (`durableSeq`: this instance's own, or another's
   * read from the log — `space`'s is read now, its hint may be lost), or the replica closed. An anti-entropy run that
   * left a key out, its newest record not durable, waits for that record before its next turn (sync/left-out.ts).
   */
  whenDurable(seq: number, space?: string): Promise<void> {
    if (seq <= this.durableSeq || this.closed) return Promise.resolve();
    const wait = new Promise<void>((resolve) => this.durableWaits.push({ seq, resolve }));
    if (space !== undefined) this.external.poke(space);
    return wait;
  }

  /** Resolves the waits `done` names (default: those durable now), and keeps the rest. */
  private wakeDurable(done = (seq: number) => seq <= this.durableSeq): void {
    const waits = this.durableWaits;
    this.durableWaits = waits.filter((w) => !done(w.seq));
    for (const w of waits) if (done(w.seq)) w.resolve();
  }

  /**
   * @internal A record a transaction outside the core's own paths (tombstone collection) applied at `seq`: its change
   * is told through `tellApplied` (in log order per key, change-order.ts), or taken back by `abandonApplied`.
   */
  noteApplied(space: string, key: string, seq: number): void {
    this.order.applied(space, key, seq);
  }

  /** @internal The change of a record noted by `noteApplied`, told unless a newer record of its key was told first. */
  tellApplied(change: StoredChange): void {
    if (!this.order.told(change.space, change.key, change.rec.seq)) this.events.emit('change', change);
  }

  /** @internal The transaction of a record noted by `noteApplied` failed: nothing of it stays. */
  abandonApplied(space: string, key: string, seq: number): void {
    this.order.told(space, key, seq);
    this.abandonedSeq(seq);
    this.onAbandoned?.(space, key, seq);
  }

  /**
   * A transaction whose records lay at `seq` failed (its seq taken back): nothing at or past it may become durable, so
   * who waits for that (`whenDurable`) goes on now rather than for ever (rev42: a run waiting for a left-out record whose
   * transaction failed held the space's repair outbox, and the link never synced again). The run then goes on as it did
   * before it waited; the key, back in the tree at its durable record (hub.ts logMoved), is compared by a later run.
   */
  private abandonedSeq(seq: number): void {
    this.revertUnsure();
    if (this.durableWaits.length > 0) this.wakeDurable((at) => at >= seq);
  }

  /** @internal The open asks stored when this instance opened, until open-asks-store.ts takes them. */
  storedAsks: unknown;

  /** @internal Whether other instances may have written the storage since the open (tabs). */
  get sharesStorage(): boolean {
    return !this.alone;
  }

  /** @internal Another instance shares the storage: the dots minted since the open are no longer all known here. */
  heardOthers(): void {
    this.alone = false;
    this.claims.heardOthers();
  }

  /** @internal Every transaction up to `seq` committed (here or in another instance) and is durable. */
  committed(seq: number): void {
    this.noteDurable(seq);
    if (seq > this.seenSeq) this.seenSeq = seq;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ConcordError('CLOSED', 'the replica is closed');
  }

  /**
   * A local write (local-write.ts). `produce` sees the current record inside the transaction and returns what to
   * write, or undefined to write nothing. `ctx` is what the write supersedes (default: everything stored).
   */
  write(space: string, key: string, produce: Produce | WriteContent, ctx?: Causal): Promise<KeyRecord | undefined> {
    if (this.closed) return Promise.reject(new ConcordError('CLOSED', 'the replica is closed'));
    const w = new LocalWrite(this.writeHost, space, key, produce, ctx);
    // A promise chain rather than an async function: one promise less per write on the hottest path.
    return this.storage.transact((tx) => w.run(tx)).then(
      (rec) => w.done(rec),
      (e: unknown) => Promise.reject(w.failed(e)),
    );
  }

  /**
   * The same write, committed at once where the storage can (memory storage, or file storage with nothing queued and
   * the key's record in memory): `receiver.settled` of the record (undefined when `produce` wrote nothing), or its promise
   * when the commit is not durable yet (file storage: once fsynced; `receiver.waiting` is told meanwhile), or `LATER` when the
   * storage cannot — then nothing ran; use `write`. Saves the promises of a transaction on the hottest path
   * (Space.put). Throws what `produce` throws.
   */
  writeNow<R>(space: string, key: string, produce: Produce | WriteContent, ctx: Causal | undefined, receiver: WriteReceiver<R>): R | Promise<R> | typeof LATER {
    this.assertOpen();
    if (!this.storage.transactNow) return LATER;
    return writeNow(this.storage, new LocalWrite(this.writeHost, space, key, produce, ctx), receiver) ?? LATER;
  }

  /** Inside a transaction: adopts the identity the storage holds (another instance may have changed it), then `then`. */
  withStoredIdentity<T>(tx: StorageTx, at: number, then: () => T): T | Promise<T> {
    const value = tx.getMeta<unknown>(IDENTITY_META);
    return value instanceof Promise ? value.then((v) => (this.adopt(v, at, true), then())) : (this.adopt(value, at, true), then());
  }

  /**
   * Joins remote states of keys into one space, in one transaction. Keys whose state did not change
   * advance nothing. `alsoInTx` stores what must commit with the entries, `meta` too from what the storage holds of it
   * (sync cursors). `delivered`: the
   * entries came straight from their peer's own session, which announced this epoch — its own dots among them
   * update what we remember it delivered (restore detection, epochs.ts). Returns the changes that were stored.
   */
  join(space: string, entries: ReadonlyArray<readonly [string, KeyState]>, options: JoinOptions = {}): Promise<StoredChange[]> {
    try {
      const out = this.joinNow(space, entries, options);
      return out instanceof Promise ? out : Promise.resolve(out);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The same join, committed at once where the storage can (StorageAdapter.transactNow: memory storage, or file storage
   * with nothing queued and the records in memory) and durable then: the stored changes, told already, with no promise
   * nor turn taken (every client of a relay joins every write it fans out: S7). Else their promise. Throws what the
   * join throws before anything is kept.
   */
  joinNow(space: string, entries: ReadonlyArray<readonly [string, KeyState]>, options: JoinOptions = {}): StoredChange[] | Promise<StoredChange[]> {
    this.assertOpen();
    const changes: StoredChange[] = [];
    const peer = options.peer;
    const source = options.source;
    let seen: Seen | undefined;
    if (peer !== undefined && options.delivered) {
      let top = 0;
      for (const [, remote] of entries) for (const v of remote.vs) if (v.r === peer && v.n > top) top = v.n;
      if (top > 0) {
        const e = options.delivered.epoch;
        const h = (options.delivered.history ?? []).map(([id]) => id).filter((id) => id !== e);
        seen = h.length > 0 ? { e, n: top, h } : { e, n: top };
      }
    }
    const me = this.identity.id;
    const history = this.identity.history;
    const since = history[history.length - 1]![1];
    const epochs = this.epochs;
    let claim: RestoreClaim | undefined;
    // Keys whose record this peer's state leaves as it is, holding every version of ours in it: the peer holds our writes
    // there (a state leaves a replica only once durable), though a link of ours may withhold the key (acks.ts shownHeldBy).
    const heldThere: Array<[string, number]> = [];
    const meta = options.meta;
    /** Whether `body` runs inside transactNow (below): it leaves its records unnoted then. */
    let atOnce = false;
    const body = (tx: StorageTx, prevs: ReadonlyArray<KeyRecord | undefined>, lastSeq: number | undefined, known: Seen | null | undefined, held: unknown) => {
      changes.length = 0;
      heldThere.length = 0;
      let seq = lastSeq ?? 0;
      // Counters of ours that are no dot of this storage's history: it lacks a history of ours (restore-claims.ts).
      claim = this.claims.check(entries, prevs, me, seq, history, epochs);
      if (claim) tx.setMeta(CLAIM_META, claim);
      for (let i = 0; i < entries.length; i++) {
        const [key, remote] = entries[i]!;
        const prev = prevs[i];
        // A remote state claiming our own dots for other writes (a restore lost them; or a forgery) must not
        // drop what we wrote since: those versions are minted again above the claim (dvv.ts contradiction).
        const clash = prev && contradiction(prev, remote, me, lastSeq ?? 0, since, epochs);
        let joined: KeyState;
        if (clash) {
          const from = Math.max(seq, remote.cc[me] ?? 0);
          const again = mintAgain(clash.base, clash.again, me, from, () => this.clock.tick(), mintEpoch(this.identity), epochs);
          for (let n = from + 1; n <= again.seq; n++) this.claims.minted(n);
          joined = again.state;
          seq = again.seq - 1; // the record's own seq is taken below
        } else {
          joined = joinWith(epochs, prev ?? EMPTY_STATE, remote);
          if (prev) noteDropped(tx, space, key, me, prev, joined);
        }
        if (prev ? sameState(joined, prev) : joined.vs.length === 0 && Object.keys(joined.cc).length === 0) {
          if (prev && peer !== undefined && this.holdsOurs(remote, prev)) heldThere.push([key, prev.seq]);
          continue;
        }
        seq++;
        const src = peer !== undefined && sameState(joined, remote) ? peer : undefined;
        const rec = new WrittenRecord(key, joined, seq, src); // hashed when first read (record.ts)
        tx.put(space, key, rec);
        if (!atOnce) this.noteJoined(space, key, seq);
        changes.push(source ? { space, key, rec, prev, origin: 'remote', source } : { space, key, rec, prev, origin: 'remote' });
      }
      if (seq !== (lastSeq ?? 0)) tx.setMeta('seq', seq);
      if (seen && (!known || seen.n > known.n)) tx.setMeta('dd:' + peer, seen);
      else seen = undefined;
      options.alsoInTx?.(tx);
      if (meta) {
        const value = meta.value(held);
        if (tx.setMetaOwned) tx.setMetaOwned(meta.name, value);
        else tx.setMeta(meta.name, value);
      }
      return seq;
    };
    // Epochs the states name that this instance does not know: their records, if another instance sharing the storage
    // stored them (epoch-store.ts learnStored), so the joins below judge by them.
    const judged = (tx: StorageTx, p: ReadonlyArray<KeyRecord | undefined>, s: number | undefined, k: Seen | null, m: unknown) => {
      const reading = learnStored(tx, epochs, p, entries);
      return reading ? reading.then(() => body(tx, p, s, k, m)) : body(tx, p, s, k, m);
    };
    // Every read goes out at once, before `body` (transactNow may end the run at a read it cannot answer at once; `body`
    // only writes): the records, the sequence, and what the peer delivered before (when not cached yet). Where storage
    // answers at once (memory), nothing is awaited at all.
    const run = (tx: StorageTx): number | Promise<number> => {
      const prevs: Array<KeyRecord | undefined | Promise<KeyRecord | undefined>> = [];
      for (const [key] of entries) prevs.push(tx.get(space, key));
      const lastSeq = tx.getMeta<number>('seq');
      const cached = seen ? this.seenOf.get(peer!) : null;
      const known = cached === undefined ? tx.getMeta<Seen>('dd:' + peer) : cached;
      const held = meta ? (tx.peekMeta ? tx.peekMeta<unknown>(meta.name) : tx.getMeta<unknown>(meta.name)) : undefined;
      if (lastSeq instanceof Promise || known instanceof Promise || held instanceof Promise || anyPromise(prevs)) {
        return Promise.all([Promise.all(prevs), lastSeq, known, held]).then(([p, s, k, m]) => judged(tx, p, s, k ?? null, m));
      }
      return judged(tx, prevs as Array<KeyRecord | undefined>, lastSeq, known ?? null, held);
    };
    let now: { value: number | Promise<number>; durable?: Promise<void> } | undefined;
    // Run by transactNow, `body` leaves its records unnoted (`atOnce`): a join that is durable once transactNow returns
    // tells its one change before anything else runs, so nothing could ask after it or be told out of order meanwhile,
    // and noting it (change-order.ts, pending.ts's ahead notes) only to take the note off again is the cost of every
    // delivery of a relay's client (S7). Anything else notes them here, as `body` would have, before any other code runs.
    atOnce = true; // (where the storage has no transactNow, `body` runs in `transact` below, after it is false again)
    try {
      now = this.storage.transactNow?.(run);
    } catch (e) {
      this.noteJoins(space, changes);
      this.joinUndone(space, changes);
      throw e;
    } finally {
      atOnce = false;
    }
    // Committed and durable at once: told now, no promise nor turn (the usual case of a client on memory storage).
    if (now && !now.durable) {
      const alone = changes.length === 1 && this.order.idle;
      if (!alone) this.noteJoins(space, changes);
      return this.joinTold(space, now.value as number, changes, heldThere, claim, peer, seen, alone);
    }
    // transactNow ran `body` (a commit not durable yet), or declined before `body` (then `transact` runs it again, noting).
    if (now) this.noteJoins(space, changes);
    const value = now?.value as number;
    return (now ? now.durable!.then(() => value) : this.storage.transact(run)).then(
      (seq) => this.joinTold(space, seq, changes, heldThere, claim, peer, seen),
      (e: unknown) => {
        this.joinUndone(space, changes);
        throw e;
      },
    );
  }

  /** A joined record is applied (not told yet): noted in log order per key, and for the pending-writes map. */
  private noteJoined(space: string, key: string, seq: number): void {
    this.order.applied(space, key, seq);
    this.onApplied?.(space, key, seq);
  }

  /** `changes`, left unnoted by a `body` run at once (none when it did not run: `body` empties them first), noted now. */
  private noteJoins(space: string, changes: readonly StoredChange[]): void {
    for (const c of changes) this.noteJoined(space, c.key, c.rec.seq);
  }

  /** A join's transaction failed: nothing of it stays, and what onApplied told of its records is taken back. */
  private joinUndone(space: string, changes: readonly StoredChange[]): void {
    for (const c of changes) {
      this.order.told(space, c.key, c.rec.seq);
      this.abandonedSeq(c.rec.seq);
      this.onAbandoned?.(space, c.key, c.rec.seq);
    }
  }

  /** A join's transaction committed at `seq`, storing `changes`: told, in order; returns them. */
  private joinTold(
    space: string,
    seq: number,
    changes: StoredChange[],
    heldThere: ReadonlyArray<[string, number]>,
    claim: RestoreClaim | undefined,
    peer: string | undefined,
    seen: Seen | undefined,
    /** The one change, never noted (`joinNow`): told with no change-order to ask. */
    unnoted = false,
  ): StoredChange[] {
    this.committed(seq);
    if (seen) this.seenOf.set(peer!, seen);
    for (const [key, at] of heldThere) this.acks.shownHeldBy(space, key, at);
    for (const change of changes) {
      this.external.noteOwn(space, change.rec.seq);
      for (const v of change.rec.vs) this.clock.observe(v.t, v.c);
      // Heard after a newer record of its key (transactions resolving out of order): the newer change said it all.
      if (unnoted || !this.order.told(space, change.key, change.rec.seq)) this.events.emit('change', change);
    }
    if (claim && this.claims.watching) void this.changes.actOnClaim(claim);
    return changes;
  }

  /**
   * Whether `rec` holds a version of ours (under this id or a former one), and `state` holds or covers every one. A former
   * id's dot counts only held as the same write (its HLC): such a dot may name two writes — made again under the retired
   * id after a restore, or forged — and no join checks a former id's dots for a contradiction. A held form names the HLC
   * and is resolved to ours (resolve.ts), which marks the state where the two differ (`anotherWriteHeld`).
   */
  private holdsOurs(state: KeyState, rec: KeyRecord): boolean {
    if (anotherWriteHeld.has(state)) return false;
    let ours = false;
    for (const v of rec.vs) {
      if (v.r === this.identity.id) {
        if (!coversDot(this.epochs, state, v.r, v.ep, v.n)) return false;
      } else if (this.formerIds.has(v.r)) {
        if (!state.vs.some((x) => sameDot(x, v) && x.t === v.t && x.c === v.c)) return false;
      } else continue;
      ours = true;
    }
    return ours;
  }

  /**
   * At open: re-issues a re-identification left (a crash or a failure after its first transaction) are finished, and a
   * claim stored by a join whose re-identification did not run (a crash came first) runs now.
   */
  async resumeClaim(): Promise<void> {
    if (this.reissueLeft) await finishReissue(this.owner, true).catch((e: unknown) => this.events.emit('error', e));
    return this.changes.resumeClaim();
  }

  /** Tombstone collection (collection.ts). Returns how many keys were collected. */
  collectTombstones(grace: number, pending?: (space: string, key: string, rec: KeyRecord) => boolean): Promise<number> {
    this.assertOpen();
    return collectTombstones(this, grace, pending);
  }

  /** What `peer` delivered to us directly (its highest own dot and the epoch it announced then), if anything. */
  async seen(peer: string): Promise<Seen | undefined> {
    let s = this.seenOf.get(peer);
    if (s === undefined) {
      s = (await this.storage.getMeta<Seen>('dd:' + peer)) ?? null;
      this.seenOf.set(peer, s);
    }
    return s ?? undefined;
  }

  /** Remembers the epoch we announced to `peer` (the restore point, should it later tell us we lost writes). */
  async told(peer: string): Promise<void> {
    const key = 'told:' + peer;
    if ((await this.storage.getMeta<string>(key)) !== this.epoch) await this.storage.transact((tx) => tx.setMeta(key, this.epoch));
  }

  /**
   * `peer` holds a dot of ours that our storage lost: take a new replicaId and re-issue under it what was written
   * under the old one since the restore (reidentify.ts). The caller closes every session: they spoke for the old id.
   */
  async reidentify(peer: string, claims: readonly Seen[] = []): Promise<void> {
    this.assertOpen();
    await this.changes.reidentify(peer, claims);
  }

  /**
   * A relay refused our replicaId (another principal uses it there, principals.ts): take a new one. Unlike
   * `reidentify` nothing is re-issued — our dots so far are ours and name what they named.
   */
  /**
   * The epoch ancestry joins judge dots naming epochs by: every record this replica learned, kept across opens
   * (epoch-store.ts). Nothing stored or received names an epoch yet (docs/design/epochs-build.md): until then it
   * changes no join.
   */
  get epochs(): Epochs {
    if (this.epochsOf !== this.identity) {
      const history = this.identity.history;
      this.knownEpochs.learn(this.identity.id, history, history.length < MAX_STORED_EPOCHS, this.identity.tagged);
      this.epochsOf = this.identity;
      // Not stored here (a transaction more on every identity change, protocol 11 or not): they stay fresh, stored by
      // the next store of a protocol-11 session or learned from the history again at the next open (openEpochs).
    }
    return this.knownEpochs;
  }

  /**
   * Stores the epoch records learned since the last store (epoch-store.ts): a reopened replica judges by them too. A
   * caller need not wait for it before it stores a state naming those epochs: storage resolves transactions in order,
   * once durable (`durableSeq`), so the records are durable first.
   */
  saveEpochs(): Promise<void> {
    return this.closed ? Promise.resolve() : saveEpochs(this.storage, this.epochs);
  }

  async renewIdentity(): Promise<void> {
    this.assertOpen();
    await this.changes.renewIdentity();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeDurable(() => true);
    await this.external.close();
    await this.storage.close();
  }
}

/** Two reads of the stored identity that name the same one (a re-read of an unchanged identity keeps the object in memory). */
function sameIdentity(a: Identity, b: Identity): boolean {
  return a.id === b.id && a.epoch === b.epoch && a.tagged === b.tagged && a.history.length === b.history.length;
}

/** Whether any of the reads is still on its way. */
function anyPromise(reads: readonly unknown[]): boolean {
  for (const r of reads) if (r instanceof Promise) return true;
  return false;
}
