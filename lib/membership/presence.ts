/**
 * Presence in one space — who is online, with app metadata (a name, a cursor) — as a state that gossip
 * spreads through the relays. Pure: time is passed in; the relay or client driver moves the entries.
 *
 * Per replica one entry `{ replicaId, meta, heartbeat, updatedAt }`. Only the owner raises its
 * heartbeat (`set`, `beat`); everyone else keeps the highest heartbeat heard, so `merge` is a join
 * (commutative, idempotent) on the (replicaId → heartbeat) map. `updatedAt` is local: the time this
 * replica last saw the heartbeat advance, never the sender's clock.
 *
 * Only news travels: `digest()` is replicaId → heartbeat; `diff(theirDigest)` is the entries the other
 * side lacks or holds older. Bounded disappearance: an entry whose heartbeat has not advanced within
 * `ttl` is out of `view(now)` at once and removed by `expire(now)` (with a `leave` event), so a replica
 * that vanishes leaves everyone's view within ttl of the last heartbeat they heard. `leave()` is the
 * fast path: a final heartbeat marked `left` that spreads like any news. A removed entry leaves a
 * tombstone (its last heartbeat) for 2 × ttl, so a stale copy still in flight cannot bring it back; a
 * higher heartbeat (the replica really is back) does.
 *
 * Bounded: at most `maxMembers` entries (default 4 096) are held; an entry for a replica not held yet is
 * refused (counted) while the space is full, so a flood of invented ids cannot grow it. Updates of held
 * entries and leaves always pass.
 */

export interface PresenceEntry {
  replicaId: string;
  meta: unknown;
  heartbeat: number;
  /** Local time the heartbeat last advanced here. */
  updatedAt: number;
}

/** What travels between replicas: no local times. */
export interface PresenceWireEntry {
  replicaId: string;
  meta: unknown;
  heartbeat: number;
  left?: boolean;
}

export type PresenceEvent = { type: 'join' | 'update' | 'leave'; replicaId: string; meta: unknown; at: number };

export interface PresenceOptions {
  replicaId: string;
  /** An entry not refreshed within ttl ms leaves the view. */
  ttl: number;
  /** Largest `meta`, as JSON characters (default 4096). */
  maxMetaBytes?: number;
  /** Most entries accepted in one merge (default 10 000). */
  maxEntries?: number;
  /** Most entries held at once (default 4 096); new replicas beyond it are refused. */
  maxMembers?: number;
  maxIdLength?: number;
}

interface Tombstone {
  heartbeat: number;
  left: boolean;
  until: number;
}

export class Presence {
  readonly replicaId: string;
  readonly ttl: number;
  private readonly maxMetaBytes: number;
  private readonly maxEntries: number;
  private readonly maxMembers: number;
  private readonly maxIdLength: number;
  private readonly entries = new Map<string, PresenceEntry & { metaJson: string }>();
  private readonly tombstones = new Map<string, Tombstone>();
  private own: { meta: unknown; metaJson: string; heartbeat: number } | null = null;
  private ownHeartbeat = 0;
  private events: PresenceEvent[] = [];
  private rejected = 0;

  constructor(options: PresenceOptions) {
    this.replicaId = options.replicaId;
    this.ttl = options.ttl;
    this.maxMetaBytes = options.maxMetaBytes ?? 4096;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxMembers = options.maxMembers ?? 4096;
    this.maxIdLength = options.maxIdLength ?? 128;
    if (!(this.ttl > 0)) throw new RangeError('Presence: ttl must be positive');
  }

  /** Entries dropped by `merge` as malformed or oversized, so far. */
  get rejectedCount(): number {
    return this.rejected;
  }

  /** Announce or change our own metadata (JSON); raises our heartbeat. */
  set(now: number, meta: unknown): void {
    const metaJson = JSON.stringify(meta ?? null);
    if (metaJson.length > this.maxMetaBytes) throw new RangeError(`Presence: meta is larger than ${this.maxMetaBytes} characters of JSON`);
    this.ownHeartbeat++;
    this.own = { meta: JSON.parse(metaJson), metaJson, heartbeat: this.ownHeartbeat };
    this.accept(now, { replicaId: this.replicaId, meta: this.own.meta, heartbeat: this.ownHeartbeat }, metaJson);
  }

  /** Our periodic heartbeat (call well within ttl, e.g. every ttl / 3); nothing before the first `set`. */
  beat(now: number): void {
    if (!this.own) return;
    this.ownHeartbeat++;
    this.own.heartbeat = this.ownHeartbeat;
    this.accept(now, { replicaId: this.replicaId, meta: this.own.meta, heartbeat: this.ownHeartbeat }, this.own.metaJson);
  }

  /** Leave the space: our entry goes, and a final `left` heartbeat spreads through `diff`. */
  leave(now: number): void {
    if (!this.own) return;
    this.own = null;
    this.ownHeartbeat++;
    this.remove(now, this.replicaId, this.ownHeartbeat, true);
  }

  /** replicaId → highest heartbeat known (entries and tombstones). */
  digest(): Record<string, number> {
    const d: Record<string, number> = {};
    for (const [id, t] of this.tombstones) define(d, id, t.heartbeat);
    for (const [id, e] of this.entries) define(d, id, e.heartbeat);
    return d;
  }

  /** Entries the holder of `theirs` lacks or holds older, and `left` markers for entries it still holds. */
  diff(theirs: Readonly<Record<string, unknown>>): PresenceWireEntry[] {
    const out: PresenceWireEntry[] = [];
    const known = (id: string): number => {
      const v = Object.hasOwn(theirs, id) ? theirs[id] : undefined;
      return typeof v === 'number' ? v : -1;
    };
    for (const e of this.entries.values()) {
      if (known(e.replicaId) < e.heartbeat) out.push({ replicaId: e.replicaId, meta: e.meta, heartbeat: e.heartbeat });
    }
    for (const [id, t] of this.tombstones) {
      const k = known(id);
      if (t.left && k >= 0 && k < t.heartbeat) out.push({ replicaId: id, meta: null, heartbeat: t.heartbeat, left: true });
    }
    return out;
  }

  /** Join entries received from another replica (untrusted: each is validated; bad ones are counted and skipped). */
  merge(now: number, entries: unknown): void {
    if (!Array.isArray(entries)) {
      this.rejected++;
      return;
    }
    let seen = 0;
    for (const raw of entries) {
      if (++seen > this.maxEntries) {
        this.rejected += entries.length - this.maxEntries;
        break;
      }
      const e = this.validate(raw);
      if (!e) {
        this.rejected++;
        continue;
      }
      if (e.entry.replicaId === this.replicaId) {
        // Someone holds a newer heartbeat of ours (a previous life): step past it.
        if (e.entry.heartbeat >= this.ownHeartbeat) {
          this.ownHeartbeat = e.entry.heartbeat;
          if (this.own) this.beat(now);
        }
        continue;
      }
      const tomb = this.tombstones.get(e.entry.replicaId);
      if (tomb && tomb.heartbeat >= e.entry.heartbeat) continue;
      const cur = this.entries.get(e.entry.replicaId);
      if (cur && cur.heartbeat >= e.entry.heartbeat) continue;
      if (!cur && !tomb && this.entries.size + this.tombstones.size >= this.maxMembers) {
        this.rejected++;
        continue;
      }
      if (e.entry.left) this.remove(now, e.entry.replicaId, e.entry.heartbeat, true);
      else this.accept(now, e.entry, e.metaJson);
    }
  }

  /** Remove entries not refreshed within ttl (leave events) and forget old tombstones. */
  expire(now: number): void {
    for (const e of [...this.entries.values()]) {
      if (e.replicaId !== this.replicaId && now - e.updatedAt > this.ttl) this.remove(now, e.replicaId, e.heartbeat, false);
    }
    for (const [id, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(id);
  }

  /**
   * Who is online at `now`: entries refreshed within ttl, sorted by replicaId. Each meta a copy of its own (parsed from
   * the entry's JSON): what is handed out reaches the app (`presence.list()`, its subscribers, concord/yjs's awareness
   * states), and an app changing it in place changed the entry itself, which `diff` sends on — the replica's own
   * heartbeats, what it forwards, a late joiner's answer — so peers saw the app's edits as the member's meta.
   */
  view(now: number): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.replicaId === this.replicaId || now - e.updatedAt <= this.ttl) {
        out.push({ replicaId: e.replicaId, meta: JSON.parse(e.metaJson) as unknown, heartbeat: e.heartbeat, updatedAt: e.updatedAt });
      }
    }
    return out.sort((a, b) => (a.replicaId < b.replicaId ? -1 : a.replicaId > b.replicaId ? 1 : 0));
  }

  /** Whether an entry or tombstone of this id is held. */
  knows(replicaId: string): boolean {
    return this.entries.has(replicaId) || this.tombstones.has(replicaId);
  }

  /** What an id holds here (its length, and its metadata's JSON while an entry), or undefined when neither entry nor tombstone. */
  cost(replicaId: string): number | undefined {
    const e = this.entries.get(replicaId);
    if (e) return replicaId.length + e.metaJson.length;
    return this.tombstones.has(replicaId) ? replicaId.length : undefined;
  }

  /** The metadata of the id's entry held (a copy), or undefined when it holds none (a tombstone, or nothing). */
  heldMeta(replicaId: string): { meta: unknown } | undefined {
    const e = this.entries.get(replicaId);
    return e && { meta: JSON.parse(e.metaJson) as unknown };
  }

  /** Entries and tombstones held. */
  get size(): number {
    return this.entries.size + this.tombstones.size;
  }

  /** Whether nothing is held and we are not present (the state can be dropped). */
  get isEmpty(): boolean {
    return this.own === null && this.entries.size === 0 && this.tombstones.size === 0;
  }

  takeEvents(): PresenceEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  private accept(now: number, e: PresenceWireEntry, metaJson: string): void {
    const cur = this.entries.get(e.replicaId);
    this.entries.set(e.replicaId, { replicaId: e.replicaId, meta: e.meta, heartbeat: e.heartbeat, updatedAt: now, metaJson });
    this.tombstones.delete(e.replicaId);
    if (!cur) this.events.push({ type: 'join', replicaId: e.replicaId, meta: e.meta, at: now });
    else if (cur.metaJson !== metaJson) this.events.push({ type: 'update', replicaId: e.replicaId, meta: e.meta, at: now });
  }

  private remove(now: number, replicaId: string, heartbeat: number, left: boolean): void {
    const cur = this.entries.get(replicaId);
    this.entries.delete(replicaId);
    this.tombstones.set(replicaId, { heartbeat, left, until: now + 2 * this.ttl });
    if (cur) this.events.push({ type: 'leave', replicaId, meta: cur.meta, at: now });
  }

  private validate(raw: unknown): { entry: PresenceWireEntry; metaJson: string } | null {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
    const r = raw as Record<string, unknown>;
    if (typeof r.replicaId !== 'string' || r.replicaId.length === 0 || r.replicaId.length > this.maxIdLength) return null;
    if (typeof r.heartbeat !== 'number' || !Number.isSafeInteger(r.heartbeat) || r.heartbeat < 0) return null;
    if (r.left !== undefined && typeof r.left !== 'boolean') return null;
    let metaJson: string | undefined;
    try {
      metaJson = JSON.stringify(r.meta ?? null);
    } catch {
      return null;
    }
    if (metaJson === undefined || metaJson.length > this.maxMetaBytes) return null;
    return { entry: { replicaId: r.replicaId, meta: JSON.parse(metaJson), heartbeat: r.heartbeat, left: r.left === true }, metaJson };
  }
}

/** Sets an own property even for ids like '__proto__'. */
function define(d: Record<string, number>, key: string, value: number): void {
  Object.defineProperty(d, key, { value, enumerable: true, writable: true, configurable: true });
}
