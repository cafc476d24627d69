/**
 * One network role for the instances of a replica that share one storage (browser tabs of an origin):
 * `connect()` may be called in every tab; the instance holding the role (the leader) runs its links for all,
 * the others' links are dormant (link.ts). Spoken over the storage's SharedInstances port (lib/storage.ts:
 * exactly one competing leader; messages best effort):
 *
 *   leader   state     status, acknowledgements per space, replication reports: on every status change, every
 *                      beat, on taking the role, and in answer to hello or probe (a lost one is repaired by the next)
 *   leader   acks      acknowledgements and replication reports that advanced, at once (batched per tick)
 *   any      hello     I am here, with the spaces I opened; `spaces` for each one opened later (the leader syncs them)
 *   follower probe     the leader was silent for 3 beats: are you there? (any leader answers with its state)
 *   follower wake      reconnect now (this tab came online or became visible)
 *   any      presence  this instance's presence gossip: each tab is its own presence member
 *   follower waits     keys it waits on; leader held, withheld: what a peer holds of them, or cannot (tab-waits.ts)
 *   leader   resign    gave the role up (closing, unloading, or no link left)
 *
 * Invariants:
 * - Only instances with at least one link compete for the role. One without links never leads, shows
 *   'offline' and takes no part in presence, but still applies acknowledgements: they are facts about the
 *   shared log (a write made in any tab reports `synced` once a peer holds it).
 * - A follower with links shows the leader's status ('connecting' while it knows of no leader), and never
 *   'synced' while it counts a pending write (the leader may not have read that write from the log yet).
 * - Writes made in any tab reach the leader through the change log (core.ts reads other instances' commits on
 *   each commit hint; the storage also announces commits whose hint was lost, see adapters/indexeddb/tabs.ts),
 *   and the leader syncs every space opened in any tab.
 * - Acknowledgements apply as a maximum: late, repeated or replayed ones change nothing. Lost ones are repaired
 *   by the next beat, by the stored floors (pending.ts), and by a new leader's catch-up (the peer's cursor
 *   acknowledges our log again).
 * - A leader that stalls without the environment's freeze signal (the adapter gives the role up on that one)
 *   stops answering: a follower with links probes after 3 silent beats and takes the role over when the probe
 *   stays unanswered for `probeTimeout` (plus jitter, so followers rarely race; a race only moves the role
 *   twice). Messages, unlike timers, are not throttled in background tabs: a hidden leader beating slowly
 *   still answers probes and keeps the role. The stalled leader learns it lost the role when it runs again,
 *   and closes its connections then; until then the relay may see two connections of this replica, which
 *   the sync protocol tolerates (cursors, idempotent joins).
 */
import type { ReplicaCore } from '../core.js';
import { randomId } from '../ids.js';
import type { SharedInstances } from '../storage.js';
import type { ReplicaStatus } from '../types.js';
import type { PresenceChannel, PresenceHub } from './presence-hub.js';
import { parsePresence } from './presence-wire.js';
import { defaultTimers, type Timers } from './session-state.js';
import { parseWaits, TabWaits, type WaitsBody } from './tab-waits.js';

const KIND = 'concord-tabs';
const VERSION = 1;
const MAX_LIST = 10_000;
const STATUSES: readonly ReplicaStatus[] = ['offline', 'connecting', 'syncing', 'synced'];

export const DEFAULT_BEAT_MS = 2000;
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;

export interface TabNetworkOptions {
  /** Milliseconds between the leader's beats (default 2000); a follower probes after 3 silent beats. */
  beatMs?: number;
  /** Milliseconds a probe may stay unanswered before the role is taken over (default 2000, plus up to half of it as jitter). */
  probeTimeoutMs?: number;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
}

/** What the network role needs of its replica. */
export interface TabHost {
  readonly core: ReplicaCore;
  readonly presence: PresenceHub;
  /** The status of this instance's own links (what a leader reports). */
  ownStatus(): ReplicaStatus;
  /** This instance's count of pending writes (pending.ts). */
  pending(): number;
  openedSpaces(): Iterable<string>;
  /** Other instances opened these spaces: sync them too. */
  remoteSpaces(spaces: readonly string[]): void;
  /** This instance took (true) or lost (false) the role: run or suspend the links. */
  setLeading(on: boolean): void;
  /** A follower asked for a reconnect now. */
  wakeLinks(): void;
  /** What dormant links show changed. */
  refreshStatus(): void;
}

type Msg = { k: typeof KIND; v: typeof VERSION; from: string } & (
  | { t: 'state'; status: ReplicaStatus; acks: Array<[string, number]>; reps: Array<[string, number, number]>; ask?: 1 }
  | { t: 'acks'; acks: Array<[string, number]>; reps: Array<[string, number, number]> }
  | { t: 'hello' | 'spaces'; spaces: string[] }
  | { t: 'probe' | 'wake' | 'resign' }
  | { t: 'presence'; space: string; json: string }
  | WaitsBody
);

type Body = Msg extends infer M ? (M extends unknown ? Omit<M, 'k' | 'v' | 'from'> : never) : never;

export class TabNetwork {
  readonly id: string;
  private links = 0;
  private closed = false;
  private leaderId: string | undefined;
  private leaderStatus: ReplicaStatus = 'connecting';
  private lastHeard: number;
  private probeSent: number | undefined;
  private timer: unknown;
  private batch: { acks: Map<string, number>; reps: Array<[string, number, number]> } | undefined;
  private readonly stops: Array<() => void> = [];
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly beatMs: number;
  private readonly probeTimeoutMs: number;
  private readonly channel: PresenceChannel;
  private readonly waits: TabWaits;

  constructor(
    private readonly port: SharedInstances,
    private readonly host: TabHost,
    options: TabNetworkOptions = {},
  ) {
    this.timers = options.timers ?? defaultTimers;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.beatMs = options.beatMs ?? DEFAULT_BEAT_MS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.id = randomId(6);
    this.lastHeard = this.now();
    this.channel = {
      sendPresence: (space, payload) => this.post({ t: 'presence', space, json: JSON.stringify(payload) }),
      hasSpace: () => this.links > 0,
    };
    const acks = host.core.acks;
    this.waits = new TabWaits(acks, (body) => this.post(body), () => this.port.isLeader);
    this.stops.push(
      () => this.waits.close(),
      port.onMessage((m) => this.receive(m)),
      port.onLeaderChange((on) => this.leaderChanged(on)),
      port.onVisible?.(() => this.visible()) ?? (() => {}),
      port.onClosing?.(() => this.closing()) ?? (() => {}),
      // What a peer acknowledged goes to the other instances at once; what they told us is not passed on again.
      acks.onAdvance((space, upTo, peer) => peer !== undefined && this.queue((b) => b.acks.set(space, Math.max(b.acks.get(space) ?? 0, upTo)))),
      acks.onReplicated((space, upTo, count) => this.port.isLeader && this.queue((b) => b.reps.push([space, upTo, count]))),
      host.core.events.on('status', () => this.port.isLeader && this.sendState()),
    );
    this.post({ t: 'hello', spaces: [...host.openedSpaces()] });
    // The role may be held already (the app asked the storage for it before opening the replica).
    if (port.isLeader) this.leaderChanged(true);
    this.schedule();
  }

  get isLeader(): boolean {
    return this.port.isLeader;
  }

  /** The status a dormant link shows: the leader's, as this instance can vouch for it. */
  followerStatus(): ReplicaStatus {
    if (this.links === 0) return 'offline';
    if (this.leaderId === undefined) return 'connecting';
    if (this.leaderStatus === 'synced' && this.host.pending() > 0) return 'syncing';
    return this.leaderStatus;
  }

  /** The number of this instance's open links changed: compete for the role while there is one. */
  linksChanged(count: number): void {
    if (this.closed) return;
    const before = this.links;
    this.links = count;
    if (before === 0 && count > 0) {
      this.lastHeard = this.now();
      this.port.compete(true);
      this.host.presence.addChannel(this.channel);
      for (const space of this.host.presence.activeSpaces()) this.host.presence.spaceLive(this.channel, space);
    } else if (before > 0 && count === 0) {
      if (this.port.isLeader) this.post({ t: 'resign' });
      this.port.compete(false);
      this.host.presence.removeChannel(this.channel);
    }
    this.host.refreshStatus();
  }

  spaceOpened(space: string): void {
    this.post({ t: 'spaces', spaces: [space] });
  }

  /** A dormant link was woken (the page came online or visible): the leader reconnects. */
  wake(): void {
    this.post({ t: 'wake' });
  }

  close(): void {
    if (this.closed) return;
    if (this.port.isLeader) this.post({ t: 'resign' });
    this.closed = true;
    this.timers.clearTimeout(this.timer);
    for (const stop of this.stops.splice(0)) stop();
    this.host.presence.removeChannel(this.channel);
    this.port.compete(false);
  }

  // ---- the role ----------------------------------------------------------------------------------

  private leaderChanged(on: boolean): void {
    if (this.closed) return;
    if (on) {
      this.leaderId = this.id;
      this.host.setLeading(true);
      // Ask every instance for its spaces: the new leader syncs them all.
      this.sendState(true);
    } else {
      this.waits.resigned();
      if (this.leaderId === this.id) this.leaderId = undefined;
      this.lastHeard = this.now();
      this.host.setLeading(false);
    }
    this.host.refreshStatus();
  }

  private sendState(ask = false): void {
    const { acks, reps } = this.host.core.acks.snapshot();
    this.waits.beforeState();
    this.post({ t: 'state', status: this.host.ownStatus(), acks, reps, ...(ask ? { ask: 1 as const } : {}) });
  }

  private schedule(): void {
    if (this.closed) return;
    const every = Math.max(10, Math.min(this.beatMs, this.probeTimeoutMs) / 2);
    let beatDue = this.now() + this.beatMs;
    const tick = () => {
      if (this.closed) return;
      const now = this.now();
      if (this.port.isLeader) {
        if (now >= beatDue) {
          beatDue = now + this.beatMs;
          this.sendState();
        }
      } else if (this.links > 0) this.watch(now);
      this.timer = this.timers.setTimeout(tick, every);
    };
    this.timer = this.timers.setTimeout(tick, every);
  }

  /** A follower with links watches the leader: probe after 3 silent beats, take over when nobody answers. */
  private watch(now: number): void {
    if (this.probeSent === undefined) {
      if (now - this.lastHeard > 3 * this.beatMs) this.probe(now);
      return;
    }
    if (this.lastHeard >= this.probeSent) {
      this.probeSent = undefined;
      return;
    }
    if (now - this.probeSent > this.probeTimeoutMs * (1 + this.random() / 2)) {
      this.probeSent = undefined;
      this.lastHeard = now;
      this.port.takeOver();
    }
  }

  private probe(now: number): void {
    this.probeSent = now;
    this.post({ t: 'probe' });
  }

  /** The page unloads: leave presence now (the others would wait out the ttl) and resign, best effort. */
  private closing(): void {
    if (this.closed) return;
    for (const space of this.host.presence.activeSpaces()) this.host.presence.leave(space);
    if (this.port.isLeader) this.post({ t: 'resign' });
  }

  private visible(): void {
    if (this.closed) return;
    if (this.port.isLeader) return this.host.wakeLinks();
    if (this.links === 0) return;
    this.post({ t: 'wake' });
    if (this.probeSent === undefined) this.probe(this.now());
  }

  // ---- messages ----------------------------------------------------------------------------------

  private post(body: Body): void {
    if (this.closed) return;
    this.port.post({ k: KIND, v: VERSION, from: this.id, ...body });
  }

  private queue(fill: (b: NonNullable<TabNetwork['batch']>) => void): void {
    if (this.closed) return;
    if (!this.batch) {
      this.batch = { acks: new Map(), reps: [] };
      queueMicrotask(() => {
        const b = this.batch!;
        this.batch = undefined;
        this.post({ t: 'acks', acks: [...b.acks], reps: b.reps });
      });
    }
    fill(this.batch);
  }

  private receive(raw: unknown): void {
    if (this.closed) return;
    const m = parse(raw);
    if (!m || m.from === this.id) return;
    switch (m.t) {
      case 'state':
        this.apply(m.acks, m.reps);
        // The port says who leads here; a claim from a leader that was just replaced changes nothing.
        if (!this.port.isLeader) {
          if (this.leaderId !== m.from) this.waits.newLeader();
          this.leaderId = m.from;
          this.leaderStatus = m.status;
          this.lastHeard = this.now();
          this.probeSent = undefined;
        }
        if (m.ask) this.post({ t: 'spaces', spaces: [...this.host.openedSpaces()] });
        this.host.refreshStatus();
        return;
      case 'acks':
        this.apply(m.acks, m.reps);
        if (m.from === this.leaderId) this.lastHeard = this.now();
        return;
      case 'hello':
      case 'spaces':
        if (!this.port.isLeader) return;
        this.host.remoteSpaces(m.spaces);
        if (m.t === 'hello') this.sendState();
        return;
      case 'probe':
        if (this.port.isLeader) this.sendState();
        return;
      case 'wake':
        if (this.port.isLeader) this.host.wakeLinks();
        return;
      case 'resign':
        if (m.from !== this.leaderId) return;
        this.leaderId = undefined;
        this.lastHeard = this.now();
        this.host.refreshStatus();
        return;
      case 'waits':
      case 'held':
      case 'withheld':
        return this.waits.receive(m);
      case 'presence':
        if (this.links === 0) return;
        try {
          this.host.presence.receive(this.channel, m.space, parsePresence(m.json));
        } catch {
          // Not presence: ignored (the presence state trusts nothing in it either).
        }
        return;
    }
  }

  private apply(acks: Array<[string, number]>, reps: Array<[string, number, number]>): void {
    const tracker = this.host.core.acks;
    for (const [space, upTo] of acks) tracker.ack(space, upTo);
    for (const [space, upTo, count] of reps) tracker.replicated(space, upTo, count);
  }
}

// ---- validation: another tab may run another version of the app ---------------------------------------

const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isName = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= 256;

function list<T>(value: unknown, item: (x: unknown) => x is T): T[] | undefined {
  return Array.isArray(value) && value.length <= MAX_LIST && value.every(item) ? (value as T[]) : undefined;
}

const ackItem = (x: unknown): x is [string, number] => Array.isArray(x) && x.length === 2 && isName(x[0]) && isSeq(x[1]);
const repItem = (x: unknown): x is [string, number, number] => Array.isArray(x) && x.length === 3 && isName(x[0]) && isSeq(x[1]) && isSeq(x[2]);

function parse(raw: unknown): Msg | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (m.k !== KIND || m.v !== VERSION || !isName(m.from) || m.from.length > 64) return undefined;
  const base = { k: KIND, v: VERSION, from: m.from } as const;
  switch (m.t) {
    case 'state':
    case 'acks': {
      const acks = list(m.acks, ackItem);
      const reps = list(m.reps, repItem);
      if (!acks || !reps) return undefined;
      if (m.t === 'acks') return { ...base, t: 'acks', acks, reps };
      if (!STATUSES.includes(m.status as ReplicaStatus)) return undefined;
      return { ...base, t: 'state', status: m.status as ReplicaStatus, acks, reps, ...(m.ask === 1 ? { ask: 1 as const } : {}) };
    }
    case 'hello':
    case 'spaces': {
      const spaces = list(m.spaces, isName);
      return spaces ? { ...base, t: m.t, spaces } : undefined;
    }
    case 'probe':
    case 'wake':
    case 'resign':
      return { ...base, t: m.t };
    case 'presence':
      return isName(m.space) && typeof m.json === 'string' && m.json.length <= 1 << 20 ? { ...base, t: 'presence', space: m.space, json: m.json } : undefined;
    default: // 'waits', 'held', 'withheld', or a type this version does not know (undefined: ignored)
      return parseWaits(m, isName, base);
  }
}
