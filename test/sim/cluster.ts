/**
 * Replicas on the simulated network. Each node is a simulated disk (test/support/sim-disk.ts: file-storage
 * semantics, a virtual fsync delay, crash and copy) with one or more replica instances open on it — several
 * are browser tabs sharing the storage, of which the leader holds the network links — linked to its
 * neighbours by `net.edge` transports (a relay serves its edges instead: `replica.accept`), on the cluster's
 * virtual clock and seeded randomness. Every instance's storage is wrapped by the ledger's spy.
 *
 *   stop / start / restart   the node's instances close (connections drop) and open again on the same disk
 *   crash                    power loss: what the disk had not made durable is gone, then the node is down
 *   replaceStorage           the node comes back on another disk: empty (data loss), or a copy (a restore)
 *   closeTab / openTab       one tab goes away and comes back; leadership moves to the next tab
 *   collect                  a collecting node runs tombstone GC now (virtual time, not its real-time timer)
 *   unlink / relink          the leader closes its link of an edge (Link.close) / connects that edge again
 *   openSpare / closeSpare   the leaders of a spare edge's ends link it (a second connection, or another relay) / close it
 *
 * `drive(p)` runs virtual time until `p` settles (a write waits for its fsync); `settle()` runs it until the
 * cluster is quiescent: every node up, nothing in flight, every link 'synced'.
 */
import { ConcordError, openReplica, type Replica, type ReplicaOptions } from '../../lib/index.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import type { Link, LinkOptions } from '../../lib/sync/link.js';
import type { MergeTable } from '../../lib/types.js';
import { SimDisk } from '../support/sim-disk.js';
import { prng, Rng, settle, VirtualClock } from './clock.js';
import type { EpochRegistry } from '../../lib/epoch-points.js';
import { Ledger, versionDot, type Dot } from './ledger.js';
import { SimNetwork, type NetworkOptions, type SimTransport } from './network.js';

export interface ClusterOptions {
  seed: number;
  nodes: readonly string[];
  edges: ReadonlyArray<readonly [string, string]>;
  /**
   * Spare edges (dialer first, by index): each a connection of its own between its ends — a second one to a peer the
   * node is linked to already, or to another relay — linked only when asked (`openSpare`), never at a start.
   */
  spareEdges?: ReadonlyArray<readonly [string, string]>;
  merge?: MergeTable;
  link?: Pick<LinkOptions, 'antiEntropyInterval' | 'backoff'>;
  net?: Pick<NetworkOptions, 'latency' | 'edgeLatency' | 'connectTimeout' | 'maxFrameBytes' | 'edgeFrameBytes' | 'tap' | 'delivered'>;
  /** Wall-clock skew per node, up to ± this many ms (default 0), or exactly this per node. */
  skew?: number | Readonly<Record<string, number>>;
  /** Nodes that serve their edges as relays (`replica.accept`) instead of dialing; of two relays, the first dials. */
  relays?: readonly string[];
  /** One relay (the same as `relays: [relay]`). */
  relay?: string;
  /**
   * Relays reopen under the id their storage holds, as a server embedded with openReplica and accept() does. By
   * default a relay opens under a fresh id each start, as createRelay does (adapters/relay/relay.ts).
   */
  keptRelayIds?: boolean;
  /** A node's disk (default: a SimDisk on the cluster's clock, durable at once). */
  disk?: (node: string, clock: VirtualClock) => SimDisk;
  /** A node's storage as a plain adapter instead of a disk (no crash or copy; one instance). */
  storage?: (node: string) => StorageAdapter;
  /** More options for a node's replica (tombstone collection on the real-time timer, where `collect` is not used). */
  replica?: (node: string) => Pick<ReplicaOptions, 'collectTombstones' | 'gcGrace'>;
  /** Replica instances (tabs) sharing a node's disk (default 1). */
  tabs?: Readonly<Record<string, number>>;
  /** Nodes that collect tombstones, with their grace in virtual ms. */
  collect?: Readonly<Record<string, number>>;
  /** Per relay client: whether its replicaId must sort above or below its relay's (re-rolled until it does). */
  sides?: Readonly<Record<string, 'above' | 'below'>>;
  /** Every replica answers anti-entropy openings with a sketch wherever one fits a frame (ReplicaCore.sketchAlways). */
  sketches?: boolean;
  /** Relay clients whose token grants read access only (default: every client writes). */
  readers?: readonly string[];
  /** Nodes that play a peer of an earlier release: the protocol versions their hellos announce (ReplicaCore.speaks). */
  speaks?: Readonly<Record<string, readonly number[]>>;
  /** The virtual clock to run on (default: a new one). */
  clock?: VirtualClock;
  /** A replica instance opened on `node` (tab `tab`), on `storage` (the disk's instance, under the ledger's spy). */
  opened?: (node: string, tab: number, replica: Replica, storage: StorageAdapter) => void;
}

/** What a node's data lives on: a SimDisk, or a plain storage adapter (PlainVolume). */
export interface Volume {
  instance(): StorageAdapter;
  /**
   * Whether the durable state has seen dot (r, n) of `key`, in epoch `ep` where the dot names one, judged with `reg`
   * (true where durability is not modelled).
   */
  durablySeen(space: string, key: string, r: string, n: number, ep?: string, reg?: EpochRegistry): boolean;
  records(space: string): Array<[string, KeyRecord]>;
  durableRecords(space: string): Array<[string, KeyRecord]>;
  readonly pendingBatches: number;
  /** Storage completions waiting on a timer (SimDisk jitter): the node is not quiet while one is. */
  readonly waits: number;
  crash(): void;
  copy(): Volume;
}

/** A plain storage adapter as a node's volume: the same adapter object at every start. */
export class PlainVolume implements Volume {
  readonly pendingBatches = 0;
  readonly waits = 0;
  constructor(readonly storage: StorageAdapter) {}
  instance(): StorageAdapter {
    return this.storage;
  }
  durablySeen(): boolean {
    return true;
  }
  records(): Array<[string, KeyRecord]> {
    throw new Error('a plain storage adapter has no synchronous view: read it through node.storage');
  }
  durableRecords(): Array<[string, KeyRecord]> {
    return this.records();
  }
  crash(): void {
    throw new Error('a plain storage adapter cannot crash; use a SimDisk');
  }
  copy(): Volume {
    throw new Error('a plain storage adapter cannot be copied; use a SimDisk or journaledStorage');
  }
}

export interface AeSeen {
  at: number;
  peer: string;
  onConnect: boolean;
}

export class SimNode {
  /** The open instances, by tab; the leader holds the links. */
  readonly tabs: Array<Replica | undefined>;
  leader: number | undefined;
  links: Link[] = [];
  /** Edges (indexes into `links`) whose link the application closed (`Cluster.unlink`), not yet connected again. */
  readonly unlinked = new Set<number>();
  /** Links over spare edges (by the spare's index), held by the leader. */
  readonly spareLinks = new Map<number, Link>();
  /** `error` events the instances emitted. */
  readonly errors: unknown[] = [];
  /** Every replicaId this node wrote as (a new one after fresh storage or a re-identification, noted when seen). */
  readonly ids: string[] = [];
  /** Anti-entropy runs the leader reported. */
  readonly ae: AeSeen[] = [];
  constructor(
    readonly name: string,
    public disk: Volume,
    public random: () => number,
    readonly skew: number,
    tabCount: number,
  ) {
    this.tabs = new Array<Replica | undefined>(tabCount).fill(undefined);
  }

  get up(): boolean {
    return this.tabs.some((t) => t !== undefined);
  }

  /** The leader instance (or any open one), undefined when down. */
  get replica(): Replica | undefined {
    return (this.leader !== undefined ? this.tabs[this.leader] : undefined) ?? this.tabs.find((t) => t !== undefined);
  }

  /** The live replica; throws when the node is down. */
  get r(): Replica {
    const r = this.replica;
    if (!r) throw new Error(`node ${this.name} is down`);
    return r;
  }

  /** Tab `i` if open, else another open one. */
  tab(i: number): Replica | undefined {
    return this.tabs[i % this.tabs.length] ?? this.replica;
  }

  /** The node's storage as its leader sees it (raw, not the ledger's spy). */
  get storage(): StorageAdapter {
    return this.r.core.storage;
  }
}

/** The real-time GC interval a collecting replica starts: the simulation collects on virtual time instead. */
function stopRealTimeCollection(r: Replica): void {
  const holder = r as unknown as { gcTimer?: ReturnType<typeof setInterval> };
  if (!('gcTimer' in holder) || holder.gcTimer === undefined) {
    throw new Error('Replica.gcTimer not found: the simulator must stop the real-time GC interval of a collecting replica (see test/sim/cluster.ts)');
  }
  clearInterval(holder.gcTimer);
  holder.gcTimer = undefined;
}

export class Cluster {
  readonly clock: VirtualClock;
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly ledger = new Ledger();
  readonly nodes = new Map<string, SimNode>();
  private readonly transports = new Map<string, SimTransport[]>();
  /** Per node: the peer of each of its transports (edges' in order), and its transport on each spare edge. */
  private readonly peers = new Map<string, string[]>();
  private readonly spares = new Map<string, Map<number, SimTransport>>();
  /** Links the application closed (`unlink`) and connected again (`relink`), so far. */
  readonly relinks = { closed: 0, linked: 0 };
  private readonly relays: ReadonlySet<string>;
  private readonly nodeRng: Rng;

  private constructor(readonly options: ClusterOptions) {
    this.clock = options.clock ?? new VirtualClock();
    this.rng = new Rng(prng(options.seed));
    this.net = new SimNetwork({ clock: this.clock, rng: this.rng.fork(), ...options.net });
    this.nodeRng = this.rng.fork();
    this.relays = new Set(options.relays ?? (options.relay ? [options.relay] : []));
    for (const name of options.nodes) {
      const skew = typeof options.skew === 'number' ? this.nodeRng.int(-options.skew, options.skew) : (options.skew?.[name] ?? 0);
      const plain = options.storage?.(name);
      const disk = plain ? new PlainVolume(plain) : (options.disk?.(name, this.clock) ?? new SimDisk({ timers: this.clock }));
      this.nodes.set(name, new SimNode(name, disk, this.nodeRng.fork().next, skew, options.tabs?.[name] ?? 1));
      this.transports.set(name, []);
      this.peers.set(name, []);
      this.spares.set(name, new Map());
    }
    for (const [a, b] of options.edges) {
      const ra = this.relays.has(a);
      const rb = this.relays.has(b);
      if (ra || rb) {
        // The client dials, the relay serves; between two relays the first named dials.
        const [client, server] = ra && rb ? (a < b ? [a, b] : [b, a]) : ra ? [b, a] : [a, b];
        this.transports.get(client)!.push(this.net.serverEdge(client, server));
        this.peers.get(client)!.push(server);
        continue;
      }
      const [ta, tb] = this.net.edge(a, b);
      this.transports.get(a)!.push(ta);
      this.transports.get(b)!.push(tb);
      this.peers.get(a)!.push(b);
      this.peers.get(b)!.push(a);
    }
    (options.spareEdges ?? []).forEach(([a, b], i) => {
      if (this.relays.has(b)) this.spares.get(a)!.set(i, this.net.serverEdge(a, b, `#${i}`));
      else {
        const [ta, tb] = this.net.edge(a, b, `#${i}`);
        this.spares.get(a)!.set(i, ta);
        this.spares.get(b)!.set(i, tb);
      }
    });
  }

  static async create(options: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(options);
    // Relays first, so a client's replicaId can be re-rolled to the side of its relay's the schedule asks for.
    const order = [...options.nodes].sort((a, b) => Number(c.relays.has(b)) - Number(c.relays.has(a)));
    for (const name of order) {
      if (options.sides?.[name]) await c.drive(c.rollSide(name, options.sides[name]!));
      await c.drive(c.start(name));
    }
    return c;
  }

  /** Re-rolls the node's randomness (deterministically) until its replicaId sorts on `side` of its relay's. */
  private async rollSide(name: string, side: 'above' | 'below'): Promise<void> {
    const relay = this.options.edges.map(([a, b]) => (a === name ? b : b === name ? a : undefined)).find((x) => x !== undefined && this.relays.has(x));
    const relayId = relay ? this.node(relay).replica?.replicaId : undefined;
    if (!relayId) return;
    const n = this.node(name);
    for (let attempt = 0; attempt < 64; attempt++) {
      const seed = this.nodeRng.int(0, 2 ** 32 - 1);
      const probe = await openReplica({ storage: new SimDisk({ timers: this.clock }).instance(), random: prng(seed) });
      const id = probe.replicaId;
      await probe.close();
      if ((id > relayId) === (side === 'above')) {
        n.random = prng(seed); // the same stream again: the node's own disk mints the same id
        return;
      }
    }
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  get names(): string[] {
    return [...this.nodes.keys()];
  }

  isRelay(name: string): boolean {
    return this.relays.has(name);
  }

  /** The end of edge a–b that accepts connections (a relay), or undefined for a peer-to-peer edge. */
  server(a: string, b: string): string | undefined {
    const ra = this.relays.has(a);
    const rb = this.relays.has(b);
    if (ra && rb) return a < b ? b : a;
    return ra ? a : rb ? b : undefined;
  }

  /** A node's transports over spare edges (the relink feature's), for stats. */
  sparesOf(name: string): readonly SimTransport[] {
    return [...(this.spares.get(name)?.values() ?? [])];
  }

  /** Transports of a node (one per edge), for stats. */
  transportsOf(name: string): readonly SimTransport[] {
    return this.transports.get(name) ?? [];
  }

  /** Runs virtual time until `p` settles (storage waits for virtual fsyncs); returns its result. */
  async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    watched.catch(() => {});
    await settle();
    while (!done) {
      if (!(await this.clock.step())) await settle();
    }
    return watched;
  }

  /** Opens the node's instances (tabs) on its disk; the leader connects every edge. */
  async start(name: string, spaces: readonly string[] = ['s']): Promise<void> {
    const n = this.node(name);
    for (let i = 0; i < n.tabs.length; i++) await this.openTab(name, i, spaces);
  }

  /** Opens one tab of the node (no-op when open). */
  async openTab(name: string, tab: number, spaces: readonly string[] = ['s']): Promise<void> {
    const n = this.node(name);
    if (n.tabs[tab]) return;
    const instance = n.disk.instance();
    let replica: Replica | undefined;
    // Ours: any id no other node has (its current one, or one it just minted).
    const isOwn = (r: string) => r === replica?.replicaId || n.ids.includes(r) || ![...this.nodes.values()].some((o) => o !== n && (o.ids.includes(r) || o.replica?.replicaId === r));
    // An identity stored durably is the node's (a re-identification whose later pass failed never announces it).
    const storage = this.ledger.spy(name, instance, isOwn, (id) => void (n.ids.includes(id) || n.ids.push(id)));
    const grace = this.options.collect?.[name];
    const opened = await openReplica({
      storage,
      now: () => this.clock.now() + n.skew,
      random: n.random,
      ...(this.options.merge ? { merge: this.options.merge } : {}),
      ...this.options.replica?.(name),
      ...(grace !== undefined ? { collectTombstones: true, gcGrace: grace } : {}),
      // Said at the open, which decides tagging (identity.ts openIdentity): a node of an earlier release (or pinned
      // below 11) opens as one, never tagging and minting no root label; a node with no entry speaks the default.
      ...(this.options.speaks?.[name] ? { speaks: this.options.speaks[name] } : {}),
      ...(this.openRestored.delete(name) || (this.relays.has(name) && !this.options.keptRelayIds) ? { restored: true } : {}),
    });
    replica = opened;
    if (this.options.sketches) opened.core.sketchAlways = true;
    opened.core.timers = this.clock; // its storage retries wait in virtual time, as everything else of the node does
    if (this.options.speaks?.[name]) opened.core.speaks = this.options.speaks[name];
    if (grace !== undefined) stopRealTimeCollection(opened);
    opened.on('error', (e) => {
      n.errors.push(e);
      // A re-identification is announced as an error event, once its transaction held: note the new id (and its epoch
      // records). Only then — on any other error (a full disk) the identity in memory may be one whose transaction is
      // failing, whose epoch record no disk keeps (disk-full 1743700184): learnt, it would hide that from the checker.
      if (!(e instanceof ConcordError && (e.code === 'RESTORED' || e.code === 'UNAUTHORIZED'))) return;
      if (!n.ids.includes(opened.replicaId)) n.ids.push(opened.replicaId);
      this.ledger.learnEpochs(opened.core.epochs, n.ids);
    });
    opened.on('antiEntropy', (e) => {
      if (n.tabs.indexOf(opened) === n.leader) n.ae.push({ at: this.clock.now(), peer: e.peer, onConnect: e.onConnect });
    });
    if (!n.ids.includes(opened.replicaId)) n.ids.push(opened.replicaId);
    // The open's epoch and its ancestry (a restored copy's opens under the copy's): what the ledger judges contexts by.
    this.ledger.learnEpochs(opened.core.epochs, n.ids);
    for (const s of spaces) opened.space(s);
    n.tabs[tab] = opened;
    this.options.opened?.(name, tab, opened, instance);
    const leadership = instance.leadership?.();
    if (!leadership || n.tabs.length === 1) {
      this.lead(n, tab);
      return;
    }
    leadership.onChange((on) => {
      if (on && n.tabs[tab] === opened) this.lead(n, tab);
    });
    if (leadership.isLeader) this.lead(n, tab);
  }

  /** Tab `tab` takes the network role: it serves (relay) or dials every edge. */
  private lead(n: SimNode, tab: number): void {
    const replica = n.tabs[tab];
    if (!replica || n.leader === tab) return;
    for (const l of n.links) l.close();
    this.dropSpares(n);
    n.leader = tab;
    if (this.relays.has(n.name)) {
      // Any token is accepted: this simulates the network, not authentication. A relay dialing us is a relay of the
      // cluster, as a cluster token makes it (adapters/relay/relay.ts authenticate): trusted, and forwarding presence.
      // The relay's side of each connection runs periodic anti-entropy too, on the virtual clock.
      const every = this.options.link?.antiEntropyInterval;
      this.net.serve(n.name, (conn, from) =>
        replica.accept(conn, {
          authenticate: () => (this.relays.has(from) ? { rights: () => 'write', relay: true, trusted: true } : { rights: () => (this.options.readers?.includes(from) ? 'read' : 'write') }),
          timers: this.clock,
          ...(every !== undefined ? { antiEntropyInterval: every } : {}),
        }),
      );
    }
    n.links = this.transportsOf(n.name).map((t) => this.connect(n, replica, t));
    n.unlinked.clear();
    for (const spare of this.keptSpares) this.openSpareAt(n, spare);
  }

  private connect(n: SimNode, replica: Replica, t: SimTransport): Link {
    return replica.connect(t, { timers: this.clock, random: n.random, ...this.options.link });
  }

  /** The leader's spare links end with its role (they were its instance's). */
  private dropSpares(n: SimNode): void {
    for (const l of n.spareLinks.values()) l.close();
    n.spareLinks.clear();
  }

  /** The node's leader closes its link(s) to `peer` (as an application does: Link.close); false when down or closed already. */
  unlink(name: string, peer: string): boolean {
    const n = this.node(name);
    if (n.leader === undefined) return false;
    let closed = false;
    this.peers.get(name)!.forEach((p, i) => {
      if (p !== peer || n.unlinked.has(i) || !n.links[i]) return;
      n.links[i]!.close();
      n.unlinked.add(i);
      this.relinks.closed++;
      closed = true;
    });
    return closed;
  }

  /** The node's leader connects again every edge to `peer` (every edge, without one) whose link it closed. */
  relink(name: string, peer?: string): void {
    const n = this.node(name);
    const replica = n.leader !== undefined ? n.tabs[n.leader] : undefined;
    if (!replica) return;
    const transports = this.transportsOf(name);
    for (const i of [...n.unlinked]) {
      if (peer !== undefined && this.peers.get(name)![i] !== peer) continue;
      n.links[i] = this.connect(n, replica, transports[i]!);
      n.unlinked.delete(i);
      this.relinks.linked++;
    }
  }

  /** Spare edges an end links again whenever it takes the network role (a restart), until `closeSpare`. */
  private readonly keptSpares = new Set<number>();

  /**
   * The leaders of spare edge `spare`'s ends link it (where a relay serves it, its client alone dials); `keep`: as the
   * app's own configuration, linked again by an end that restarts (else a peer's end would dial for good).
   */
  openSpare(spare: number, keep = false): void {
    if (keep) this.keptSpares.add(spare);
    for (const n of this.nodes.values()) this.openSpareAt(n, spare);
  }

  private openSpareAt(n: SimNode, spare: number): void {
    const t = this.spares.get(n.name)!.get(spare);
    const replica = n.leader !== undefined ? n.tabs[n.leader] : undefined;
    if (t && replica && !n.spareLinks.has(spare)) n.spareLinks.set(spare, this.connect(n, replica, t));
  }

  /** Both ends close their links over spare edge `spare`. */
  closeSpare(spare: number): void {
    this.keptSpares.delete(spare);
    for (const n of this.nodes.values()) {
      n.spareLinks.get(spare)?.close();
      n.spareLinks.delete(spare);
    }
  }

  /** Closes one tab; if it led, its connections drop and the next tab takes over. */
  async closeTab(name: string, tab: number): Promise<void> {
    const n = this.node(name);
    const replica = n.tabs[tab];
    if (!replica) return;
    n.tabs[tab] = undefined;
    if (n.leader === tab) {
      n.leader = undefined;
      n.links = [];
      n.unlinked.clear();
      n.spareLinks.clear();
      this.net.serve(name, undefined);
      this.net.crash(name);
    }
    await replica.close();
    // The disk's leadership election hands the role to the next tab (onChange, see openTab).
  }

  /** Kills the node: its connections drop (in-flight frames partly lost) and its instances close. */
  async stop(name: string): Promise<void> {
    const n = this.node(name);
    const open = n.tabs.map((t, i) => [t, i] as const).filter(([t]) => t !== undefined);
    if (open.length === 0) return;
    n.tabs.fill(undefined);
    n.leader = undefined;
    n.links = [];
    n.unlinked.clear();
    n.spareLinks.clear();
    this.net.serve(name, undefined);
    this.net.crash(name);
    for (const [t] of open) await t!.close();
  }

  /** Power loss: the disk drops what is not durable, then the node is down. */
  async crash(name: string): Promise<void> {
    this.node(name).disk.crash();
    await this.stop(name);
  }

  /** Stop, then start again on the same disk. */
  async restart(name: string): Promise<void> {
    await this.stop(name);
    await this.start(name);
  }

  /**
   * The node comes back on another disk: fresh and empty (data loss: a new replicaId and log epoch), or a
   * restored copy (a SimDisk's `copy()`, or a plain adapter such as journaledStorage's `restore()`).
   */
  /** `restored`: the node is opened as its operator opens a restored copy (openReplica's `restored`), once. */
  async replaceStorage(name: string, disk: Volume | StorageAdapter = new SimDisk({ timers: this.clock }), { restored = false } = {}): Promise<void> {
    await this.stop(name);
    this.node(name).disk = 'instance' in disk ? disk : new PlainVolume(disk);
    if (restored) this.openRestored.add(name);
    await this.start(name);
  }

  /** Nodes whose next open is of a restored copy (replaceStorage). */
  private readonly openRestored = new Set<string>();

  /** Runs tombstone collection on a collecting node now; returns how many keys it removed (0 when down). */
  async collect(name: string): Promise<number> {
    const r = this.node(name).replica;
    if (!r || this.options.collect?.[name] === undefined) return 0;
    return r.collectGarbage();
  }

  quiescent(): boolean {
    if (this.net.inFlight > 0) return false;
    for (const n of this.nodes.values()) {
      if (!n.up || n.leader === undefined) return false;
      for (const l of n.links) if (l.status !== 'synced') return false;
      for (const l of n.spareLinks.values()) if (l.status !== 'synced') return false;
      if (n.disk.pendingBatches > 0 || n.disk.waits > 0) return false;
    }
    return true;
  }

  /** Links not 'synced', named "node→peer: status". */
  unsyncedLinks(): string[] {
    const out: string[] = [];
    for (const n of this.nodes.values()) {
      const names = this.transportsOf(n.name);
      n.links.forEach((l, i) => {
        if (l.status !== 'synced') out.push(`${names[i]?.label ?? n.name}: ${l.status}`);
      });
      for (const [i, l] of n.spareLinks) if (l.status !== 'synced') out.push(`${this.spares.get(n.name)!.get(i)!.label} (spare ${i}): ${l.status}`);
    }
    return out;
  }

  /** Runs virtual time until quiescent; throws (with what is still busy) after `maxMs` virtual ms. */
  async settle(maxMs = 600_000): Promise<void> {
    const end = this.clock.now() + maxMs;
    await settle();
    while (!this.quiescent()) {
      if (this.clock.now() > end || !(await this.clock.step())) {
        const busy = [...this.nodes.values()].map((n) => `${n.name}:${n.replica?.status ?? 'down'}`).join(' ');
        throw new Error(`not quiescent after ${maxMs} virtual ms: ${busy}; links not synced: ${this.unsyncedLinks().join(', ') || 'none'}; in flight ${this.net.inFlight}; live edges ${this.net.liveEdges().join(' ')}`);
      }
    }
  }

  /** The dots of every key of a space on a node, read from its disk. */
  async dots(name: string, space = 's'): Promise<Map<string, Set<Dot>>> {
    const out = new Map<string, Set<Dot>>();
    for (const [key, rec] of this.node(name).disk.records(space)) out.set(key, new Set(rec.vs.map(versionDot)));
    return out;
  }

  async close(): Promise<void> {
    for (const name of this.names) await this.drive(this.stop(name));
  }
}

export { settle };
