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
 */
import { Presence, type PresenceEntry, type PresenceWireEntry } from '../membership/presence.js';
import { randomId } from '../ids.js';
import type { SyncHub } from './hub.js';

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

export class PresenceHub {
  private readonly spaces = new Map<string, SpaceState>();
  private readonly channels = new Set<PresenceChannel>();
  private timer: ReturnType<typeof setInterval> | undefined;
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
      s = { presence: new Presence({ replicaId: this.selfId, ttl: this.ttl }), listeners: new Set() };
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

  /** Beats our entries and expires silent ones. */
  tick(): void {
    const now = this.now();
    for (const [space, s] of this.spaces) {
      const before = s.presence.digest();
      s.presence.beat(now);
      s.presence.expire(now);
      this.publish(space, s, before, undefined);
    }
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

  members(space: string): PresenceMember[] {
    return this.state(space, true)
      .presence.view(this.now())
      .map((e) => this.member(e));
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

  /** A space went live on a session: start the digest exchange, if presence is in use here. */
  spaceLive(c: PresenceChannel, space: string): void {
    const s = this.spaces.get(space);
    if (s) c.sendPresence(space, { d: s.presence.digest(), r: 1 });
  }

  receive(c: PresenceChannel, space: string, payload: PresencePayload): void {
    const s = this.state(space);
    const before = s.presence.digest();
    if (payload.e) s.presence.merge(this.now(), payload.e);
    if (payload.d) {
      const lacking = s.presence.diff(payload.d);
      if (lacking.length || payload.r) c.sendPresence(space, { e: lacking, ...(payload.r ? { d: s.presence.digest() } : {}) });
    }
    this.publish(space, s, before, c);
  }

  /** Forwards what advanced since `before` to the other sessions, and tells subscribers. */
  private publish(space: string, s: SpaceState, before: Record<string, number>, source: PresenceChannel | undefined): void {
    const news = s.presence.diff(before);
    const events = s.presence.takeEvents();
    if (news.length) for (const c of this.channels) if (c !== source && c.hasSpace(space)) c.sendPresence(space, { e: news });
    if (events.length && s.listeners.size) {
      const members = this.members(space);
      for (const cb of s.listeners) {
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

  /** Called with the members whenever someone joins, changes or leaves. Returns unsubscribe. */
  subscribe(cb: (members: PresenceMember[]) => void): () => void {
    return this.hub.subscribe(this.space, cb);
  }
}
