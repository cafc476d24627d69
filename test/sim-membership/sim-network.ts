/**
 * A seeded, simulated cluster of SWIM members on virtual time: the driver that tests and benchmark S8
 * run instead of sockets and timers (memberlist ships its MockNetwork the same way). It is a thin driver
 * like a real one: it calls `tick` at `nextDeadline()`, hands every delivered message to `receive`, and
 * drains events into a log stamped with virtual time.
 *
 * Network model (datagrams, as SWIM assumes): each message is lost with probability `loss`, otherwise
 * delivered after a uniform random latency in [min, max] ms (so messages reorder freely); a message
 * across a partition, or to or from a killed member, is dropped. Messages go through a JSON round trip,
 * so whatever a member sends is what a wire would carry.
 *
 * Determinism: one seed fixes the network's draws and, derived from it, every member's `random`.
 * Same seed, same calls → the same log, event for event.
 */
import { prng } from '../../lib/check-merge.js';
import { localConfig, type SwimConfig } from '../../lib/membership/config.js';
import type { MemberState, SwimMessage } from '../../lib/membership/messages.js';
import { Swim, type SwimEvent } from '../../lib/membership/swim.js';

export interface SimOptions {
  seed: number;
  /** Members started at time 0 (ids m0 … m(n-1)); more can `join` later. */
  n: number;
  config?: SwimConfig;
  /** Probability that a message is lost (0 … 1). */
  loss?: number;
  /** One-way latency range in ms (default 1–10). */
  latency?: { min: number; max: number };
  /** Start members knowing each other (default true); false: each member joins m0 at time 0. */
  bootstrap?: boolean;
  /** JSON round trip for every message (default true). */
  serialize?: boolean;
}

export interface SimRecord {
  at: number;
  observer: string;
  event: SwimEvent;
}

interface Node {
  id: string;
  address: string;
  swim: Swim;
  up: boolean;
  wakeAt: number;
  wakeGen: number;
}

type Job =
  | { kind: 'tick'; id: string; gen: number }
  | { kind: 'deliver'; from: string; fromAddress: string; to: string; message: unknown };

interface Entry {
  at: number;
  order: number;
  job: Job;
}

/** A binary min-heap of jobs by (time, insertion order). */
class Agenda {
  private readonly heap: Entry[] = [];
  private order = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): Entry | undefined {
    return this.heap[0];
  }

  push(at: number, job: Job): void {
    const h = this.heap;
    h.push({ at, order: this.order++, job });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(l, m)) m = l;
        if (r < h.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a] as Entry;
    const y = this.heap[b] as Entry;
    return x.at < y.at || (x.at === y.at && x.order < y.order);
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a] as Entry;
    this.heap[a] = this.heap[b] as Entry;
    this.heap[b] = t;
  }
}

export interface SimCounters {
  sent: number;
  lost: number;
  /** Dropped by a partition or a killed member. */
  blocked: number;
  delivered: number;
  bytes: number;
}

export class SimCluster {
  now = 0;
  readonly seed: number;
  readonly config: SwimConfig;
  readonly log: SimRecord[] = [];
  readonly counters: SimCounters = { sent: 0, lost: 0, blocked: 0, delivered: 0, bytes: 0 };
  private readonly rng: () => number;
  private readonly nodes = new Map<string, Node>();
  private readonly byAddress = new Map<string, Node>();
  private readonly agenda = new Agenda();
  private readonly loss: number;
  private readonly latency: { min: number; max: number };
  private readonly serialize: boolean;
  private groups: Map<string, number> | null = null;
  private created = 0;
  /** Tick generations, global so a restarted member never matches its previous life's pending tick. */
  private gens = 0;

  constructor(options: SimOptions) {
    this.seed = options.seed >>> 0;
    this.rng = prng(this.seed);
    this.config = options.config ?? localConfig();
    this.loss = options.loss ?? 0;
    this.latency = options.latency ?? { min: 1, max: 10 };
    this.serialize = options.serialize ?? true;
    const ids = Array.from({ length: options.n }, (_, i) => `m${i}`);
    const bootstrap = options.bootstrap ?? true;
    const known = bootstrap ? ids.map((id) => ({ id, address: addressOf(id) })) : [];
    for (const id of ids) this.create(id, known);
    if (!bootstrap) for (const id of ids.slice(1)) this.join(id, 'm0');
    for (const node of this.nodes.values()) this.reschedule(node);
  }

  /** Ids of every member ever started, in creation order. */
  get ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** Start a new member `id` and have it join through `seed`. */
  add(id: string, seed: string): void {
    if (this.nodes.has(id)) throw new Error(`sim: ${id} exists`);
    this.create(id, []);
    this.join(id, seed);
  }

  /** The member stops: it sends and receives nothing more. */
  kill(id: string): void {
    this.node(id).up = false;
  }

  /** A killed member comes back with empty state (incarnation 0) and joins through `seed`. */
  restart(id: string, seed: string): void {
    const old = this.node(id);
    if (old.up) throw new Error(`sim: ${id} is up`);
    this.create(id, []);
    this.join(id, seed);
  }

  /** The member leaves gracefully (gossips `left`), then stops once its news is out. */
  leave(id: string): void {
    const node = this.node(id);
    this.send(node, node.swim.leave(this.now));
    this.drain(node);
    this.reschedule(node);
  }

  /** Cut the cluster: members in different groups cannot reach each other; members in no group form one more. */
  partition(groups: string[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups?.set(id, i + 1)));
  }

  heal(): void {
    this.groups = null;
  }

  isUp(id: string): boolean {
    return this.node(id).up;
  }

  /** Direct access to a member's state machine (read its `members()`, `incarnation`, `stats()`). */
  swim(id: string): Swim {
    return this.node(id).swim;
  }

  /** What `observer` believes about `member` (undefined: never heard of it, or its tombstone expired). */
  view(observer: string, member: string): MemberState | undefined {
    return this.node(observer).swim.member(member)?.state;
  }

  /** Run every job up to and including time `until`. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.agenda.peek();
      if (!next || next.at > until) break;
      this.agenda.pop();
      this.now = next.at;
      this.perform(next.job);
    }
    this.now = Math.max(this.now, until);
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Run in steps of `step` ms until `done()` holds or `limit` ms pass; returns whether it held. */
  runUntilTrue(done: () => boolean, limit: number, step = this.config.probeInterval / 10): boolean {
    const end = this.now + limit;
    while (!done()) {
      if (this.now >= end) return false;
      this.runUntil(Math.min(end, this.now + step));
    }
    return true;
  }

  /** Every member up holds every other member up as alive, and every member down as not alive. */
  converged(): boolean {
    const up = [...this.nodes.values()].filter((n) => n.up);
    for (const a of up) {
      for (const b of this.nodes.values()) {
        if (a === b) continue;
        const s = a.swim.member(b.id)?.state;
        if (b.up ? s !== 'alive' : s === 'alive' || s === 'suspect') return false;
      }
    }
    return true;
  }

  // ---- driver --------------------------------------------------------------------------------

  private create(id: string, known: { id: string; address: string }[]): Node {
    const salt = Math.imul(this.created++ + 1, 0x9e3779b1);
    const swim = new Swim({ self: { id, address: addressOf(id) }, config: this.config, random: prng((this.seed ^ salt) >>> 0), members: known });
    const node: Node = { id, address: addressOf(id), swim, up: true, wakeAt: Infinity, wakeGen: 0 };
    this.nodes.set(id, node);
    this.byAddress.set(node.address, node);
    return node;
  }

  private join(id: string, seed: string): void {
    const node = this.node(id);
    this.send(node, node.swim.join(this.now, addressOf(seed)));
    this.drain(node);
    this.reschedule(node);
  }

  private node(id: string): Node {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`sim: no member ${id}`);
    return n;
  }

  private perform(job: Job): void {
    if (job.kind === 'tick') {
      const node = this.node(job.id);
      if (job.gen !== node.wakeGen) return;
      node.wakeAt = Infinity;
      if (!node.up) return;
      this.send(node, node.swim.tick(this.now));
      this.drain(node);
      this.reschedule(node);
      return;
    }
    const to = this.byAddress.get(job.to);
    const from = this.nodes.get(job.from);
    if (!to || !to.up || !from?.up || this.cut(from.id, to.id)) {
      this.counters.blocked++;
      return;
    }
    this.counters.delivered++;
    this.send(to, to.swim.receive(this.now, job.fromAddress, job.message));
    this.drain(to);
    this.reschedule(to);
  }

  private send(node: Node, out: { to: string; message: SwimMessage }[]): void {
    for (const o of out) {
      this.counters.sent++;
      let message: unknown = o.message;
      if (this.serialize) {
        const text = JSON.stringify(o.message);
        this.counters.bytes += text.length;
        message = JSON.parse(text);
      }
      if (this.loss > 0 && this.rng() < this.loss) {
        this.counters.lost++;
        continue;
      }
      const to = this.byAddress.get(o.to);
      if (to && this.cut(node.id, to.id)) {
        this.counters.blocked++;
        continue;
      }
      const { min, max } = this.latency;
      this.agenda.push(this.now + min + this.rng() * (max - min), { kind: 'deliver', from: node.id, fromAddress: node.address, to: o.to, message });
    }
  }

  private cut(a: string, b: string): boolean {
    if (!this.groups) return false;
    return (this.groups.get(a) ?? 0) !== (this.groups.get(b) ?? 0);
  }

  private drain(node: Node): void {
    for (const event of node.swim.takeEvents()) this.log.push({ at: this.now, observer: node.id, event });
  }

  private reschedule(node: Node): void {
    if (!node.up) return;
    const at = Math.max(this.now, node.swim.nextDeadline());
    if (at >= node.wakeAt) return;
    node.wakeAt = at;
    node.wakeGen = ++this.gens;
    this.agenda.push(at, { kind: 'tick', id: node.id, gen: node.wakeGen });
  }
}

export function addressOf(id: string): string {
  return `sim://${id}`;
}
