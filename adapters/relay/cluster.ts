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
 * Replication counts: when a client's changes are stored here (the session's onStored hook gives our log
 * seq for them and the keys of the frame), the relay counts itself plus the live members that hold them, and sends
 * `{ rep: { s, u, n } }` to the client whenever n grows (cluster-news.ts). A member holds them once it acknowledged
 * that seq in that space and holds each of the frame's keys at a state at least as new: our log holds a key once, at
 * its newest record, so a key written here again (another client, the same one, a join) before the part of the log
 * past the seq went to the member is not in what it acknowledged. What the member holds of a key is known from the
 * log frames that carried it to the member and were acknowledged by an ACK of the session they went on (AckTracker
 * onFrame, onStreamAck: the member holds the key as of every record of it at or below the frame's upTo — a key saved
 * faster than acknowledgements come back counts so; a frame lost with its connection is answered by no other session),
 * or else from where the key's record is now, read after the acknowledgement (records only move up the log: one at or
 * below what the member acknowledged then went to it, or came from it). Entries stored by a repair or a held-back run
 * have no keys here and are counted by the acknowledged seq alone. A report says "n relays hold your log up to u":
 * an entry's count is never above an earlier pending entry's.
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

/** Pending replication counts kept per client session and space; the oldest are dropped beyond it. */
const MAX_PENDING = 1024;

/** Log frames to a member not acknowledged yet, kept per member and space at most (its streams' windows are 32 each). */
const MAX_CARRIED = 256;

interface Pending {
  upTo: number;
  localSeq: number;
  sent: number;
  /** The keys of the client's frame(s); undefined: stored by a repair or a held-back run (not known here). */
  keys: readonly string[] | undefined;
}

const isLive = (m: MemberInfo): boolean => m.state === 'alive' || m.state === 'suspect';

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
  private readonly pending = new Map<NewsSink, Map<string, Pending[]>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private lastRelays = '';
  private readonly offAck: () => void;
  private readonly offStreamAck: () => void;
  private readonly offFrame: () => void;
  /** space → key → how many pending entries hold it (the keys whose carrying to members is noted). */
  private readonly watched = new Map<string, Map<string, number>>();
  /** member → space → the log frames that went to it carrying watched keys, not acknowledged yet, with the session they went on. */
  private readonly carried = new Map<string, Map<string, Array<{ upTo: number; keys: string[]; via: object | undefined }>>>();
  /** member → space → watched key → the member holds the key's state as of every record of it at or below this seq. */
  private readonly holds = new Map<string, Map<string, Map<string, number>>>();
  /** space → key → each member's acknowledgement when the key's record was last read (`readPositions`). */
  private readonly readAgainst = new Map<string, Map<string, Map<string, number>>>();
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
    // An ACK answers the frames of its own session (`onStreamAck`, before `onPeerAck` of the same ACK).
    this.offStreamAck = o.replica.core.acks.onStreamAck((peer, space, upTo, via) => {
      const m = this.swim.member(peer);
      if (!m || m.id === this.swim.id) return;
      // One that did not advance the member's acknowledgement (another session's reached further) counts here.
      if (this.ackedFrames(peer, space, upTo, via) && isLive(m) && o.replica.core.acks.ackedBy(peer, space) >= upTo) this.recount(space);
    });
    this.offAck = o.replica.core.acks.onPeerAck((peer, space) => {
      const m = this.swim.member(peer);
      if (m && m.id !== this.swim.id && isLive(m)) this.recount(space);
    });
    this.offFrame = o.replica.core.acks.onFrame((peer, space, upTo, entries, via) => {
      const keys = this.watched.get(space);
      if (!keys?.size || peer === this.swim.id || !this.swim.member(peer)) return;
      const carriedKeys: string[] = [];
      for (const [key] of entries) if (keys.has(key)) carriedKeys.push(key);
      if (carriedKeys.length === 0) return;
      let bySpace = this.carried.get(peer);
      if (!bySpace) this.carried.set(peer, (bySpace = new Map()));
      let list = bySpace.get(space);
      if (!list) bySpace.set(space, (list = []));
      list.push({ upTo, keys: carriedKeys, via });
      // Frames of a session that ended are never acknowledged: the oldest go (their keys then count by `readPositions`).
      if (list.length > MAX_CARRIED) list.shift();
    });
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
      const spaces = new Set<string>();
      for (const bySpace of this.pending.values()) for (const space of bySpace.keys()) spaces.add(space);
      for (const space of spaces) this.recount(space);
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
    if (this.closed) return;
    let bySpace = this.pending.get(client);
    if (!bySpace) this.pending.set(client, (bySpace = new Map()));
    let list = bySpace.get(space);
    if (!list) bySpace.set(space, (list = []));
    const p: Pending = { upTo, localSeq, sent: 1, keys: keys ? [...new Set(keys)] : undefined };
    this.watch(space, p.keys, 1);
    list.push(p);
    if (list.length > MAX_PENDING) {
      // The oldest is folded into the next (a report for the next one says the client's log up to it is held).
      const [first, next] = list.splice(0, 2) as [Pending, Pending];
      const merged: Pending = { upTo: next.upTo, localSeq: Math.max(first.localSeq, next.localSeq), sent: Math.min(first.sent, next.sent), keys: undefined };
      if (first.keys && next.keys) merged.keys = [...new Set([...first.keys, ...next.keys])];
      else if (first.keys || next.keys) merged.keys = first.keys ?? next.keys;
      this.watch(space, merged.keys, 1);
      this.watch(space, first.keys, -1);
      this.watch(space, next.keys, -1);
      list.unshift(merged);
    }
    this.recount(space);
  }

  /** The client session ended. */
  forget(client: NewsSink): void {
    const bySpace = this.pending.get(client);
    this.pending.delete(client);
    if (bySpace) for (const [space, list] of bySpace) for (const p of list) this.watch(space, p.keys, -1);
  }

  /** Counts `keys` in (`by` 1) or out (-1) of the watched keys of `space`; a key counted out drops what was known of it. */
  private watch(space: string, keys: readonly string[] | undefined, by: 1 | -1): void {
    if (!keys?.length) return;
    let counts = this.watched.get(space);
    if (!counts) this.watched.set(space, (counts = new Map()));
    for (const key of keys) {
      const n = (counts.get(key) ?? 0) + by;
      if (n > 0) {
        counts.set(key, n);
        continue;
      }
      counts.delete(key);
      for (const bySpace of this.holds.values()) bySpace.get(space)?.delete(key);
      this.readAgainst.get(space)?.delete(key);
    }
    if (counts.size === 0) {
      this.watched.delete(space);
      for (const bySpace of this.holds.values()) bySpace.delete(space);
      for (const bySpace of this.carried.values()) bySpace.delete(space);
      this.readAgainst.delete(space);
    }
  }

  /** `member` holds `key`'s state as of every record of it at or below `at`. */
  private hold(member: string, space: string, key: string, at: number): void {
    let bySpace = this.holds.get(member);
    if (!bySpace) this.holds.set(member, (bySpace = new Map()));
    let keys = bySpace.get(space);
    if (!keys) bySpace.set(space, (keys = new Map()));
    if ((keys.get(key) ?? 0) < at) keys.set(key, at);
  }

  /**
   * `member` acknowledged our log in `space` up to `upTo` on the session `via`: the watched keys that session's frames
   * up to there carried, it holds. Another session's frames the ACK passes are dropped unheld: they may have gone on a
   * connection that dropped before the member stored them, and the stream of this session, from the member's stored
   * cursor, may have passed their seqs without their keys (written again since: a log holds a key once, at its newest
   * record). Where such a key's record is now tells instead (`readPositions`). Returns whether a key was held.
   */
  private ackedFrames(member: string, space: string, upTo: number, via: object): boolean {
    const list = this.carried.get(member)?.get(space);
    if (!list) return false;
    const watched = this.watched.get(space);
    let kept = 0;
    let held = false;
    for (const f of list) {
      if (f.upTo > upTo) {
        list[kept++] = f;
        continue;
      }
      if (f.via !== via) continue;
      for (const key of f.keys) if (watched?.has(key)) (this.hold(member, space, key, f.upTo), (held = true));
    }
    list.length = kept;
    return held;
  }

  /** Whether `member` (which acknowledged `acked` in `space`) holds the entry; the keys it is not known to hold go to `unknown`. */
  private memberHolds(member: string, space: string, acked: number, p: Pending, unknown: Set<string>): boolean {
    if (acked < p.localSeq) return false;
    const acks = this.o.replica.core.acks;
    // An entry stored with no keys (a repair's) may hold any key: while the link to the member leaves one out, it does
    // not count (a conservative count: the writes of that entry wait for the key's next state, or another member).
    if (!p.keys) return !acks.hasWithheldFrom(member, space);
    const held = this.holds.get(member)?.get(space);
    let all = true;
    for (const key of p.keys) {
      // A key the link to it left out (over its frame, a type it lacks): however far it acknowledged, not there.
      if (acks.isWithheldFrom(member, space, key)) {
        all = false;
        continue;
      }
      if ((held?.get(key) ?? 0) >= p.localSeq) continue;
      all = false;
      unknown.add(key);
    }
    return all;
  }

  /**
   * Reads where these keys' records are now, after the members' acknowledgements (`acked`) came: a member that
   * acknowledged past a key's record holds it as of then (records only move up the log, so the record was in what
   * went to it — or came from it). Read again only once some member acknowledged more; then counts again.
   */
  private readPositions(space: string, keys: Iterable<string>, acked: ReadonlyMap<string, number>): void {
    let against = this.readAgainst.get(space);
    if (!against) this.readAgainst.set(space, (against = new Map()));
    const due: string[] = [];
    for (const key of keys) {
      const last = against.get(key);
      if (last && [...acked].every(([m, a]) => (last.get(m) ?? 0) >= a)) continue;
      against.set(key, new Map(acked));
      due.push(key);
    }
    if (due.length === 0) return;
    const { storage, acks } = this.o.replica.core;
    void Promise.all(due.map((key) => storage.get(space, key).then((rec) => rec?.seq, () => undefined))).then((seqs) => {
      if (this.closed) return;
      const watched = this.watched.get(space);
      due.forEach((key, i) => {
        const at = seqs[i];
        if (at === undefined || !watched?.has(key)) return;
        for (const [member, a] of acked) if (at <= a && !acks.isWithheldFrom(member, space, key)) this.hold(member, space, key, a);
      });
      this.recount(space);
    });
  }

  private recount(space: string): void {
    const known = this.swim.members();
    const peers = known.filter((m) => m.id !== this.swim.id && isLive(m));
    const acked = new Map(peers.map((m) => [m.id, this.o.replica.core.acks.ackedBy(m.id, space)] as const));
    // An entry is done once every member that may still hold it counts it: dead ones may come back (a
    // false suspicion, a restart), so only members that left are out.
    const all = known.filter((m) => m.state !== 'left').length;
    const unknown = new Set<string>();
    for (const [client, bySpace] of this.pending) {
      const list = bySpace.get(space);
      if (!list) continue;
      // A report says the client's log up to its upTo is held: an entry counts no more than the one before it (a key
      // of an earlier entry may not be held yet where a later one is). Of the entries whose count grew, report the
      // last one of each count (it implies the earlier ones).
      const news: Array<{ upTo: number; n: number }> = [];
      const keep: Pending[] = [];
      let cap = Infinity;
      for (const p of list) {
        let own = 1;
        for (const m of peers) if (this.memberHolds(m.id, space, acked.get(m.id)!, p, unknown)) own++;
        const n = Math.min(own, cap);
        cap = n;
        if (n > p.sent) {
          p.sent = n;
          const last = news[news.length - 1];
          if (last && last.n === n) last.upTo = p.upTo;
          else news.push({ upTo: p.upTo, n });
        }
        if (n < all) keep.push(p);
        else this.watch(space, p.keys, -1);
      }
      for (const { upTo, n } of news) client.sendCluster(encodeNews({ kind: 'replicated', space, upTo, count: n }));
      if (keep.length) bySpace.set(space, keep);
      else bySpace.delete(space);
    }
    if (unknown.size > 0) this.readPositions(space, unknown, acked);
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
    this.offAck();
    this.offStreamAck();
    this.offFrame();
    this.offChange();
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.pending.clear();
    this.watched.clear();
    this.carried.clear();
    this.holds.clear();
    this.readAgainst.clear();
  }
}
