/**
 * `openReplica`: the entry point. A replica owns one storage, mints its replicaId when the storage is empty,
 * and hands out spaces. Sync links attach to it with `connect`.
 *
 * Sync state an app can show: `status`, `pending` (keys holding a local write no relay or peer acknowledged
 * yet, pending.ts; derived from the log at open) and `whenSynced()`. The spaces synced are those opened here
 * or in another instance sharing the storage, and those holding pending writes (a write is meant to reach a
 * peer, opened this session or not).
 *
 * Every tab: where the storage is shared by live instances (`storage.shared()`, browser tabs), `connect()` may
 * be called in each; one instance holds the network role and runs its links for all, the others' links are
 * dormant and show its status, acknowledgements and presence (sync/tabs.ts).
 */
import { ReplicaCore, type AntiEntropyRun, type CoreEvents } from './core.js';
import { ConcordError } from './errors.js';
import { ownAbove, PendingWrites } from './pending.js';
import { patternTable, type Pattern } from './pattern.js';
import { checkSpaceName, Space, type SpaceHost, type SpaceOptions } from './space.js';
import type { StorageAdapter } from './storage.js';
import type { SchemaValidators, SpaceSchema } from './schema.js';
import type { SpaceOf } from './typed-space.js';
import { SyncHub } from './sync/hub.js';
import { DEFAULT_MAX_FRAME_BYTES, Link, type LinkOptions, type Timers } from './sync/link.js';
import { Session, type Grants } from './sync/session.js';
import type { PresenceBudget } from './sync/presence-holds.js';
import { TabNetwork, type TabNetworkOptions } from './sync/tabs.js';
import type { Connection, ConnectionHandlers, Transport } from './transport.js';
import type { MergeFn, MergeTable, ReplicaStatus } from './types.js';
import { DEFAULT_MAX_VALUE_BYTES } from './values.js';

export interface ReplicaOptions {
  storage: StorageAdapter;
  /** Merge functions by key pattern, for every space. */
  merge?: MergeTable;
  /** Values encoding to more bytes are refused at `put` (default 1 MiB). */
  maxValueBytes?: number;
  /** Wall clock in milliseconds (injected in tests and simulations). */
  now?: () => number;
  /** Randomness in [0, 1) for identifiers and protocol run ids (injected by simulations so a seed replays a run). */
  random?: () => number;
  /**
   * Collect tombstones older than `gcGrace` (relays do; a replica that does must be one peers sync through).
   * Default false.
   */
  collectTombstones?: boolean;
  /** Milliseconds a tombstone is kept before collection (default 30 days). */
  gcGrace?: number;
  /** Milliseconds after which a silent presence entry leaves the view (default 15 000). */
  presenceTtl?: number;
  /**
   * Where tabs share the storage: how often the tab holding the network role tells the others it is alive
   * (`beatMs`, default 2000), and how long an unanswered probe waits before another tab takes the role over
   * from a stalled one (`probeTimeoutMs`, default 2000). A stalled leader is replaced within about
   * 3 × beatMs + 1.5 × probeTimeoutMs. `timers`: injected by tests and simulations.
   */
  sharedNetwork?: Pick<TabNetworkOptions, 'beatMs' | 'probeTimeoutMs' | 'timers'>;
  /**
   * Remote timestamps more than this many ms ahead of this replica's wall clock are not adopted by its
   * clock (default 60 000): the versions are kept and synced, but a peer with a clock in the far future
   * cannot drag this replica's timestamps there.
   */
  maxClockDriftMs?: number;
  /**
   * The storage was just restored from a backup or copied from another replica's (a VM snapshot rolled back, a
   * directory copied back): open under a new replica id. Pass it on the first open after the restore, not every
   * time (each open with it adds an id). Without it a restore is noticed only when a peer that holds the lost
   * writes tells this replica (a client its relay, a relay only the relays of its cluster), and a write made
   * before that can reuse a dot the lost writes used; its peers then keep one of the two values. The file storage
   * tells a copy made file by file by itself (`location`; what it cannot tell: docs/deploy.md, "Backups").
   */
  restored?: boolean;
  /**
   * @internal The protocol versions this replica's hellos announce (default: all this release speaks). An open that
   * starts an epoch while they include 11 (the default since 11 was announced) starts naming epochs in dots
   * (docs/design/epochs-build.md, item 1); the storage's identity keeps doing so from then on.
   */
  speaks?: readonly number[];
}

export const DEFAULT_GC_GRACE = 30 * 24 * 3600 * 1000;

/** What `accept` learns of a peer: its rights, and whether it is a relay of our cluster (it may forward presence). */
export type AcceptGrants = Grants & { relay?: boolean };

export interface AcceptOptions {
  /** Checks the peer's token (sent in its hello); throws ConcordError 'UNAUTHORIZED' to refuse it. */
  authenticate: (token: string, peerId: string) => AcceptGrants | Promise<AcceptGrants>;
  maxFrameBytes?: number;
  /**
   * The peer's changes in `space` up to its seq `upTo` are stored, the newest at our log seq `localSeq`; `keys`: the
   * keys of the log frame that brought them (undefined when a repair or a held-back run did: keys not known here).
   */
  onStored?: (space: string, upTo: number, localSeq: number, keys?: readonly string[]) => void;
  /** Milliseconds between anti-entropy rounds on this connection once synced (default 60 000; 0 turns them off). */
  antiEntropyInterval?: number;
  /** Timers for the periodic rounds (simulations pass virtual ones). */
  timers?: Timers;
  /** What the peer's presence may make this replica hold, per connection, principal and more (presence-holds.ts). */
  presenceBudget?: PresenceBudget;
}

export interface ReplicaEvents {
  error: unknown;
  status: ReplicaStatus;
  /** `replica.pending` changed (the new count). */
  pending: number;
  /** A Merkle anti-entropy run ended: turns, bytes, keys repaired. */
  antiEntropy: AntiEntropyRun;
}

export async function openReplica(options: ReplicaOptions): Promise<Replica> {
  if (!options || typeof options.storage?.transact !== 'function') {
    throw new ConcordError('INVALID_OPTION', 'openReplica({ storage }) needs a storage adapter, e.g. memoryStorage()');
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes <= 0) {
    throw new ConcordError('INVALID_OPTION', 'maxValueBytes must be a positive integer');
  }
  const core = await ReplicaCore.open({
    storage: options.storage,
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.maxClockDriftMs !== undefined ? { maxClockDriftMs: options.maxClockDriftMs } : {}),
    ...(options.restored ? { restored: true } : {}),
    ...(options.speaks ? { speaks: options.speaks } : {}),
  });
  const replica = new Replica(core, patternTable(options.merge), maxValueBytes, options.presenceTtl, options.sharedNetwork);
  // What the open tells (a restore it found or finished: RESTORED) goes out before the app can listen: held for it.
  const hold = core.events.on('error', (e) => void replica.heldErrors.push(e));
  try {
    await replica.pendingWrites.load();
    await core.resumeClaim();
  } catch (e) {
    await replica.close().catch(() => {});
    throw e;
  } finally {
    hold();
  }
  if (options.collectTombstones) replica.startCollecting(options.gcGrace ?? DEFAULT_GC_GRACE);
  return replica;
}

export class Replica implements SpaceHost {
  private readonly spaces = new Map<string, Space>();
  private readonly readOnlySpaces = new Set<string>();
  private readonly hub: SyncHub;
  private readonly links = new Set<Link>();
  private readonly accepted = new Set<Session>();
  /** @internal */
  readonly pendingWrites: PendingWrites;
  /** @internal Errors told while `openReplica` ran, before the app could listen: for the first `error` listener (`on`). */
  readonly heldErrors: unknown[] = [];
  /** The network role shared with other instances on the same storage (browser tabs), if it is shared. */
  private readonly network: TabNetwork | undefined;
  /** Spaces other instances on the same storage opened: synced here while this instance leads. */
  private readonly tabSpaces = new Set<string>();

  /** @internal use openReplica() */
  constructor(
    readonly core: ReplicaCore,
    readonly merges: readonly Pattern<MergeFn>[],
    readonly maxValueBytes: number,
    presenceTtl?: number,
    sharedNetwork?: TabNetworkOptions,
  ) {
    core.events.on('change', (change) => {
      if (!change.collected) this.spaces.get(change.space)?.dispatch(change);
    });
    // Before the hub's listeners: the status the hub computes on a change or an ack sees the count after it.
    this.pendingWrites = new PendingWrites(core, {
      shared: typeof core.storage.onExternalChange === 'function',
      onCount: (n) => {
        core.events.emit('pending', n);
        this.hub?.refreshStatus();
      },
      onSpace: (space) => {
        if (!this.spaces.has(space)) this.hub?.spaceOpened(space);
      },
    });
    core.events.on('change', (change) => {
      // The map first: a waiter the release wakes on a closed replica is placed by it (acks.ts recordNow), and must find
      // the key's new record there, not the one a link left out (a join stored as the replica closed: withheld 1289).
      this.pendingWrites.changed(change);
      core.acks.release(change.space, change.key, change.rec.seq);
    });
    core.acks.onAdvance((space, upTo, peer) => this.pendingWrites.acked(space, upTo, peer));
    core.onApplied = (space, key, seq) => this.pendingWrites.applied(space, key, seq);
    core.onAbandoned = (space, key, seq) => {
      this.pendingWrites.abandoned(space, key, seq);
      this.hub?.logMoved(space, key);
    };
    // A write's key written again before its seq was acknowledged: `w.synced` waits for where the key is now.
    core.acks.locate = (space, key) => this.pendingWrites.seqOf(space, key);
    core.acks.closed = () => core.isClosed;
    core.acks.where = async (space, key) => {
      const rec = await core.storage.get(space, key);
      return rec && ownAbove(rec, core.replicaId, 0, core.formerIds) > 0 ? rec.seq : undefined;
    };
    this.hub = new SyncHub(core, {
      opened: () => this.syncedSpaces(),
      readOnly: (space, on) => {
        if (!on) return void this.readOnlySpaces.delete(space);
        if (this.readOnlySpaces.has(space)) return;
        this.readOnlySpaces.add(space);
        // Writes made before the relay said so never reach it: say it once, not by uploading them to be refused.
        const waiting = this.pendingWrites.countIn(space);
        if (waiting > 0) core.events.emit('error', new ConcordError('FORBIDDEN', `space "${space}" is read-only for this connection: ${waiting} local write${waiting === 1 ? '' : 's'} in it will not sync`));
      },
      pending: () => this.pendingWrites.count,
      ...(presenceTtl !== undefined ? { presenceTtl } : {}),
    });
    const port = core.storage.shared?.();
    this.network = port
      ? new TabNetwork(
          port,
          {
            core,
            presence: this.hub.presence,
            ownStatus: () => this.hub.status,
            pending: () => this.pendingWrites.count,
            openedSpaces: () => this.spaces.keys(),
            remoteSpaces: (names) => {
              for (const name of names) {
                if (this.tabSpaces.has(name)) continue;
                this.tabSpaces.add(name);
                if (!this.spaces.has(name)) this.hub.spaceOpened(name);
              }
            },
            setLeading: (on) => {
              for (const link of this.links) link.setActive(on);
            },
            wakeLinks: () => {
              for (const link of this.links) link.retryNow();
            },
            refreshStatus: () => this.hub.refreshStatus(),
          },
          { now: core.now, ...sharedNetwork },
        )
      : undefined;
  }

  /** The spaces links sync: opened here or in another tab, or holding local writes no peer acknowledged yet. */
  private syncedSpaces(): Set<string> {
    const all = new Set(this.spaces.keys());
    for (const space of this.tabSpaces) all.add(space);
    for (const space of this.pendingWrites.spaces()) all.add(space);
    return all;
  }

  /** @internal */
  get presenceHub() {
    return this.hub.presence;
  }

  /** @internal Spaces holding a Merkle index now, and their tree nodes and keys (memory accounting). */
  get indexStats(): { spaces: number; nodes: number; keys: number } {
    return this.hub.indexStats;
  }

  get replicaId(): string {
    return this.core.replicaId;
  }

  /** 'synced' when every link is connected, authenticated, caught up, and holds no unacknowledged local write. */
  get status(): ReplicaStatus {
    return this.hub.status;
  }

  /**
   * Keys holding a local write that no relay or peer has acknowledged yet, across every space (a key written
   * several times counts once: its latest write carries the earlier ones). Derived from the change log and the
   * stored acknowledgements, so it is right after a reload. Changes are reported by the 'pending' event.
   */
  get pending(): number {
    return this.pendingWrites.count;
  }

  /**
   * Resolves once `status` is 'synced' and nothing is `pending`: every link connected and caught up, and every
   * local write made before the call (stored locally or still being stored) held by a relay or peer. It waits while offline or with no link at all (it never gives up on
   * its own: race it with a timeout, or pass a `signal` to stop waiting, which rejects with the signal's reason).
   * Rejects with ConcordError 'CLOSED' when the replica closes first (at once if it is closed).
   */
  async whenSynced(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.core.assertOpen();
    // Writes already made but still being stored count: `space.put(k, v); await replica.whenSynced()` waits for them.
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.settled.push(resolve));
    return new Promise<void>((resolve, reject) => {
      if (this.core.isClosed) return reject(new ConcordError('CLOSED', 'the replica is closed'));
      if (options.signal?.aborted) return reject(options.signal.reason);
      const done = () => this.status === 'synced' && this.pending === 0;
      if (done()) return resolve();
      const stops: Array<() => void> = [];
      const finish = (error?: unknown) => {
        for (const stop of stops) stop();
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = () => void (done() && finish());
      stops.push(this.core.events.on('status', check), this.core.events.on('pending', check));
      this.closeWaiters.add(finish);
      stops.push(() => this.closeWaiters.delete(finish));
      if (options.signal) {
        const signal = options.signal;
        const abort = () => finish(signal.reason);
        signal.addEventListener('abort', abort, { once: true });
        stops.push(() => signal.removeEventListener('abort', abort));
      }
    });
  }

  private readonly closeWaiters = new Set<(error: unknown) => void>();
  private inFlight = 0;
  private settled: Array<() => void> = [];

  /** @internal Writes through the API in flight (SpaceHost). */
  writing(on: boolean): void {
    this.inFlight += on ? 1 : -1;
    if (this.inFlight === 0) for (const resolve of this.settled.splice(0)) resolve();
  }

  /**
   * Syncs with a peer or relay through a transport, reconnecting after drops until `link.close()`. Where tabs
   * share the storage, call it in every tab: the tab holding the network role connects for all (the others'
   * links wait, dormant, and take over when that tab closes or stalls).
   */
  connect(transport: Transport, options: LinkOptions = {}): Link {
    this.core.assertOpen();
    if (!transport || typeof transport.open !== 'function') {
      throw new ConcordError('INVALID_OPTION', 'connect(transport): a transport such as webSocketTransport(url) or pairTransports()[0]');
    }
    const network = this.network;
    const role = network && {
      get active() {
        return network.isLeader;
      },
      dormantStatus: () => network.followerStatus(),
      wake: () => network.wake(),
    };
    const link: Link = new Link(this.hub, transport, {
      ...options,
      maxValueBytes: this.maxValueBytes,
      ...(role ? { role } : {}),
      onClose: () => {
        this.links.delete(link);
        network?.linksChanged(this.links.size);
      },
    });
    this.links.add(link);
    network?.linksChanged(this.links.size);
    return link;
  }

  /**
   * Serves a peer that connected to us (a relay's side of a connection): authenticates its hello and
   * checks its rights on every message. Feed the connection's frames and close to the returned handlers.
   */
  accept(connection: Connection, options: AcceptOptions): ConnectionHandlers & { readonly session: Session } {
    this.core.assertOpen();
    let relayPeer = false;
    const session = new Session(this.hub, connection, {
      role: 'server',
      authenticate: async (token, peerId) => {
        const grants = await options.authenticate(token, peerId);
        relayPeer = grants.relay === true;
        return grants;
      },
      spaces: 'requested',
      maxFrameBytes: connection.maxFrameBytes ?? options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxValueBytes: this.maxValueBytes,
      now: this.core.now,
      ...(options.onStored ? { onStored: options.onStored } : {}),
      ...(options.antiEntropyInterval !== undefined ? { antiEntropyInterval: options.antiEntropyInterval } : {}),
      ...(options.timers ? { timers: options.timers } : {}),
    });
    // A peer we serve is a client unless it authenticated as a relay: it may send only its own presence.
    this.hub.presence.restrict(session, {
      peer: () => session.peerId,
      forwards: () => relayPeer,
      principal: () => session.principal.principal,
      ...(options.presenceBudget ? { budget: options.presenceBudget } : {}),
    });
    this.accepted.add(session);
    return {
      session,
      onMessage: (frame) => session.receive(frame),
      onClose: (code, reason) => {
        session.closedBy(code, reason);
        this.accepted.delete(session);
      },
    };
  }

  /**
   * The space of that name (the same object on every call); options given again replace the earlier ones.
   * With a schema type (`space<Schema>(name)`) or validators (`{ schema }`), its keys and values are typed.
   */
  space<S extends SpaceSchema = never>(name: string, options?: SpaceOptions & { schema?: SchemaValidators<S> }): SpaceOf<S>;
  space(name: string, options?: SpaceOptions): Space {
    checkSpaceName(name);
    let space = this.spaces.get(name);
    if (!space) {
      this.spaces.set(name, (space = new Space(this, name, options)));
      this.hub.spaceOpened(name);
      this.network?.spaceOpened(name);
    } else if (options) space.configure(options);
    return space;
  }

  /** @internal */
  openSpaces(): IterableIterator<Space> {
    return this.spaces.values();
  }

  isReadOnly(space: string): boolean {
    return this.readOnlySpaces.has(space);
  }

  /**
   * Adds a listener; returns the function that removes it. The errors told while `openReplica` ran (a restore the open
   * found or finished re-issuing: RESTORED), before any listener could be added, go to the first `error` listener, once.
   */
  on<K extends keyof ReplicaEvents>(type: K, listener: (payload: ReplicaEvents[K]) => void, options?: { signal?: AbortSignal }): () => void {
    let on = true;
    const off = this.core.events.on(type as keyof CoreEvents, listener as (payload: CoreEvents[keyof CoreEvents]) => void, options);
    // Told after `on` returns, as an emit would be: never to a listener removed meanwhile (they wait for the next one).
    const tell = (e: unknown) => {
      try {
        (listener as (e: unknown) => void)(e);
      } catch {
        // goes nowhere, as a throw of an 'error' listener (events.ts)
      }
    };
    if (type === 'error' && this.heldErrors.length) queueMicrotask(() => on && !options?.signal?.aborted && this.heldErrors.splice(0).forEach(tell));
    return () => ((on = false), off());
  }

  private gcTimer: ReturnType<typeof setInterval> | undefined;
  private gcGrace = DEFAULT_GC_GRACE;

  /** @internal */
  startCollecting(grace: number): void {
    this.gcGrace = grace;
    this.gcTimer = setInterval(() => void this.collectGarbage().catch((e) => this.core.events.emit('error', e)), Math.min(grace / 10, 3600_000));
    (this.gcTimer as { unref?: () => void }).unref?.();
  }

  /** Collects tombstones older than the grace period now (relays also do it periodically); returns the count removed. */
  collectGarbage(): Promise<number> {
    // A key holding a version of ours no peer acknowledged yet waits (collection.ts): its record not durable yet, or
    // still counted pending.
    const core = this.core;
    return core.collectTombstones(
      this.gcGrace,
      (space, key, rec) => rec.vs.some((v) => v.r === core.replicaId || core.formerIds.has(v.r)) && (rec.seq > core.durableSeq || this.pendingWrites.seqOf(space, key) !== undefined),
    );
  }

  /** @internal Flushes of the writes bindings owe (SpaceHost.owes): close() makes them first. */
  private readonly owed = new Set<() => Promise<unknown>>();

  /** @internal */
  owes(flush: () => Promise<unknown>): () => void {
    this.owed.add(flush);
    return () => void this.owed.delete(flush);
  }

  private closing: Promise<void> | undefined;

  /**
   * Writes what bindings owe (an open document's edits not written yet), then closes; rejects with what those writes
   * could not store (the replica is closed all the same). Called again, the same promise.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shut());
  }

  private async shut(): Promise<void> {
    // While the replica stores and sends: what the app's editor showed reaches the disk and the peers.
    const failed = this.owed.size > 0 ? await flushAll([...this.owed]) : [];
    clearInterval(this.gcTimer);
    // Presence leaves first, so the other tabs hear it before this one stops talking to them.
    this.hub.presence.close();
    this.network?.close();
    const lacks = this.hub.lacks.close(); // before the links: closed with the replica, they forget nothing (lacks.ts)
    for (const link of [...this.links]) link.close();
    for (const session of this.accepted) session.close(1001, 'replica closing');
    for (const waiter of [...this.closeWaiters]) waiter(new ConcordError('CLOSED', 'the replica closed before it was synced'));
    if (!this.core.isClosed) await this.pendingWrites.close().catch((e) => this.core.events.emit('error', e));
    await lacks;
    await this.core.close();
    if (failed.length > 0) throw failed.length === 1 ? failed[0] : new AggregateError(failed, `${failed.length} writes owed at close failed`);
  }
}

/** Runs every flush; the failures. */
async function flushAll(flushes: ReadonlyArray<() => Promise<unknown>>): Promise<unknown[]> {
  const done = await Promise.allSettled(flushes.map(async (f) => f()));
  return done.flatMap((d) => (d.status === 'rejected' ? [d.reason] : []));
}
