/**
 * Presence over sync sessions. Per space, one `Presence` state (lib/membership/presence.ts) per replica;
 * relays hold one too, without an entry of their own, and pass news on — gossip through the relays.
 *
 *   a space goes live on a session  → send our digest;
 *   a digest arrives                → answer with what it lacks (and our digest, once, to learn what we lack)
 *   entries arrive                  → merge; whatever advanced is news: forward it to every other session
 *                                     live on that space, and tell local subscribers
 *   our own set / beat / leave      → news likewise
 * Beats every ttl / 3 keep our entry alive; expiry every ttl / 3 removes entries that went silent, so a
 * replica that vanishes leaves everyone's view within ttl (plus one expiry period).
 *
 * Presence entries belong to their sender (issue 11 #7). A session registered with `restrict` (a relay's
 * sessions with clients, set up by Replica.accept) is a client: of its entries only the sender's own are
 * taken — its replicaId, or its replicaId + '~' + suffix (one per tab) — at most `maxPerSender` ids per
 * space; entries naming other replicas (renames, fake leaves, floods) are dropped and counted (`refused`).
 * Relay peers (cluster links) and unrestricted sessions (links we opened: to our relay, or peer to peer)
 * may forward others' entries. Every space holds at most `maxMembers` entries (Presence), payloads we send
 * are split to stay under MAX_PAYLOAD_CHARS, and a space's state is dropped once it holds nothing, has no
 * listener and we are not present in it.
 */
import { Presence, type PresenceEntry, type PresenceWireEntry } from '../membership/presence.js';
import { randomId } from '../ids.js';
import type { SyncHub } from './hub.js';
import { DigestWindows } from './presence-digests.js';
import { PresenceHolds, type PresenceBudget } from './presence-holds.js';

export interface PresencePayload {
  /** The sender's digest (replica → heartbeat). */
  d?: Record<string, number>;
  /** Entries for the receiver. */
  e?: PresenceWireEntry[];
  /** Answer with your digest too. */
  r?: 1;
}

export interface PresenceChannel {
  /** Sends presence for a space to this session's peer. */
  sendPresence(space: string, payload: PresencePayload): void;
  /** Whether the space is live on this session. */
  hasSpace(space: string): boolean;
}

export interface PresenceMember {
  /** The replica, and this instance of it (two tabs of one replica are two members). */
  readonly id: string;
  readonly replicaId: string;
  readonly meta: unknown;
  readonly self: boolean;
}

interface SpaceState {
  presence: Presence;
  listeners: Set<(members: PresenceMember[]) => void>;
}

export const DEFAULT_PRESENCE_TTL = 15_000;
/** Presence ids one client may hold in a space (its tabs). */
export const MAX_PRESENCE_PER_SENDER = 16;
/** Payloads we send are split to stay under this many characters of JSON (decoders refuse beyond 1 MiB). */
export const MAX_PAYLOAD_CHARS = 64 * 1024;

/** How a session's presence is trusted: a client sends only its own entries; a relay peer forwards others'. */
export interface SenderPolicy {
  /** The sender's replicaId (once its hello arrived). */
  peer(): string | undefined;
  /** Whether it may forward others' entries (a relay of the cluster). */
  forwards(): boolean;
  /** The principal its credential names (its entries count against that principal's budget too), if any. */
  principal?(): string | undefined;
  /** What its entries may make us hold (presence-holds.ts; defaults there). */
  budget?: PresenceBudget;
}

/** Whether a presence id belongs to replica `peer`: its id, or its id + '~' + a tab suffix. */
export function ownsPresenceId(peer: string, id: string): boolean {
  return id === peer || (id.length > peer.length + 1 && id.startsWith(peer) && id[peer.length] === '~');
}

export class PresenceHub {
  private readonly spaces = new Map<string, SpaceState>();
  private readonly channels = new Set<PresenceChannel>();
  private readonly policies = new WeakMap<PresenceChannel, SenderPolicy>();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Entries dropped because their sender could not vouch for them (another replica's id, over the cap). */
  refused = 0;
  /** What clients' entries hold, per connection, principal and address (presence-holds.ts). */
  private readonly holds = new PresenceHolds((space, id) => this.spaces.get(space)?.presence.cost(id));
  /** When each client's digests were answered last (presence-digests.ts: once a window). */
  private readonly digests = new DigestWindows();
  /** This instance's presence id: the replicaId and a suffix, so tabs sharing a replica stay apart. */
  readonly selfId: string;

  constructor(
    private readonly hub: SyncHub,
    private readonly ttl = DEFAULT_PRESENCE_TTL,
  ) {
    this.selfId = `${hub.core.replicaId}~${randomId(4)}`;
  }

  private now(): number {
    return this.hub.core.now();
  }

  /**
   * The presence state of a space, created on first use. Created by the local API, it announces itself to
   * the sessions where the space is live (a replica that never uses presence sends none).
   */
  private state(space: string, announce = false): SpaceState {
    let s = this.spaces.get(space);
    if (!s) {
      s = { presence: new Presence({ replicaId: this.selfId, ttl: this.ttl, maxEntries: 4096 }), listeners: new Set() };
      this.spaces.set(space, s);
      this.ensureTimer();
      if (announce) for (const c of this.channels) if (c.hasSpace(space)) this.spaceLive(c, space);
    }
    return s;
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.ttl / 3)));
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Beats our entries and expires silent ones; drops the state of spaces left with nothing. */
  tick(): void {
    const now = this.now();
    this.holds.tick();
    for (const [space, s] of this.spaces) {
      const before = s.presence.digest();
      s.presence.beat(now);
      s.presence.expire(now);
      this.publish(space, s, before, undefined);
      if (s.presence.isEmpty && s.listeners.size === 0) this.spaces.delete(space);
    }
    if (this.spaces.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Spaces with presence state, and the entries they hold (memory accounting). */
  get stats(): { spaces: number; entries: number } {
    let entries = 0;
    for (const s of this.spaces.values()) entries += s.presence.size;
    return { spaces: this.spaces.size, entries };
  }

  // ---- local API -----------------------------------------------------------------------------------

  set(space: string, meta: unknown): void {
    const s = this.state(space, true);
    const before = s.presence.digest();
    s.presence.set(this.now(), meta);
    this.publish(space, s, before, undefined);
  }

  leave(space: string): void {
    const s = this.spaces.get(space);
    if (!s) return;
    const before = s.presence.digest();
    s.presence.leave(this.now());
    this.publish(space, s, before, undefined);
  }

  members(space: string, now = this.now()): PresenceMember[] {
    return this.state(space, true)
      .presence.view(now)
      .map((e) => this.member(e));
  }

  /** `members`, where presence is in use in the space; none where it is not — and using it does not start it. */
  peek(space: string): PresenceMember[] {
    return this.spaces.has(space) ? this.members(space) : [];
  }

  subscribe(space: string, cb: (members: PresenceMember[]) => void): () => void {
    const s = this.state(space, true);
    s.listeners.add(cb);
    return () => void s.listeners.delete(cb);
  }

  private member(e: PresenceEntry): PresenceMember {
    const cut = e.replicaId.lastIndexOf('~');
    return { id: e.replicaId, replicaId: cut > 0 ? e.replicaId.slice(0, cut) : e.replicaId, meta: e.meta, self: e.replicaId === this.selfId };
  }

  // ---- sessions ------------------------------------------------------------------------------------

  addChannel(c: PresenceChannel): void {
    this.channels.add(c);
  }

  removeChannel(c: PresenceChannel): void {
    this.channels.delete(c);
  }

  /** The spaces presence is in use in here. */
  activeSpaces(): string[] {
    return [...this.spaces.keys()];
  }

  /** The session is a client's (a relay serving it): take only the sender's own entries (see the header). */
  restrict(c: PresenceChannel, policy: SenderPolicy): void {
    this.policies.set(c, policy);
  }

  /** A space went live on a session: start the digest exchange, if presence is in use here. */
  spaceLive(c: PresenceChannel, space: string): void {
    const s = this.spaces.get(space);
    if (s) c.sendPresence(space, { d: s.presence.digest(), r: 1 });
  }

  receive(c: PresenceChannel, space: string, payload: PresencePayload): void {
    const s = this.state(space);
    const before = s.presence.digest();
    const entries = payload.e ? this.vouched(c, space, s, payload.e) : undefined;
    if (entries?.length) s.presence.merge(this.now(), entries);
    if (payload.d && this.answers(c, space)) {
      const lacking = s.presence.diff(payload.d);
      if (lacking.length || payload.r) this.send(c, space, lacking, payload.r ? s.presence.digest() : undefined);
    }
    this.publish(space, s, before, c);
  }

  /** Whether a digest from `c` is answered: a client's, once a window a space (presence-digests.ts); a peer's, always. */
  private answers(c: PresenceChannel, space: string): boolean {
    const policy = this.policies.get(c);
    return !policy || policy.forwards() || this.digests.answers(c, space, this.now());
  }

  /** The entries of a payload its sender may vouch for (all of them, unless the session is restricted). */
  private vouched(c: PresenceChannel, space: string, s: SpaceState, entries: PresenceWireEntry[]): PresenceWireEntry[] {
    const policy = this.policies.get(c);
    if (!policy || policy.forwards()) return entries;
    const peer = policy.peer();
    if (peer === undefined || !Array.isArray(entries)) {
      this.refused += Array.isArray(entries) ? entries.length : 1;
      return [];
    }
    // Counted only when the sender brings an id not held yet (a new tab): heartbeats cost nothing here.
    let held: number | undefined;
    const holders = this.holds.holders(c, policy.principal?.(), policy.budget);
    const out: PresenceWireEntry[] = [];
    for (const e of entries) {
      const id = (e as { replicaId?: unknown } | null)?.replicaId;
      if (typeof id !== 'string' || !ownsPresenceId(peer, id)) {
        this.refused++;
        continue;
      }
      const fresh = !s.presence.knows(id);
      if (fresh) {
        held ??= Object.keys(s.presence.digest()).filter((known) => ownsPresenceId(peer, known)).length;
        if (held >= MAX_PRESENCE_PER_SENDER) {
          this.refused++;
          continue;
        }
      }
      // Room in the connection's, principal's and address's budgets (an update of an entry held: for what it grew).
      if (!this.holds.take(holders, space, id, id.length + metaChars(e))) {
        this.refused++;
        // An entry held whose metadata outgrew a full holder (an address another client filled) is refreshed with the
        // metadata held, which costs nothing more: refused whole, a live member left everyone's view within the ttl.
        const kept = fresh ? undefined : s.presence.heldMeta(id);
        if (kept) out.push({ ...e, meta: kept.meta });
        continue;
      }
      if (fresh) held!++;
      out.push(e);
    }
    return out;
  }

  /** Sends entries (and a digest, with the last part) to one session, in payloads under MAX_PAYLOAD_CHARS. */
  private send(c: PresenceChannel, space: string, entries: PresenceWireEntry[], digest?: Record<string, number>): void {
    let part: PresenceWireEntry[] = [];
    let chars = 0;
    for (const e of entries) {
      const size = JSON.stringify(e).length + 1;
      if (part.length > 0 && chars + size > MAX_PAYLOAD_CHARS) {
        c.sendPresence(space, { e: part });
        part = [];
        chars = 0;
      }
      part.push(e);
      chars += size;
    }
    c.sendPresence(space, { e: part, ...(digest ? { d: digest } : {}) });
  }

  /** Forwards what advanced since `before` to the other sessions, and tells subscribers. */
  private publish(space: string, s: SpaceState, before: Record<string, number>, source: PresenceChannel | undefined): void {
    const news = s.presence.diff(before);
    const events = s.presence.takeEvents();
    if (news.length) for (const c of this.channels) if (c !== source && c.hasSpace(space)) this.send(c, space, news);
    if (events.length && s.listeners.size) {
      const now = this.now();
      for (const cb of s.listeners) {
        // A list of its own for each (its metas parsed anew): one that sorts, splices or edits it changes nothing the
        // next subscriber (concord/react's usePresence) is handed.
        const members = this.members(space, now);
        try {
          cb(members);
        } catch (e) {
          this.hub.core.events.emit('error', e);
        }
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const space of [...this.spaces.keys()]) this.leave(space);
  }
}

/** The JSON characters of an entry's metadata (0 where it has none a merge would take). */
function metaChars(e: PresenceWireEntry): number {
  try {
    return JSON.stringify((e as { meta?: unknown }).meta ?? null)?.length ?? 0;
  } catch {
    return 0;
  }
}

/** `space.presence`: who is online in a space, with app metadata (a name, a cursor position). */
export class SpacePresence {
  constructor(
    private readonly hub: PresenceHub,
    private readonly space: string,
  ) {}

  /** Be present with this metadata (JSON, ≤ 4 KiB), or update it. */
  set(meta: unknown): void {
    this.hub.set(this.space, meta);
  }

  /** Leave: others see it at once (not only after the ttl). */
  leave(): void {
    this.hub.leave(this.space);
  }

  /** Who is online now (ourselves included once `set`), sorted by id. */
  list(): PresenceMember[] {
    return this.hub.members(this.space);
  }

  /**
   * @internal `list()` with no side effect: what is known where presence is in use in the space, else none; presence
   * is not started (no timer, nothing announced to the relay). For React's render, where effects may not run.
   */
  peek(): PresenceMember[] {
    return this.hub.peek(this.space);
  }

  /** Called with the members whenever someone joins, changes or leaves. Returns unsubscribe. */
  subscribe(cb: (members: PresenceMember[]) => void): () => void {
    return this.hub.subscribe(this.space, cb);
  }
}
