/**
 * SWIM membership for one member, as a pure state machine (Das, Gupta, Motivala, "SWIM", 2002; with
 * memberlist's refinements: suspicion with incarnations, push-pull anti-entropy).
 *
 * No timers, sockets or clocks inside: the driver calls `tick(now)` at `nextDeadline()`, passes every
 * inbound message to `receive(now, from, message)`, sends the returned `Outbound`s best effort, and
 * drains `takeEvents()`. Randomness comes from the injected `random`, so a seed replays a run exactly.
 *
 * Protocol period (probeInterval): probe one member, chosen by round-robin over a shuffled list (each
 * member is probed once per pass; the list is reshuffled per pass, newcomers inserted at random). No ack
 * after probeTimeout → ping-req through k others; no ack, direct or forwarded, by the period's end →
 * the member is suspect. A suspect not refuted within suspicionTimeout(mult, N, interval) is dead.
 *
 * Precedence of updates about member m with incarnation i over the state held at incarnation j:
 *   alive(i)   wins over anything if i > j
 *   suspect(i) wins over alive if i ≥ j, over suspect/dead/left if i > j
 *   dead(i)    wins over alive/suspect if i ≥ j, over dead/left if i > j
 *   left(i)    wins over alive/suspect/dead if i ≥ j, over left if i > j
 * Only m itself raises its incarnation: on hearing itself suspected (or dead) at i ≥ its own, it takes
 * i + 1 and gossips alive — the refutation. So a stale rumour can never outvote a live member for long.
 *
 * Dead and left members stay as tombstones for tombstoneRetention: stale gossip (incarnation ≤ the tombstone's) cannot
 * bring them back. A dead verdict received in a push-pull counts as suspicion only (memberlist does the same): a member
 * returning from a partition holds everyone dead, and must not spread that; the suspects hear of it and refute. Not of a
 * member the receiver does not know: ignored (as memberlist; tombstones expire at different times, and one taken as
 * suspicion brought a member dead for good back at every reap). Push-pull partners are drawn from dead members too (not
 * left ones), which is how the two sides of a healed partition find each other again.
 *
 * Every accepted change is queued for piggybacking (broadcasts.ts), except what a joiner learns in the
 * answer to its join (old news to everyone else). A message to a member we hold suspect or dead leads
 * with that verdict, so it can refute at once.
 */
import { BroadcastQueue } from './broadcasts.js';
import { checkConfig, lanConfig, type SwimConfig } from './config.js';
import { parseMessage, type MemberState, type Outbound, type SwimMessage, type Update } from './messages.js';
import { retransmitLimit, suspicionTimeout } from './timeouts.js';
import { isLive, overrides, pick, ProbeOrder } from './choose.js';
import type { MemberInfo, SwimEvent, SwimOptions, SwimStats } from './swim-types.js';

export type { MemberInfo, SwimEvent, SwimOptions, SwimStats } from './swim-types.js';

interface Probe {
  target: string;
  seq: number;
  startedAt: number;
  indirect: boolean;
  acked: boolean;
}

interface Relay {
  origin: string;
  originSeq: number;
  expires: number;
}

type Mode = 'gossip' | 'push-pull' | 'bootstrap';

export class Swim {
  readonly id: string;
  readonly address: string;
  readonly config: SwimConfig;
  private readonly random: () => number;
  private inc: number;
  private leaving = false;
  private started = false;
  private readonly recs = new Map<string, MemberInfo>();
  private readonly suspects = new Map<string, number>();
  private live = 1;
  private readonly queue = new BroadcastQueue();
  private events: SwimEvent[] = [];
  private readonly seeds: string[] = [];
  private readonly probeOrder: ProbeOrder;
  private probe: Probe | null = null;
  private readonly relays = new Map<number, Relay>();
  private seq = 0;
  private nextProbeAt = 0;
  private nextPushPullAt = 0;
  private nextReapAt = 0;
  private readonly counters = { malformed: 0, misdirected: 0 };
  private readonly validAddress: ((address: string) => boolean) | undefined;

  constructor(options: SwimOptions) {
    const config = options.config ?? lanConfig();
    checkConfig(config);
    const { id, address } = options.self;
    if (!(typeof id === 'string' && id.length > 0 && id.length <= config.limits.maxIdLength)) throw new RangeError('Swim: self.id must be a non-empty bounded string');
    if (!(typeof address === 'string' && address.length > 0 && address.length <= config.limits.maxAddressLength)) throw new RangeError('Swim: self.address must be a non-empty bounded string');
    this.id = id;
    this.address = address;
    this.config = config;
    this.random = options.random;
    this.probeOrder = new ProbeOrder(this.random);
    this.validAddress = options.validAddress;
    this.inc = options.incarnation ?? 0;
    for (const m of options.members ?? []) {
      if (m.id === id) continue;
      this.apply(0, { id: m.id, address: m.address, incarnation: m.incarnation ?? 0, state: 'alive' }, 'bootstrap');
    }
    this.probeOrder.building = false;

  }

  get incarnation(): number {
    return this.inc;
  }

  /** Members alive or suspect, self included: the N of the timeouts. */
  get size(): number {
    return this.live;
  }

  /** Every known member, self included, tombstones (dead, left) included, sorted by id. */
  members(): MemberInfo[] {
    const all = [...this.recs.values()].map((r) => ({ ...r }));
    all.push({ ...this.selfUpdate(), since: 0 });
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: string): MemberInfo | undefined {
    if (id === this.id) return { ...this.selfUpdate(), since: 0 };
    const r = this.recs.get(id);
    return r ? { ...r } : undefined;
  }

  stats(): SwimStats {
    return { ...this.counters, queued: this.queue.size };
  }

  /** Events since the last call, oldest first. */
  takeEvents(): SwimEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** The latest time by which `tick` must be called again. */
  nextDeadline(): number {
    if (!this.started) return 0;
    let t = Math.min(this.nextProbeAt, this.nextReapAt);
    if (this.leaving) return t;
    t = Math.min(t, this.nextPushPullAt);
    const p = this.probe;
    if (p && !p.acked && !p.indirect) t = Math.min(t, p.startedAt + this.config.probeTimeout);
    for (const d of this.suspects.values()) t = Math.min(t, d);
    return t;
  }

  /** Ask the member at `seed` for its state; retried each period while we know no one. */
  join(now: number, seed: string): Outbound[] {
    this.start(now);
    if (seed !== this.address && !this.seeds.includes(seed)) this.seeds.push(seed);
    this.queue.push(this.selfUpdate());
    if (seed === this.address || this.leaving) return [];
    return [{ to: seed, message: this.pushPull(true, false) }];
  }

  /** Leave for good: gossip `left` for a while (tick keeps sending while news remains); answer nothing. */
  leave(now: number): Outbound[] {
    this.start(now);
    if (this.leaving) return [];
    this.leaving = true;
    this.inc++;
    this.probe = null;
    this.queue.push(this.selfUpdate());
    return this.gossipRound();
  }

  tick(now: number): Outbound[] {
    this.start(now);
    const out: Outbound[] = [];
    if (now >= this.nextReapAt) this.reap(now);
    if (this.leaving) {
      if (now >= this.nextProbeAt) {
        this.nextProbeAt = now + this.config.probeInterval;
        out.push(...this.gossipRound());
      }
      return out;
    }
    const p = this.probe;
    if (p && !p.acked && !p.indirect && now >= p.startedAt + this.config.probeTimeout) {
      p.indirect = true;
      const rec = this.recs.get(p.target);
      if (rec) {
        for (const helper of pick(this.recs.values(), this.config.indirectChecks, (r) => isLive(r.state) && r.id !== p.target, this.random)) {
          const message: SwimMessage = { type: 'ping-req', seq: p.seq, src: this.id, target: rec.id, address: rec.address, updates: this.piggyback(helper.id) };
          out.push({ to: helper.address, message });
        }
      }
    }
    if (now >= this.nextProbeAt) {
      if (p && !p.acked) this.probeFailed(now, p);
      this.probe = null;
      this.nextProbeAt += this.config.probeInterval;
      if (this.nextProbeAt <= now) this.nextProbeAt = now + this.config.probeInterval;
      const target = this.probeOrder.next(this.recs);
      if (target) {
        const seq = this.seq++;
        this.probe = { target: target.id, seq, startedAt: now, indirect: false, acked: false };
        out.push({ to: target.address, message: { type: 'ping', seq, src: this.id, target: target.id, updates: this.piggyback(target.id) } });
      } else if (this.seeds.length > 0) {
        out.push({ to: this.pickSeed(), message: this.pushPull(true, false) });
      }
    }
    for (const [id, deadline] of this.suspects) {
      if (deadline > now) continue;
      const rec = this.recs.get(id);
      if (rec) this.apply(now, { id, address: rec.address, incarnation: rec.incarnation, state: 'dead' }, 'gossip');
      else this.suspects.delete(id);
    }
    if (now >= this.nextPushPullAt) {
      this.nextPushPullAt = now + this.config.pushPullInterval;
      const [partner] = pick(this.recs.values(), 1, (r) => r.state !== 'left', this.random);
      if (partner) out.push({ to: partner.address, message: this.pushPull(false, false) });
      else if (this.seeds.length > 0) out.push({ to: this.pickSeed(), message: this.pushPull(true, false) });
    }
    for (const [seq, r] of this.relays) if (r.expires <= now) this.relays.delete(seq);
    return out;
  }

  /** Handle one inbound message from the transport address `from`; invalid messages are counted and ignored. */
  receive(now: number, from: string, raw: unknown): Outbound[] {
    this.start(now);
    const parsed = parseMessage(raw, this.config.limits, this.validAddress);
    if (!parsed.ok) {
      this.counters.malformed++;
      this.events.push({ type: 'malformed', from, reason: parsed.reason, at: now });
      return [];
    }
    if (this.leaving) return [];
    const m = parsed.message;
    switch (m.type) {
      case 'ping': {
        if (m.target !== this.id) {
          this.counters.misdirected++;
          return [];
        }
        this.applyAll(now, m.updates, 'gossip');
        return [{ to: from, message: { type: 'ack', seq: m.seq, src: this.id, updates: this.piggyback(m.src) } }];
      }
      case 'ping-req': {
        this.applyAll(now, m.updates, 'gossip');
        if (m.target === this.id) return [{ to: from, message: { type: 'ack', seq: m.seq, src: this.id, updates: this.piggyback(m.src) } }];
        const seq = this.seq++;
        this.relays.set(seq, { origin: from, originSeq: m.seq, expires: now + this.config.probeInterval });
        return [{ to: m.address, message: { type: 'ping', seq, src: this.id, target: m.target, updates: this.piggyback(m.target) } }];
      }
      case 'ack': {
        this.applyAll(now, m.updates, 'gossip');
        if (this.probe && this.probe.seq === m.seq) {
          this.probe.acked = true;
          return [];
        }
        const relay = this.relays.get(m.seq);
        if (!relay) return [];
        this.relays.delete(m.seq);
        return [{ to: relay.origin, message: { type: 'ack', seq: relay.originSeq, src: this.id, updates: this.piggyback() } }];
      }
      case 'gossip':
        this.applyAll(now, m.updates, 'gossip');
        return [];
      case 'push-pull': {
        this.applyAll(now, m.members, m.reply && m.join ? 'bootstrap' : 'push-pull');
        if (m.reply) return [];
        return [{ to: from, message: this.pushPull(m.join, true) }];
      }
    }
  }

  // ---- state ---------------------------------------------------------------------------------

  private start(now: number): void {
    if (this.started) return;
    this.started = true;
    const c = this.config;
    this.nextProbeAt = now + this.random() * c.probeInterval;
    this.nextPushPullAt = now + c.probeInterval + this.random() * c.pushPullInterval;
    this.nextReapAt = now + c.probeInterval * 10;
  }

  private selfUpdate(): Update {
    return { id: this.id, address: this.address, incarnation: this.inc, state: this.leaving ? 'left' : 'alive' };
  }

  private applyAll(now: number, updates: Update[], mode: Mode): void {
    for (const u of updates) this.apply(now, u, mode);
  }

  private apply(now: number, u: Update, mode: Mode): void {
    if (u.id === this.id) return this.aboutSelf(now, u);
    const rec = this.recs.get(u.id);
    // A push-pull's tombstone of a member we do not know (never knew, or reaped): old news (see the header).
    if (!rec && mode === 'push-pull' && !isLive(u.state)) return;
    const state: MemberState = mode === 'push-pull' && u.state === 'dead' ? 'suspect' : u.state;
    if (!rec) {
      const fresh: MemberInfo = { id: u.id, address: u.address, incarnation: u.incarnation, state, since: now };
      this.recs.set(u.id, fresh);
      if (!isLive(state)) return; // a tombstone for a member we never knew: kept silently, against stale gossip
      this.live++;
      this.probeOrder.add(u.id);
      this.emit('joined', fresh, now);
      if (state === 'suspect') this.startSuspicion(fresh, now);
      if (mode !== 'bootstrap') this.queue.push({ ...u, state });
      return;
    }
    const prev = rec.state;
    const i = u.incarnation;
    if (!overrides(state, i, prev, rec.incarnation)) return;
    const moved = rec.address !== u.address;
    rec.incarnation = i;
    rec.address = u.address;
    if (prev !== state) {
      rec.state = state;
      rec.since = now;
    }
    if (prev === 'suspect' && state !== 'suspect') this.suspects.delete(rec.id);
    if (isLive(prev) && !isLive(state)) this.live--;
    if (!isLive(prev) && isLive(state)) {
      this.live++;
      this.probeOrder.add(rec.id);
      this.emit('joined', rec, now);
    }
    if (state === 'suspect' && prev !== 'suspect') this.startSuspicion(rec, now);
    else if (state === 'alive' && prev === 'suspect') this.emit('alive', rec, now);
    else if ((state === 'dead' || state === 'left') && prev !== state) this.emit(state, rec, now);
    else if (moved && isLive(state)) this.emit('updated', rec, now);
    if (mode !== 'bootstrap') this.queue.push({ id: rec.id, address: rec.address, incarnation: i, state });
  }

  private aboutSelf(now: number, u: Update): void {
    if (this.leaving) {
      if (u.state !== 'left' && u.incarnation >= this.inc) {
        this.inc = u.incarnation + 1;
        this.queue.push(this.selfUpdate());
      }
      return;
    }
    const stale = u.state === 'alive' ? u.incarnation <= this.inc : u.incarnation < this.inc;
    if (stale) return;
    this.inc = u.incarnation + 1;
    this.queue.push(this.selfUpdate());
    this.events.push({ type: 'refuted', incarnation: this.inc, at: now });
  }

  private startSuspicion(rec: MemberInfo, now: number): void {
    this.suspects.set(rec.id, now + suspicionTimeout(this.config.suspicionMult, this.live, this.config.probeInterval));
    this.emit('suspect', rec, now);
  }

  private emit(type: 'joined' | 'suspect' | 'alive' | 'dead' | 'left' | 'updated', rec: MemberInfo, now: number): void {
    if (this.probeOrder.building) return;
    this.events.push({ type, member: { ...rec }, at: now });
  }

  private probeFailed(now: number, p: Probe): void {
    const rec = this.recs.get(p.target);
    if (!rec || rec.state !== 'alive') return;
    this.apply(now, { id: rec.id, address: rec.address, incarnation: rec.incarnation, state: 'suspect' }, 'gossip');
  }

  private reap(now: number): void {
    this.nextReapAt = now + this.config.probeInterval * 10;
    for (const [id, r] of this.recs) {
      if (!isLive(r.state) && now - r.since >= this.config.tombstoneRetention) this.recs.delete(id);
    }
  }

  private pickSeed(): string {
    return this.seeds[Math.floor(this.random() * this.seeds.length)] as string;
  }

  // ---- outgoing ------------------------------------------------------------------------------

  /** Queued updates for a message to `dest`, led by our verdict on `dest` when it is suspect or dead. */
  private piggyback(dest?: string): Update[] {
    const limit = retransmitLimit(this.config.retransmitMult, this.live);
    const rec = dest === undefined ? undefined : this.recs.get(dest);
    if (rec && (rec.state === 'suspect' || rec.state === 'dead')) {
      const lead: Update = { id: rec.id, address: rec.address, incarnation: rec.incarnation, state: rec.state };
      return [lead, ...this.queue.take(this.config.maxPiggyback - 1, limit, rec.id)];
    }
    return this.queue.take(this.config.maxPiggyback, limit);
  }

  private gossipRound(): Outbound[] {
    if (this.queue.size === 0) return [];
    return pick(this.recs.values(), this.config.gossipFanout, (r) => isLive(r.state), this.random).map((r) => ({
      to: r.address,
      message: { type: 'gossip', src: this.id, updates: this.piggyback(r.id) } as SwimMessage,
    }));
  }

  private pushPull(join: boolean, reply: boolean): SwimMessage {
    const members: Update[] = [this.selfUpdate()];
    for (const r of this.recs.values()) {
      if (members.length >= this.config.limits.maxMembers) break;
      members.push({ id: r.id, address: r.address, incarnation: r.incarnation, state: r.state });
    }
    return { type: 'push-pull', src: this.id, join, reply, members };
  }
}
