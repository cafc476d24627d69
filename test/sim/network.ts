/**
 * A seeded simulated network between named replicas, on virtual time (see clock.ts).
 *
 * `net.edge('a', 'b')` gives two Transports, one for each end; like `pairTransports`, each end's `open()`
 * waits for the other end's, then both get one connection. Faults stay inside the Transport contract
 * (frames arrive in order, whole, at most once per send on a live connection), so they are modelled where
 * real networks put them:
 *
 *   delay      every frame arrives after a random virtual latency, FIFO per direction; deliveries on
 *              different connections interleave in any order (reordering across links)
 *   drop       `drop(a, b)` / `crash(node)`: the connection dies; each direction delivers a random prefix of
 *              what is in flight and loses the rest, then both ends see the close. A frame delivered whose
 *              ACK was lost is sent again after the reconnect: duplication across reconnects
 *   relay      `serverEdge('a', 'hub')`: the hub accepts (`replica.accept`) instead of dialing
 *   partition  `partition(['a', 'b'])`: connections across the cut drop, and opens across it are refused
 *              (after a virtual connect timeout) until `heal()`
 *   isolate    `isolate('a')`: a single node is cut off from every other (independent of the partition)
 *              until `rejoin('a')`; `heal()` ends both
 *
 * Every frame is checked against its connection's frame limit (`maxFrameBytes`, or an edge's own: `edgeFrameBytes`),
 * when set, and counted per sending end.
 */
import type { Connection, ConnectionHandlers, Frame, Transport } from '../../lib/transport.js';
import type { Rng, VirtualClock } from './clock.js';

export interface NetworkOptions {
  clock: VirtualClock;
  rng: Rng;
  /** One-way latency range in virtual ms (default 1–20). */
  latency?: { min: number; max: number };
  /** One-way latency range of one edge (by its ends' names), overriding `latency` where given. */
  edgeLatency?: (a: string, b: string) => { min: number; max: number } | undefined;
  /** A refused open rejects after this many virtual ms (default 200). */
  connectTimeout?: number;
  /** Largest frame a connection carries; larger sends are recorded as violations. */
  maxFrameBytes?: number;
  /** The frame limit of one edge's connections (by its ends' names), below `maxFrameBytes` where given. */
  edgeFrameBytes?: (a: string, b: string) => number | undefined;
  /**
   * Sees every frame sent on a live connection (to decode and count message types in a test). `channel` tells apart
   * edges joining the same two nodes: '' for the first, the spare's own name for the others (`edge`, `serverEdge`).
   */
  tap?: (from: string, to: string, frame: Frame, channel: string) => void;
  /** Sees every frame delivered, with the virtual time it was sent at (just before the receiving end handles it). */
  delivered?: (from: string, to: string, frame: Frame, sentAt: number) => void;
}

export interface EndStats {
  frames: number;
  bytes: number;
  /** Connections this end saw opened. */
  connections: number;
}

export interface SimTransport extends Transport {
  readonly stats: EndStats;
}

interface Waiter {
  handlers: ConnectionHandlers;
  resolve: (c: Connection) => void;
  reject: (e: Error) => void;
}

interface InFlight {
  frame: Frame;
  timer: unknown;
  sentAt: number;
}

class Wire {
  dead = false;
  /** Per receiving end: frames scheduled and not yet delivered, and the last scheduled arrival time. */
  readonly inflight: [InFlight[], InFlight[]] = [[], []];
  readonly lastAt: [number, number] = [0, 0];
  /** Per end: its close is scheduled / was delivered (onClose is called once). */
  readonly closing: [boolean, boolean] = [false, false];
  readonly closed: [boolean, boolean] = [false, false];
  constructor(
    readonly edge: Edge,
    public handlers: [ConnectionHandlers, ConnectionHandlers],
  ) {}
}

class Edge {
  readonly waiting: [Waiter | undefined, Waiter | undefined] = [undefined, undefined];
  wire: Wire | undefined;
  readonly stats: [EndStats, EndStats] = [
    { frames: 0, bytes: 0, connections: 0 },
    { frames: 0, bytes: 0, connections: 0 },
  ];
  constructor(
    readonly ends: [string, string],
    /** End 1 accepts connections (a relay) rather than dialing. */
    readonly served = false,
    /** Tells this edge from others joining the same two nodes ('' for the first). */
    readonly channel = '',
  ) {}
}

/** A listening end (a relay): gets the server side of each incoming connection and the dialing node's name, returns its handlers. */
export type Acceptor = (connection: Connection, from: string) => ConnectionHandlers;

export class SimNetwork {
  private readonly edges: Edge[] = [];
  private readonly cut = new Set<string>();
  private readonly isolated = new Set<string>();
  private readonly acceptors = new Map<string, Acceptor>();
  private cutActive = false;
  private inflightCount = 0;
  readonly violations: string[] = [];
  /** The largest frame sent so far. */
  maxFrameSeen = 0;

  constructor(private readonly options: NetworkOptions) {}

  private get clock(): VirtualClock {
    return this.options.clock;
  }

  /** Frames sent on live connections and not yet delivered, and closes not yet seen. */
  get inFlight(): number {
    return this.inflightCount;
  }

  /** Two transports joining `a` and `b`: the first for `a`'s replica, the second for `b`'s (`channel`: see `tap`). */
  edge(a: string, b: string, channel = ''): [SimTransport, SimTransport] {
    const e = new Edge([a, b], false, channel);
    this.edges.push(e);
    return [this.transport(e, 0), this.transport(e, 1)];
  }

  /**
   * An edge where `client` dials and `server` accepts (a relay): returns the client's transport. The
   * server takes connections while `serve(server, acceptor)` is installed; otherwise opens are refused.
   */
  serverEdge(client: string, server: string, channel = ''): SimTransport {
    const e = new Edge([client, server], true, channel);
    this.edges.push(e);
    return this.transport(e, 0);
  }

  /** Installs (or, with undefined, removes) the acceptor of a listening node. */
  serve(node: string, acceptor: Acceptor | undefined): void {
    if (acceptor) this.acceptors.set(node, acceptor);
    else this.acceptors.delete(node);
  }

  /** Cuts the nodes in `side` off from every other node: live connections across drop. */
  partition(side: readonly string[]): void {
    this.cut.clear();
    for (const n of side) this.cut.add(n);
    this.cutActive = true;
    for (const e of this.edges) if (this.isCut(e)) this.fail(e);
  }

  heal(): void {
    this.cut.clear();
    this.cutActive = false;
    this.isolated.clear();
  }

  /** Cuts one node off from every other (beside any partition): its live connections drop. */
  isolate(node: string): void {
    this.isolated.add(node);
    for (const e of this.edges) if (this.isCut(e)) this.fail(e);
  }

  rejoin(node: string): void {
    this.isolated.delete(node);
  }

  isCut(e: Edge): boolean {
    if (this.isolated.has(e.ends[0]) || this.isolated.has(e.ends[1])) return true;
    return this.cutActive && this.cut.has(e.ends[0]) !== this.cut.has(e.ends[1]);
  }

  /** Drops the live connection between `a` and `b`, if any. */
  drop(a: string, b: string): void {
    for (const e of this.edges) if (e.ends.includes(a) && e.ends.includes(b)) this.fail(e);
  }

  /** A node's process dies: all its connections drop at once. */
  crash(node: string): void {
    for (const e of this.edges) if (e.ends.includes(node)) this.fail(e);
  }

  /** Names of the edges with a live connection. */
  liveEdges(): string[] {
    return this.edges.filter((e) => e.wire && !e.wire.dead).map((e) => e.ends.join('-'));
  }

  private latency(e?: Edge): number {
    const { min, max } = (e && this.options.edgeLatency?.(e.ends[0], e.ends[1])) ?? this.options.latency ?? { min: 1, max: 20 };
    return this.options.rng.int(min, max);
  }

  private transport(e: Edge, me: 0 | 1): SimTransport {
    return {
      label: `sim:${e.ends[me]}->${e.ends[1 - me]}`,
      stats: e.stats[me],
      open: (handlers) =>
        new Promise<Connection>((resolve, reject) => {
          // A second open from the same end (a restarted replica's new link) replaces the first.
          e.waiting[me]?.reject(new Error('superseded by a newer open'));
          e.waiting[me] = undefined;
          const acceptor = e.served ? this.acceptors.get(e.ends[1]) : undefined;
          if (this.isCut(e) || (e.served && !acceptor)) {
            const why = this.isCut(e) ? 'partitioned' : 'not listening';
            this.clock.setTimeout(() => reject(new Error(`${e.ends[1 - me]} unreachable (${why})`)), this.options.connectTimeout ?? 200);
            return;
          }
          if (acceptor) {
            if (e.wire && !e.wire.dead) this.fail(e);
            const wire = new Wire(e, [handlers, handlers]);
            e.wire = wire;
            e.stats[0].connections++;
            e.stats[1].connections++;
            wire.handlers[1] = acceptor(this.connection(wire, 1), e.ends[0]);
            resolve(this.connection(wire, 0));
            return;
          }
          e.waiting[me] = { handlers, resolve, reject };
          this.tryConnect(e);
        }),
    };
  }

  private tryConnect(e: Edge): void {
    const [a, b] = e.waiting;
    if (!a || !b) return;
    e.waiting[0] = e.waiting[1] = undefined;
    if (e.wire && !e.wire.dead) this.fail(e);
    const wire = new Wire(e, [a.handlers, b.handlers]);
    e.wire = wire;
    e.stats[0].connections++;
    e.stats[1].connections++;
    a.resolve(this.connection(wire, 0));
    b.resolve(this.connection(wire, 1));
  }

  private connection(w: Wire, me: 0 | 1): Connection {
    const other: 0 | 1 = me === 0 ? 1 : 0;
    const edgeMax = this.options.edgeFrameBytes?.(w.edge.ends[0], w.edge.ends[1]);
    const max = edgeMax === undefined ? this.options.maxFrameBytes : Math.min(edgeMax, this.options.maxFrameBytes ?? edgeMax);
    return {
      send: (frame) => {
        if (w.dead) return;
        const size = typeof frame === 'string' ? frame.length : frame.byteLength;
        w.edge.stats[me].frames++;
        w.edge.stats[me].bytes += size;
        if (size > this.maxFrameSeen) this.maxFrameSeen = size;
        if (max !== undefined && size > max) this.violations.push(`${w.edge.ends[me]} sent a frame of ${size} bytes (limit ${max})`);
        this.options.tap?.(w.edge.ends[me], w.edge.ends[other], frame, w.edge.channel);
        this.schedule(w, other, frame);
      },
      close: (code = 1000, reason = '') => {
        if (w.dead) return;
        w.dead = true;
        // An orderly close: the peer gets what was sent, then the close; our own end stops receiving.
        this.discard(w, me, 0);
        this.scheduleClose(w, other, code, reason);
        this.scheduleClose(w, me, code, reason);
      },
      bufferedAmount: 0,
      ...(max !== undefined ? { maxFrameBytes: max } : {}),
    };
  }

  /** The network loses the connection: each direction keeps a random prefix of what is in flight. */
  private fail(e: Edge): void {
    for (const side of [0, 1] as const) {
      const waiter = e.waiting[side];
      if (waiter && this.isCut(e)) {
        e.waiting[side] = undefined;
        waiter.reject(new Error('partitioned'));
      }
    }
    const w = e.wire;
    if (!w || w.dead) return;
    w.dead = true;
    for (const to of [0, 1] as const) {
      this.discard(w, to, this.options.rng.int(0, w.inflight[to].length));
      this.scheduleClose(w, to, 1006, 'connection lost');
    }
  }

  /** Keeps the first `keep` frames in flight to end `to`, and loses the rest. */
  private discard(w: Wire, to: 0 | 1, keep: number): void {
    const q = w.inflight[to];
    for (const f of q.splice(keep)) {
      this.clock.clearTimeout(f.timer);
      this.inflightCount--;
    }
  }

  private arrival(w: Wire, to: 0 | 1): number {
    const at = Math.max(w.lastAt[to], this.clock.now() + this.latency(w.edge));
    w.lastAt[to] = at;
    return at;
  }

  private schedule(w: Wire, to: 0 | 1, frame: Frame): void {
    const item: InFlight = { frame, timer: undefined, sentAt: this.clock.now() };
    item.timer = this.clock.setTimeout(() => {
      const q = w.inflight[to];
      if (q[0] !== item) throw new Error('simulated network delivered out of order');
      q.shift();
      this.inflightCount--;
      if (w.closed[to]) return;
      this.options.delivered?.(w.edge.ends[to === 0 ? 1 : 0], w.edge.ends[to], frame, item.sentAt);
      w.handlers[to].onMessage(frame);
    }, this.arrival(w, to) - this.clock.now());
    w.inflight[to].push(item);
    this.inflightCount++;
  }

  private scheduleClose(w: Wire, to: 0 | 1, code: number, reason: string): void {
    if (w.closing[to]) return;
    w.closing[to] = true;
    this.inflightCount++;
    const at = Math.max(w.lastAt[to], this.clock.now());
    w.lastAt[to] = at;
    this.clock.setTimeout(() => {
      this.inflightCount--;
      w.closed[to] = true;
      // Frames kept in flight before the close are still delivered first (they are earlier in time order).
      w.handlers[to].onClose(code, reason);
    }, at - this.clock.now());
  }
}
