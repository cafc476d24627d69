/**
 * `openReplica`: the entry point. A replica owns one storage, mints its replicaId when the storage is empty,
 * and hands out spaces. Sync links attach to it with `connect`.
 */
import { ReplicaCore, type AntiEntropyRun, type CoreEvents } from './core.js';
import { ConcordError } from './errors.js';
import { patternTable, type Pattern } from './pattern.js';
import { checkSpaceName, Space, type SpaceHost, type SpaceOptions } from './space.js';
import type { StorageAdapter } from './storage.js';
import type { SchemaValidators, SpaceSchema } from './schema.js';
import type { SpaceOf } from './typed-space.js';
import { SyncHub } from './sync/hub.js';
import { Link, type LinkOptions, type Timers } from './sync/link.js';
import { Session, type Grants } from './sync/session.js';
import { DEFAULT_MAX_FRAME_BYTES } from './sync/link.js';
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
   * Remote timestamps more than this many ms ahead of this replica's wall clock are not adopted by its
   * clock (default 60 000): the versions are kept and synced, but a peer with a clock in the far future
   * cannot drag this replica's timestamps there.
   */
  maxClockDriftMs?: number;
}

export const DEFAULT_GC_GRACE = 30 * 24 * 3600 * 1000;

/** What `accept` learns of a peer: its rights, and whether it is a relay of our cluster (it may forward presence). */
export type AcceptGrants = Grants & { relay?: boolean };

export interface AcceptOptions {
  /** Checks the peer's token (sent in its hello); throws ConcordError 'UNAUTHORIZED' to refuse it. */
  authenticate: (token: string, peerId: string) => AcceptGrants | Promise<AcceptGrants>;
  maxFrameBytes?: number;
  /** The peer's changes in `space` up to its seq `upTo` are stored, the newest at our log seq `localSeq`. */
  onStored?: (space: string, upTo: number, localSeq: number) => void;
  /** Milliseconds between anti-entropy rounds on this connection once synced (default 60 000; 0 turns them off). */
  antiEntropyInterval?: number;
  /** Timers for the periodic rounds (simulations pass virtual ones). */
  timers?: Timers;
}

export interface ReplicaEvents {
  error: unknown;
  status: ReplicaStatus;
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
  });
  const replica = new Replica(core, patternTable(options.merge), maxValueBytes, options.presenceTtl);
  if (options.collectTombstones) replica.startCollecting(options.gcGrace ?? DEFAULT_GC_GRACE);
  return replica;
}

export class Replica implements SpaceHost {
  private readonly spaces = new Map<string, Space>();
  private readonly readOnlySpaces = new Set<string>();
  private readonly hub: SyncHub;
  private readonly links = new Set<Link>();
  private readonly accepted = new Set<Session>();

  /** @internal use openReplica() */
  constructor(
    readonly core: ReplicaCore,
    readonly merges: readonly Pattern<MergeFn>[],
    readonly maxValueBytes: number,
    presenceTtl?: number,
  ) {
    core.events.on('change', (change) => {
      if (!change.collected) this.spaces.get(change.space)?.dispatch(change);
    });
    this.hub = new SyncHub(core, {
      opened: () => this.spaces.keys(),
      readOnly: (space, on) => (on ? this.readOnlySpaces.add(space) : this.readOnlySpaces.delete(space)),
      ...(presenceTtl !== undefined ? { presenceTtl } : {}),
    });
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

  /** Syncs with a peer or relay through a transport, reconnecting after drops until `link.close()`. */
  connect(transport: Transport, options: LinkOptions = {}): Link {
    this.core.assertOpen();
    if (!transport || typeof transport.open !== 'function') {
      throw new ConcordError('INVALID_OPTION', 'connect(transport): a transport such as webSocketTransport(url) or pairTransports()[0]');
    }
    const link = new Link(this.hub, transport, { ...options, maxValueBytes: this.maxValueBytes });
    this.links.add(link);
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
    this.hub.presence.restrict(session, { peer: () => session.peerId, forwards: () => relayPeer });
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

  on<K extends keyof ReplicaEvents>(type: K, listener: (payload: ReplicaEvents[K]) => void, options?: { signal?: AbortSignal }): () => void {
    return this.core.events.on(type as keyof CoreEvents, listener as (payload: CoreEvents[keyof CoreEvents]) => void, options);
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
    return this.core.collectTombstones(this.gcGrace);
  }

  async close(): Promise<void> {
    clearInterval(this.gcTimer);
    this.hub.presence.close();
    for (const link of this.links) link.close();
    for (const session of this.accepted) session.close(1001, 'replica closing');
    await this.core.close();
  }
}
