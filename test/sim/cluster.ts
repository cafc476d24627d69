/**
 * Replicas on the simulated network: each node is a replica on its own memoryStorage (wrapped by the
 * ledger's spy), linked to its neighbours by `net.edge` transports, on the cluster's virtual clock and
 * seeded randomness. A node can be restarted from its storage (crash: connections drop, the replica
 * closes, then opens again on the same storage object) or given fresh storage (data loss: a new replica).
 *
 * `settle()` runs virtual time until the cluster is quiescent: every node up, nothing in flight on the
 * network, and every replica's status 'synced' (a relay's clients speak for it: accepted sessions are
 * not links, so they do not show in the relay's own status).
 */
import { memoryStorage, openReplica, type Replica, type ReplicaOptions } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import type { Link, LinkOptions } from '../../lib/sync/link.js';
import type { MergeTable } from '../../lib/types.js';
import { prng, Rng, settle, VirtualClock } from './clock.js';
import { dotOf, Ledger, type Dot } from './ledger.js';
import { SimNetwork, type NetworkOptions, type SimTransport } from './network.js';

export interface ClusterOptions {
  seed: number;
  nodes: readonly string[];
  edges: ReadonlyArray<readonly [string, string]>;
  merge?: MergeTable;
  link?: Pick<LinkOptions, 'antiEntropyInterval' | 'backoff'>;
  net?: Pick<NetworkOptions, 'latency' | 'connectTimeout' | 'maxFrameBytes' | 'tap'>;
  /** Wall-clock skew per node, up to ± this many ms (default 0). */
  skew?: number;
  /** A node that serves its edges as a relay (`replica.accept`) instead of dialing its peers. */
  relay?: string;
  /** Each node's storage (default: memoryStorage()). */
  storage?: (node: string) => StorageAdapter;
  /** The virtual clock to run on (default: a new one). */
  clock?: VirtualClock;
  /** Per-node replica options (tombstone collection). */
  replica?: (node: string) => Pick<ReplicaOptions, 'collectTombstones' | 'gcGrace'>;
}

export class SimNode {
  replica: Replica | undefined;
  links: Link[] = [];
  /** `error` events the replica emitted. */
  readonly errors: unknown[] = [];
  /** Every replicaId this node wrote as (a new one after fresh storage). */
  readonly ids: string[] = [];
  constructor(
    readonly name: string,
    public storage: StorageAdapter,
    readonly random: () => number,
    readonly skew: number,
  ) {}

  get up(): boolean {
    return this.replica !== undefined;
  }

  /** The live replica; throws when the node is down. */
  get r(): Replica {
    if (!this.replica) throw new Error(`node ${this.name} is down`);
    return this.replica;
  }
}

export class Cluster {
  readonly clock: VirtualClock;
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly ledger = new Ledger();
  readonly nodes = new Map<string, SimNode>();
  private readonly transports = new Map<string, SimTransport[]>();

  private constructor(readonly options: ClusterOptions) {
    this.clock = options.clock ?? new VirtualClock();
    this.rng = new Rng(prng(options.seed));
    this.net = new SimNetwork({ clock: this.clock, rng: this.rng.fork(), ...options.net });
    const nodeRng = this.rng.fork();
    for (const name of options.nodes) {
      const skew = options.skew ? nodeRng.int(-options.skew, options.skew) : 0;
      this.nodes.set(name, new SimNode(name, options.storage?.(name) ?? memoryStorage(), nodeRng.fork().next, skew));
      this.transports.set(name, []);
    }
    for (const [a, b] of options.edges) {
      if (options.relay === a || options.relay === b) {
        const client = options.relay === a ? b : a;
        this.transports.get(client)!.push(this.net.serverEdge(client, options.relay));
        continue;
      }
      const [ta, tb] = this.net.edge(a, b);
      this.transports.get(a)!.push(ta);
      this.transports.get(b)!.push(tb);
    }
  }

  static async create(options: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(options);
    for (const name of options.nodes) await c.start(name);
    return c;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  get names(): string[] {
    return [...this.nodes.keys()];
  }

  /** Transports of a node (one per edge), for stats. */
  transportsOf(name: string): readonly SimTransport[] {
    return this.transports.get(name) ?? [];
  }

  /** Opens the node's replica on its storage and connects every edge. */
  async start(name: string, spaces: readonly string[] = ['s']): Promise<void> {
    const n = this.node(name);
    if (n.replica) return;
    const storage = this.ledger.spy(name, n.storage, () => n.replica?.replicaId);
    const replica = await openReplica({ storage, now: () => this.clock.now() + n.skew, random: n.random, ...(this.options.merge ? { merge: this.options.merge } : {}), ...this.options.replica?.(name) });
    replica.on('error', (e) => n.errors.push(e));
    if (!n.ids.includes(replica.replicaId)) n.ids.push(replica.replicaId);
    for (const s of spaces) replica.space(s);
    n.replica = replica;
    if (name === this.options.relay) {
      // Any token is accepted: this simulates the network, not authentication.
      const every = this.options.link?.antiEntropyInterval;
      this.net.serve(name, (conn) =>
        replica.accept(conn, { authenticate: () => ({ rights: () => 'write' }), timers: this.clock, ...(every !== undefined ? { antiEntropyInterval: every } : {}) }),
      );
    }
    n.links = this.transportsOf(name).map((t) => replica.connect(t, { timers: this.clock, random: n.random, ...this.options.link }));
  }

  /** Kills the node: its connections drop (in-flight frames partly lost) and its replica closes. */
  async stop(name: string): Promise<void> {
    const n = this.node(name);
    const replica = n.replica;
    if (!replica) return;
    n.replica = undefined;
    this.net.serve(name, undefined);
    this.net.crash(name);
    await replica.close();
  }

  /** Stop, then start again on the same storage. */
  async restart(name: string): Promise<void> {
    await this.stop(name);
    await this.start(name);
  }

  /** The node comes back on other storage: fresh and empty (data loss: a new replicaId and log epoch), or a restored backup. */
  async replaceStorage(name: string, storage: StorageAdapter = memoryStorage()): Promise<void> {
    await this.stop(name);
    this.node(name).storage = storage;
    await this.start(name);
  }

  quiescent(): boolean {
    if (this.net.inFlight > 0) return false;
    for (const n of this.nodes.values()) {
      if (!n.replica) return false;
      // A relay's accepted sessions are not links: its clients' status speaks for them.
      if (n.name !== this.options.relay && n.replica.status !== 'synced') return false;
    }
    return true;
  }

  /** Runs virtual time until quiescent; throws (with what is still busy) after `maxMs` virtual ms. */
  async settle(maxMs = 600_000): Promise<void> {
    const end = this.clock.now() + maxMs;
    await settle();
    while (!this.quiescent()) {
      if (this.clock.now() > end || !(await this.clock.step())) {
        const busy = [...this.nodes.values()].map((n) => `${n.name}:${n.replica?.status ?? 'down'}`).join(' ');
        throw new Error(`not quiescent after ${maxMs} virtual ms: ${busy}; in flight ${this.net.inFlight}; live edges ${this.net.liveEdges().join(' ')}`);
      }
    }
  }

  /** The dots of every key of a space on a node, read from its storage. */
  async dots(name: string, space = 's'): Promise<Map<string, Set<Dot>>> {
    const out = new Map<string, Set<Dot>>();
    for (const [key, rec] of await this.node(name).storage.scan(space, { limit: 1_000_000 })) {
      out.set(key, new Set(rec.vs.map((v) => dotOf(v.r, v.n))));
    }
    return out;
  }

  async close(): Promise<void> {
    for (const name of this.names) await this.stop(name);
  }
}

export { settle };
