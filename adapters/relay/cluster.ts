/**
 * The cluster driver of one relay: runs the pure SWIM state machine (lib/membership/swim.ts) over HTTP,
 * keeps a sync link to every live member, and tells clients the relay list and how many relays hold
 * their writes. Thin on purpose: every membership decision is the state machine's.
 *
 * Membership transport: each SWIM message is one `POST /cluster` to the member's relay (same port as its
 * WebSocket endpoint), body `{ from, msg }` (JSON, `content-type: application/json`, at most MAX_CLUSTER_BODY bytes),
 * authenticated by a relay token signed with the cluster secret (`relay: true` claim, see token.ts) — never
 * the client secret: secrets.ts keeps the two apart (or derives one from it). Only relays with a secret run a
 * driver at all (relay.ts): a relay without one does not cluster. Every member address a message names must
 * be a ws:// or wss:// URL without credentials, query or fragment (`isMemberAddress`), else the message is
 * dropped. Best effort and fire-and-forget, as SWIM wants: a failed POST
 * is a lost message, and the protocol's probes and suspicion handle it. (Simpler than keeping a WebSocket
 * per member: no connection state to manage, and a dead member shows up as a refused connection.)
 * A member's SWIM id is its replica's replicaId, its address its public ws:// URL.
 *
 * Replication: a relay opens (replica.space) every space it stores or receives a change for, and keeps a
 * Link (replica.connect over webSocketTransport, relay token) to each seed and each alive or suspect
 * member; every pair of relays thus has a link in each direction, and each side's link syncs the spaces
 * its dialer holds: every space reaches every relay. A member declared dead or left loses its link
 * (unless another live member now has its address); it gets one again when it rejoins.
 *
 * Replication counts (replication-counts.ts): the relay counts itself plus the live members that hold a client's
 * stored changes and tells the client `{ rep: { s, u, n } }` whenever that number grows.
 *
 * Invariants: the timer always fires at swim.nextDeadline(); inbound messages are validated by the state
 * machine (malformed ones counted and dropped); nothing here throws into the HTTP server or the timers —
 * failures go to the log and the `error` event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import { Emitter } from '../../lib/events.js';
import { Swim, type MemberInfo, type Outbound, type SwimConfig, type SwimEvent } from '../../lib/membership/index.js';
import type { Replica } from '../../lib/replica.js';
import { encodeNews } from '../../lib/sync/cluster-news.js';
import type { Link } from '../../lib/sync/link.js';
import { webSocketTransport } from '../ws/index.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import { handleClusterHttp, isMemberAddress } from './cluster-http.js';
import { isLive, ReplicationCounts } from './replication-counts.js';
import type { SecretRing } from './secrets.js';
import { clusterToken } from './token.js';

export type MemberEventType = 'joined' | 'suspect' | 'alive' | 'dead' | 'left' | 'updated';

/** A membership change as this relay saw it. */
export interface MemberEvent {
  type: MemberEventType;
  id: string;
  address: string;
  incarnation: number;
  /** Local time (ms) of the change. */
  at: number;
}

export interface ClusterEvents extends Record<string, unknown> {
  member: MemberEvent;
  error: unknown;
}

/** A client session, as the driver sees it: it can be sent news. */
export interface NewsSink {
  sendCluster(json: string): void;
}

export interface ClusterOptions {
  replica: Replica;
  /** This relay's public ws:// URL (its SWIM address). */
  address: string;
  seeds: readonly string[];
  /** The cluster secret(s): the current one signs relay tokens, every accepted one verifies them. */
  secret: SecretRing;
  config: SwimConfig;
  now: () => number;
  random: () => number;
  log: Logger;
  metrics: RelayMetrics;
  /** The current client sessions (for the relay list). */
  clients: () => Iterable<NewsSink>;
  /** Reconnect backoff of relay-to-relay links (ms). */
  linkBackoff: { base: number; max: number };
  /** Heartbeat of relay-to-relay links (ms). */
  linkHeartbeatMs: number;
}


function clusterEndpoint(address: string): string {
  const u = new URL(address);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/cluster';
  u.search = '';
  return u.toString();
}

export class ClusterDriver {
  readonly events = new Emitter<ClusterEvents>();
  private readonly swim: Swim;
  private readonly links = new Map<string, Link>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private lastRelays = '';
  private readonly counts: ReplicationCounts;
  private readonly offChange: () => void;
  private readonly eventCounter: Counter<'type'>;

  constructor(private readonly o: ClusterOptions) {
    this.swim = new Swim({ self: { id: o.replica.replicaId, address: o.address }, config: o.config, random: o.random, validAddress: isMemberAddress });
    // Members' withholds are always named (acks.ts `exact`): a withheld key's overflow of clients does not stop them counting.
    o.replica.core.acks.exact = (peer) => this.isMember(peer);
    const registers = [o.metrics.registry];
    const swim = this.swim;
    new Gauge({
      name: 'concord_relay_cluster_members',
      help: 'Cluster members known to this relay (itself included), by state (alive, suspect, dead, left)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
        for (const m of swim.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    this.eventCounter = new Counter({ name: 'concord_relay_cluster_events_total', help: 'Membership events by type (joined, suspect, alive, dead, left, updated, refuted, malformed)', labelNames: ['type'] as const, registers });
    this.counts = new ReplicationCounts(o.replica, this.swim);
    // Every space that reaches this relay is opened, so its links sync it with the other relays.
    this.offChange = o.replica.core.events.on('change', (c) => {
      if (!this.closed) o.replica.space(c.space);
    });
  }

  /** Opens the stored spaces, starts the timers and joins through the seeds. */
  async start(): Promise<void> {
    for (const name of await this.o.replica.core.storage.spaces()) this.o.replica.space(name);
    const now = this.o.now();
    const out: Outbound[] = [];
    for (const seed of this.o.seeds) if (seed !== this.o.address) out.push(...this.swim.join(now, seed));
    if (this.o.seeds.length === 0) out.push(...this.swim.tick(now));
    this.after(out);
  }

  get id(): string {
    return this.swim.id;
  }

  /**
   * Whether `id` is the replicaId of a relay of the cluster: this one (as it started, or now), or a member in any state.
   * (A member that re-identified since it joined is known here under the id it joined with.)
   */
  isMember(id: string): boolean {
    return id === this.swim.id || id === this.o.replica.replicaId || this.swim.members().some((m) => m.id === id);
  }

  /** Every known member, self included (dead and left ones while their tombstones last). */
  members(): MemberInfo[] {
    return this.swim.members();
  }

  /** The public URLs of the live members, self included, sorted. */
  relayUrls(): string[] {
    return this.swim.members().filter(isLive).map((m) => m.address).sort();
  }

  relaysNews(): string {
    return encodeNews({ kind: 'relays', relays: this.relayUrls() });
  }

  // ---- the /cluster endpoint -------------------------------------------------------------------------

  /** The /cluster endpoint (cluster-http.ts). */
  handleHttp(req: IncomingMessage, res: ServerResponse): void {
    handleClusterHttp(req, res, {
      secret: this.o.secret,
      now: this.o.now,
      metrics: this.o.metrics,
      news: () => this.relaysNews(),
      deliver: (from, msg) => {
        if (!this.closed) this.after(this.swim.receive(this.o.now(), from, msg));
      },
    });
  }

  // ---- driving the state machine ---------------------------------------------------------------------

  private after(out: Outbound[]): void {
    if (this.closed) return;
    for (const o of out) this.post(o);
    this.drainEvents();
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const delay = Math.max(0, this.swim.nextDeadline() - this.o.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.after(this.swim.tick(this.o.now()));
    }, delay);
    this.timer.unref();
  }

  private post(o: Outbound): void {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${clusterToken(this.o.secret.current, this.o.now())}` };
    let url: string;
    try {
      url = clusterEndpoint(o.to);
    } catch {
      return;
    }
    void fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ from: this.o.address, msg: o.message }),
      signal: AbortSignal.timeout(Math.max(200, this.o.config.probeInterval)),
    })
      .then((r) => r.body?.cancel())
      .catch(() => {
        // A lost message: SWIM's probes and suspicion account for it.
      });
  }

  private drainEvents(): void {
    let changed = false;
    for (const e of this.swim.takeEvents()) {
      this.eventCounter.inc({ type: e.type });
      changed = true;
      this.report(e);
    }
    if (changed) {
      this.syncLinks();
      this.tellClients();
      // A member counted out while suspected dead may be back: its acknowledgements count again.
      this.counts.recountAll();
    }
  }

  private report(e: SwimEvent): void {
    if (e.type === 'refuted') {
      this.o.log('info', 'cluster: refuted a suspicion of this relay', { incarnation: e.incarnation });
      return;
    }
    if (e.type === 'malformed') {
      this.o.log('info', 'cluster: malformed membership message', { from: e.from, reason: e.reason });
      return;
    }
    const m = e.member;
    this.o.log('info', `cluster: member ${e.type}`, { id: m.id, address: m.address, incarnation: m.incarnation });
    this.events.emit('member', { type: e.type, id: m.id, address: m.address, incarnation: m.incarnation, at: e.at });
  }

  /** One link per live member address (and per seed not yet known as a member). */
  private syncLinks(): void {
    if (this.closed) return;
    const members = this.swim.members().filter((m) => m.id !== this.swim.id);
    const want = new Set(members.filter(isLive).map((m) => m.address));
    for (const seed of this.o.seeds) if (!members.some((m) => m.address === seed)) want.add(seed);
    want.delete(this.o.address);
    for (const [address, link] of this.links) {
      if (want.has(address)) continue;
      link.close();
      this.links.delete(address);
      this.o.log('info', 'cluster: link closed', { address });
    }
    for (const address of want) {
      if (this.links.has(address)) continue;
      const secret = this.o.secret;
      const transport = webSocketTransport(address, {
        token: () => clusterToken(secret.current, this.o.now()),
        heartbeatMs: this.o.linkHeartbeatMs,
        // A link to one member stays with that member: failing over is for clients.
        learnRelays: false,
      });
      this.links.set(address, this.o.replica.connect(transport, { backoff: this.o.linkBackoff }));
      this.o.log('info', 'cluster: link opened', { address });
    }
  }

  private tellClients(): void {
    const news = this.relaysNews();
    if (news === this.lastRelays) return;
    this.lastRelays = news;
    for (const c of this.o.clients()) c.sendCluster(news);
  }

  // ---- replication counts ----------------------------------------------------------------------------

  /**
   * A client's changes in `space` up to its seq `upTo` are stored here, the newest at our log seq `localSeq`; `keys`:
   * the keys of the frame that brought them (undefined when not known).
   */
  stored(client: NewsSink, space: string, upTo: number, localSeq: number, keys?: readonly string[]): void {
    if (!this.closed) this.counts.stored(client, space, upTo, localSeq, keys);
  }

  /** The client session ended. */
  forget(client: NewsSink): void {
    this.counts.forget(client);
  }

  // ---- shutdown ----------------------------------------------------------------------------------------

  /**
   * Stops the driver. With `leave` (a graceful shutdown) the departure is announced first, so the others
   * mark this relay `left` at once instead of suspecting it; without, it simply goes silent (a crash, as
   * the cluster sees it).
   */
  async close(leave: boolean): Promise<void> {
    if (this.closed) return;
    if (leave && this.swim.members().some((m) => m.id !== this.swim.id && isLive(m))) {
      const out = this.swim.leave(this.o.now());
      for (const o of out) this.post(o);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    clearTimeout(this.timer);
    this.counts.close();
    this.offChange();
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
