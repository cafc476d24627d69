/**
 * The sync hub of one replica: what every link shares. Per space, the Merkle tree (built lazily from the
 * storage index, then updated from every stored change) and the seq of the space's last durable log entry;
 * the set of live sessions; and the replica's aggregate status.
 *
 * Memory per space is bounded and idle state is evicted (issue 11 #3: one message naming 1 500 spaces
 * used to pin 406 MiB of trees for good). A tree is sparse, in proportion to its keys (merkle.ts); an
 * index not asked for within `indexIdleMs` is dropped, and beyond `maxIndexes` the least recently used one
 * is: both are rebuilt from the storage index on their next use, so an eviction changes no result, only
 * costs a rebuild. The space's last log seq outlives its tree (a number per space that has entries), so
 * `lastSeqNow` stays right while the tree is gone. Eviction runs on use and when a session ends; no timer.
 */
import type { ReplicaCore, StoredChange } from '../core.js';
import type { ReplicaStatus } from '../types.js';
import { summaryOf } from '../storage.js';
import { MerkleTree } from './merkle.js';
import type { SketchCredit } from './fast-path.js';
import { PresenceHub } from './presence-hub.js';
import { Lacks, LACKS_META } from './lacks.js';
import { Principals } from './principals.js';
import { EpochHolds } from './epoch-holds.js';

export interface SessionLike {
  readonly status: ReplicaStatus;
  /** The peer's replicaId, once its hello arrived. */
  readonly peerId?: string | undefined;
  /**
   * A change was stored (any origin): push it if the space is live on this session. `prevLast` is the
   * space's last log seq before this change, when the index knows it and every commit between the two was announced
   * here.
   */
  changed(change: StoredChange, prevLast: number | undefined): void;
  /** The space's log may read further with no change stored (a rolled-back transaction held it back). */
  logMoved(space: string): void;
  /** A space was opened locally after the session started. */
  spaceOpened(space: string): void;
  close(code: number, reason: string): void;
}

interface SpaceIndex {
  tree: MerkleTree;
  lastSeq: number;
  /**
   * Keys the build left out of the tree: their newest record was not durable then (the storage index holds each key
   * once, at its newest record, so not even an older durable state of the key is in the tree). Each joins the tree with
   * its change event; until then an anti-entropy run over this tree cannot see the key (repair.ts `skipped`).
   */
  unsettled?: Set<string>;
  /** What anti-entropy sketches of this space may still pass over, for every session together (fast-path.ts). */
  sketch?: SketchCredit;
}

/** An index not used for this long is dropped (ms). */
export const DEFAULT_INDEX_IDLE_MS = 60_000;
/** At most this many spaces keep an index at once; the least recently used goes first. */
export const DEFAULT_MAX_INDEXES = 4096;

export class SyncHub {
  /** Insertion order is recency order: an index is moved to the end whenever it is used. */
  private readonly indexes = new Map<string, Promise<SpaceIndex>>();
  private readonly built = new Map<string, SpaceIndex>();
  private readonly usedAt = new Map<string, number>();
  /**
   * The last log seq of every space indexed or summarized since this hub started (0 while it has no entries);
   * exact (every change updates it), and kept when the index is dropped.
   */
  private readonly lastSeqs = new Map<string, number>();
  /**
   * The latest run of seqs announced here with no gap, in any space (undefined before the first change). A gap is a
   * commit this instance has not seen as an event (another tab's, whose hint may come late or never): a new run
   * starts after it, and nothing below the run is vouched for.
   */
  private run: { from: number; to: number } | undefined;
  private lastSweep = 0;
  /** A re-identification is under way: sessions wait for its end (they would speak for the old id). */
  private reidentifying = false;
  private readonly indexIdleMs: number;
  private readonly maxIndexes: number;
  private readonly opened: () => Iterable<string>;
  private readonly readOnly: (space: string, on: boolean) => void;
  private readonly pending: () => number;
  private readonly sessions = new Set<SessionLike>();
  private current: ReplicaStatus = 'offline';
  /** Links that exist (connected or not); the status is 'offline' when none is connected. */
  private readonly links = new Set<LinkLike>();

  readonly presence: PresenceHub;
  /** Which principal owns which replicaId here (servers). */
  readonly principals: Principals;
  /** The epoch records of clients held in memory only (servers: epoch-holds.ts). */
  readonly epochHolds: EpochHolds;
  /** Keys a peer told it could not send us (LEFT, lacks.ts): the status is not 'synced' while any stays. */
  readonly lacks: Lacks;

  constructor(
    readonly core: ReplicaCore,
    hooks: {
      /** The spaces to sync: opened here or in another instance sharing the storage, or holding pending writes. */
      opened: () => Iterable<string>;
      readOnly: (space: string, on: boolean) => void;
      /** Local writes no peer acknowledged yet (pending.ts): while any, the status is not 'synced'. */
      pending?: () => number;
      presenceTtl?: number;
      indexIdleMs?: number;
      maxIndexes?: number;
    },
  ) {
    this.presence = new PresenceHub(this, hooks.presenceTtl);
    this.indexIdleMs = hooks.indexIdleMs ?? DEFAULT_INDEX_IDLE_MS;
    this.maxIndexes = Math.max(1, hooks.maxIndexes ?? DEFAULT_MAX_INDEXES);
    this.principals = new Principals(core);
    this.epochHolds = new EpochHolds(core);
    const { storage } = core;
    this.lacks = new Lacks(() => core.epochs, () => this.refreshStatus(), (e) => core.events.emit('error', e), {
      read: async () => storage.getMeta(LACKS_META),
      update: (edit) => storage.transact(async (tx) => tx.setMeta(LACKS_META, edit(await tx.getMeta(LACKS_META)))),
      get: async (space, key) => storage.get(space, key),
      shared: typeof storage.onExternalChange === 'function' || typeof storage.shared === 'function', // tabs (lacks.ts `fresh`)
    }, (peer) => this.linksTo(peer));
    this.opened = hooks.opened;
    this.readOnly = hooks.readOnly;
    this.pending = hooks.pending ?? (() => 0);
    core.events.on('change', (change) => {
      const built = this.built.get(change.space);
      const known = this.lastSeqs.get(change.space);
      // The live fast path (outgoing.ts) may rely on the space's previous entry only when every seq between it and
      // this change was announced here (seqs are the replica's, one sequence for every space): it is the very next
      // seq, or both lie within the current run.
      const seq = change.rec.seq;
      const spacePrev = built ? built.lastSeq : known;
      const run = this.announce(seq);
      const prevLast = spacePrev !== undefined && (seq === spacePrev + 1 || (run !== undefined && spacePrev >= run.from - 1)) ? spacePrev : undefined;
      if (built) this.apply(built, change);
      else {
        const index = this.indexes.get(change.space);
        if (index) void index.then((ix) => this.apply(ix, change), noop); // a failed build is dropped (index())
      }
      if ((built || known !== undefined) && seq > (known ?? 0)) this.lastSeqs.set(change.space, seq);
      if (this.sessions.size > 0) for (const s of this.sessions) s.changed(change, prevLast);
      this.lacks.stored(change);
    });
    // A seq this instance took with no record (identity.ts meetEpochPeer) is no gap: nothing of it can sit in the log.
    core.events.on('skipped', ({ seq }) => void this.announce(seq));
    // Sessions speak for the identity they said hello with: from the start of a re-identification (a log page read
    // before it may hold dots it re-issues), every one stops, and starts over under the new identity.
    const stop = () => {
      for (const s of [...this.sessions]) s.close(1001, 'replica re-identified');
    };
    core.events.on('reidentifying', (e) => {
      this.reidentifying = !e.over;
      stop();
    });
    core.events.on('reidentified', stop);
  }

  /** Notes `seq` announced here; the run it extended (undefined when it starts a new one or lies below the run). */
  private announce(seq: number): { from: number; to: number } | undefined {
    const run = this.run;
    if (run !== undefined && seq === run.to + 1) {
      run.to = seq;
      return run;
    }
    if (run === undefined || seq > run.to) this.run = { from: seq, to: seq };
    return undefined;
  }

  private apply(ix: SpaceIndex, change: StoredChange): void {
    ix.tree.set(change.key, change.rec.h);
    if (ix.unsettled?.delete(change.key) && ix.unsettled.size === 0) ix.unsettled = undefined;
    if (change.rec.seq > ix.lastSeq) ix.lastSeq = change.rec.seq;
  }

  /** The space's tree and last log seq (built from the storage index on first use, or after an eviction). */
  index(space: string): Promise<SpaceIndex> {
    const now = this.core.now();
    let ix = this.indexes.get(space);
    if (ix) this.indexes.delete(space); // re-inserted below: most recently used last
    else {
      // A build that fails (the storage closed under it) is not kept: its callers hear the error, the next use builds again.
      const building = (ix = this.build(space));
      building.catch(() => this.indexes.get(space) === building && this.indexes.delete(space));
    }
    this.indexes.set(space, ix);
    this.usedAt.set(space, now);
    this.evict(now, space);
    return ix;
  }

  /**
   * What a hello's sync item says of a space: its last durable seq and how many keys it holds. From the index when
   * there is one; otherwise counted from the storage's index without building the Merkle tree, so a hello does not
   * wait for it (a session that streams from its cursor may never need the tree).
   */
  async summary(space: string): Promise<{ lastSeq: number; keys: number }> {
    const ix = this.built.get(space) ?? (await this.indexes.get(space));
    if (ix) return { lastSeq: ix.lastSeq, keys: ix.tree.keyCount };
    const { keys, lastSeq: stored } = await summaryOf(this.core.storage, space, this.core.durableSeq);
    const lastSeq = Math.max(stored, this.lastSeqs.get(space) ?? 0);
    this.lastSeqs.set(space, lastSeq);
    return { lastSeq, keys };
  }

  private async build(space: string): Promise<SpaceIndex> {
    const tree = new MerkleTree();
    let lastSeq = 0;
    // Only durable state: a record applied but not yet durable joins the tree with its change event.
    const durable = this.core.durableSeq;
    let unsettled: Set<string> | undefined;
    for (const e of await this.core.storage.index(space)) {
      if (e.seq > durable) {
        (unsettled ??= new Set()).add(e.key);
        continue;
      }
      tree.set(e.key, e.h);
      if (e.seq > lastSeq) lastSeq = e.seq;
    }
    // Changes stored while the storage index was read are in lastSeqs (their tree updates wait on this build).
    lastSeq = Math.max(lastSeq, this.lastSeqs.get(space) ?? 0);
    this.lastSeqs.set(space, lastSeq);
    const ix: SpaceIndex = unsettled ? { tree, lastSeq, unsettled } : { tree, lastSeq };
    if (this.indexes.has(space)) this.built.set(space, ix);
    return ix;
  }

  /**
   * Drops the indexes of spaces idle for `indexIdleMs` (at most once per tenth of it), and the least recently
   * used beyond `maxIndexes`; `keep` is the space being used now. Only built indexes go (a build in flight
   * is about to be used).
   */
  private evict(now: number, keep?: string): void {
    const sweep = now - this.lastSweep >= this.indexIdleMs / 10;
    if (!sweep && this.indexes.size <= this.maxIndexes) return;
    if (sweep) this.lastSweep = now;
    let over = this.indexes.size - this.maxIndexes;
    for (const space of [...this.indexes.keys()]) {
      if (space === keep) continue;
      const idle = now - (this.usedAt.get(space) ?? 0) >= this.indexIdleMs;
      if (!(over > 0 || (sweep && idle))) break; // recency order: the rest were used later
      const ix = this.built.get(space);
      if (!ix) continue;
      this.indexes.delete(space);
      this.built.delete(space);
      this.usedAt.delete(space);
      over--;
    }
  }

  /** Spaces holding an index now, and the tree nodes they hold (memory accounting, relay metrics). */
  get indexStats(): { spaces: number; nodes: number; keys: number } {
    let nodes = 0;
    let keys = 0;
    for (const ix of this.built.values()) {
      nodes += ix.tree.nodesHeld;
      keys += ix.tree.keyCount;
    }
    return { spaces: this.indexes.size, nodes, keys };
  }

  /** The seq of the space's last durable log entry, as far as the index has seen (0 before it is built). */
  lastSeqNow(space: string): number {
    return this.built.get(space)?.lastSeq ?? this.lastSeqs.get(space) ?? 0;
  }

  openedSpaces(): string[] {
    return [...this.opened()];
  }

  /** A relay told us our rights in a space. */
  markReadOnly(space: string, on: boolean): void {
    this.readOnly(space, on);
  }

  /** Rebuilds a space's tree from storage (periodic check against silent damage); true when it differed. */
  async rebuild(space: string): Promise<boolean> {
    const old = await this.indexes.get(space);
    const fresh = await this.build(space);
    if (this.indexes.has(space)) this.indexes.set(space, Promise.resolve(fresh));
    return !old || !old.tree.sameAs(fresh.tree);
  }

  addSession(s: SessionLike): void {
    this.sessions.add(s);
    // A session opened while the replica re-identifies would speak for the old id: it ends at once.
    if (this.reidentifying) queueMicrotask(() => s.close(1001, 'replica re-identifying'));
  }

  removeSession(s: SessionLike): void {
    this.sessions.delete(s);
    this.epochHolds.release(s);
    this.refreshStatus();
    const peer = s.peerId;
    if (peer !== undefined && ![...this.sessions].some((o) => o.peerId === peer)) this.core.acks.forgetPeer(peer);
    this.evict(this.core.now());
  }

  spaceOpened(space: string): void {
    for (const s of this.sessions) s.spaceOpened(space);
  }

  /**
   * A transaction that applied `key`'s record in `space` failed and was rolled back (ReplicaCore.onAbandoned). While it
   * waited for its fsync it may have held the log read back (StorageAdapter readLog stops before a key's durable record it
   * replaced); no change event follows a failure, so the streams are told to read on. And a tree built meanwhile left the
   * key out (`unsettled`) for a record that never comes: it goes in at its durable record, else every later run over the
   * tree would leave it out — exchanging nothing of it, confirming nothing (repair.ts `skipped`) — until an eviction.
   */
  logMoved(space: string, key?: string): void {
    for (const s of this.sessions) s.logMoved(space);
    if (key !== undefined) void this.settleAbandoned(space, key).catch(noop); // a failed read leaves the key out, as before
  }

  private async settleAbandoned(space: string, key: string): Promise<void> {
    const ix = this.built.get(space) ?? (await this.indexes.get(space));
    if (!ix?.unsettled?.has(key)) return;
    const rec = await this.core.storage.get(space, key);
    // A change event came meanwhile (it put the key in), or a newer record still waits for its fsync (its event will).
    if (!ix.unsettled?.has(key) || (rec !== undefined && rec.seq > this.core.durableSeq)) return;
    if (rec) ix.tree.set(key, rec.h);
    ix.unsettled.delete(key);
    if (ix.unsettled.size === 0) ix.unsettled = undefined;
  }

  addLink(link: LinkLike): void {
    this.links.add(link);
    this.refreshStatus();
  }

  /**
   * `link` closed for good (Link.close, which ran to `peer`): the peer's lacks stop counting (lacks.ts `forget`) only
   * where no other link runs to it — a second link to the same peer asks and counts them still.
   */
  removeLink(link: LinkLike, peer?: string): void {
    this.links.delete(link);
    if (peer !== undefined && !this.linksTo(peer)) this.lacks.forget(peer);
    this.refreshStatus();
  }

  /** Whether a link runs to `peer` (its replicaId). */
  linksTo(peer: string): boolean {
    for (const p of linkedPeers([...this.links])) if (p === peer) return true;
    return false;
  }

  get status(): ReplicaStatus {
    return this.current;
  }

  /** The lacks the status counts: of the peers a link runs to (lacks.ts). */
  countedLacks(): ReturnType<Lacks['list']> {
    const peers = new Set(linkedPeers([...this.links]));
    return this.lacks.list().filter(([peer]) => peers.has(peer));
  }

  /**
   * 'synced' when every link is synced, no local write waits for an acknowledgement (a write made in another tab, or
   * in a space no link syncs, keeps the status at 'syncing' until some peer holds it), and no key is lacked from a peer
   * a link runs to (lacks.ts).
   */
  refreshStatus(): void {
    // No link (a replica that never synced): 'offline' without copying the set — the pending count calls this per put.
    if (this.links.size === 0 && this.current === 'offline') return;
    const all = [...this.links];
    let next: ReplicaStatus;
    if (all.length === 0 || all.every((l) => l.status === 'offline')) next = 'offline';
    else if (all.every((l) => l.status === 'synced')) next = this.pending() > 0 || this.lacks.from(linkedPeers(all)) ? 'syncing' : 'synced';
    else if (all.some((l) => l.status === 'syncing' || l.status === 'synced')) next = 'syncing';
    else next = 'connecting';
    if (next !== this.current) {
      this.current = next;
      this.core.events.emit('status', next);
    }
  }
}

function noop(): void {}

/** What the status reads of a link (link.ts). */
interface LinkLike {
  readonly status: ReplicaStatus;
  /** The peer it runs to, once known; undefined for a dormant link (another instance runs the links). */
  readonly runsTo?: string | undefined;
}

function* linkedPeers(links: readonly LinkLike[]): Iterable<string> {
  for (const l of links) if (l.runsTo !== undefined) yield l.runsTo;
}
