/**
 * The sync hub of one replica: what every link shares. Per space, the Merkle tree (built lazily from the
 * storage index, then updated from every stored change) and the seq of the space's last durable log entry;
 * the set of live sessions; and the replica's aggregate status.
 */
import type { ReplicaCore, StoredChange } from '../core.js';
import type { ReplicaStatus } from '../types.js';
import { MerkleTree } from './merkle.js';
import { PresenceHub } from './presence-hub.js';
import { Principals } from './principals.js';

export interface SessionLike {
  readonly status: ReplicaStatus;
  /**
   * A change was stored (any origin): push it if the space is live on this session. `prevLast` is the
   * space's last log seq before this change, when the index knows it.
   */
  changed(change: StoredChange, prevLast: number | undefined): void;
  /** A space was opened locally after the session started. */
  spaceOpened(space: string): void;
  close(code: number, reason: string): void;
}

interface SpaceIndex {
  tree: MerkleTree;
  lastSeq: number;
}

export class SyncHub {
  private readonly indexes = new Map<string, Promise<SpaceIndex>>();
  private readonly built = new Map<string, SpaceIndex>();
  private readonly opened: () => Iterable<string>;
  private readonly readOnly: (space: string, on: boolean) => void;
  private readonly pending: () => number;
  private readonly sessions = new Set<SessionLike>();
  private current: ReplicaStatus = 'offline';
  /** Links that exist (connected or not); the status is 'offline' when none is connected. */
  private readonly links = new Set<{ readonly status: ReplicaStatus }>();

  readonly presence: PresenceHub;
  /** Which principal owns which replicaId here (servers). */
  readonly principals: Principals;

  constructor(
    readonly core: ReplicaCore,
    hooks: {
      /** The spaces to sync: opened here or in another instance sharing the storage, or holding pending writes. */
      opened: () => Iterable<string>;
      readOnly: (space: string, on: boolean) => void;
      /** Local writes no peer acknowledged yet (pending.ts): while any, the status is not 'synced'. */
      pending?: () => number;
      presenceTtl?: number;
    },
  ) {
    this.presence = new PresenceHub(this, hooks.presenceTtl);
    this.principals = new Principals(core);
    this.opened = hooks.opened;
    this.readOnly = hooks.readOnly;
    this.pending = hooks.pending ?? (() => 0);
    core.events.on('change', (change) => {
      const built = this.built.get(change.space);
      const prevLast = built?.lastSeq;
      if (built) this.apply(built, change);
      else {
        const index = this.indexes.get(change.space);
        if (index) void index.then((ix) => this.apply(ix, change));
      }
      for (const s of this.sessions) s.changed(change, prevLast);
    });
    // Sessions speak for the identity they said hello with: after a re-identification, every one starts over.
    core.events.on('reidentified', () => {
      for (const s of [...this.sessions]) s.close(1001, 'replica re-identified');
    });
  }

  private apply(ix: SpaceIndex, change: StoredChange): void {
    ix.tree.set(change.key, change.rec.h);
    if (change.rec.seq > ix.lastSeq) ix.lastSeq = change.rec.seq;
  }

  /** The space's tree and last log seq (built from the storage index on first use). */
  index(space: string): Promise<SpaceIndex> {
    let ix = this.indexes.get(space);
    if (!ix) {
      ix = this.build(space);
      this.indexes.set(space, ix);
    }
    return ix;
  }

  private async build(space: string): Promise<SpaceIndex> {
    const tree = new MerkleTree();
    let lastSeq = 0;
    // Only durable state: a record applied but not yet durable joins the tree with its change event.
    const durable = this.core.durableSeq;
    for (const e of await this.core.storage.index(space)) {
      if (e.seq > durable) continue;
      tree.set(e.key, e.h);
      if (e.seq > lastSeq) lastSeq = e.seq;
    }
    const ix = { tree, lastSeq };
    this.built.set(space, ix);
    return ix;
  }

  /** The seq of the space's last durable log entry, as far as the index has seen (0 before it is built). */
  lastSeqNow(space: string): number {
    return this.built.get(space)?.lastSeq ?? 0;
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
    const fresh = await this.build(space);
    const old = await this.indexes.get(space);
    this.indexes.set(space, Promise.resolve(fresh));
    return !old || !old.tree.sameAs(fresh.tree);
  }

  addSession(s: SessionLike): void {
    this.sessions.add(s);
  }

  removeSession(s: SessionLike): void {
    this.sessions.delete(s);
    this.refreshStatus();
  }

  spaceOpened(space: string): void {
    for (const s of this.sessions) s.spaceOpened(space);
  }

  addLink(link: { readonly status: ReplicaStatus }): void {
    this.links.add(link);
    this.refreshStatus();
  }

  removeLink(link: { readonly status: ReplicaStatus }): void {
    this.links.delete(link);
    this.refreshStatus();
  }

  get status(): ReplicaStatus {
    return this.current;
  }

  /**
   * 'synced' when every link is synced and no local write waits for an acknowledgement (a write made in
   * another tab, or in a space no link syncs, keeps the status at 'syncing' until some peer holds it).
   */
  refreshStatus(): void {
    const all = [...this.links];
    let next: ReplicaStatus;
    if (all.length === 0 || all.every((l) => l.status === 'offline')) next = 'offline';
    else if (all.every((l) => l.status === 'synced')) next = this.pending() > 0 ? 'syncing' : 'synced';
    else if (all.some((l) => l.status === 'syncing' || l.status === 'synced')) next = 'syncing';
    else next = 'connecting';
    if (next !== this.current) {
      this.current = next;
      this.core.events.emit('status', next);
    }
  }
}
