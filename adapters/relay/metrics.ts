/**
 * Prometheus metrics of one relay, in its own prom-client Registry (never the global one), so several
 * relays in one process (tests, embedding apps) keep separate figures. Served as text on `/metrics`.
 *
 * Messages are classified by their first byte (the protocol's message type) without decoding them;
 * a "sync round" is a HELLO or SYNC message received: each starts a catch-up or anti-entropy decision.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { MsgType } from '../../lib/sync/messages.js';

const TYPE_NAMES: Record<number, string> = {
  [MsgType.Hello]: 'hello',
  [MsgType.Sync]: 'sync',
  [MsgType.Changes]: 'changes',
  [MsgType.Ack]: 'ack',
  [MsgType.AntiEntropy]: 'anti_entropy',
  [MsgType.Denied]: 'denied',
  [MsgType.Grant]: 'grant',
  [MsgType.Presence]: 'presence',
  [MsgType.Cluster]: 'cluster',
  // A LIVE frame is a CHANGES frame of one entry, in the compact form.
  [MsgType.Live]: 'changes',
  [MsgType.LiveCleared]: 'changes',
  [MsgType.Need]: 'need',
};

/** Where a text frame and an empty binary frame are counted (any other by its first byte, 0..255). */
const TEXT = 256;
const EMPTY = 257;
const slot = (frame: Uint8Array | string): number => (typeof frame === 'string' ? TEXT : (frame[0] ?? EMPTY));

export class RelayMetrics {
  readonly registry = new Registry();
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly messages: Counter<'direction' | 'type'>;
  readonly bytes: Counter<'direction'>;
  readonly syncRounds: Counter;
  readonly errors: Counter<'reason'>;
  readonly closes: Counter<'code'>;

  constructor(countSpaces: () => Promise<number>) {
    const registers = [this.registry];
    this.connections = new Gauge({ name: 'concord_relay_connections', help: 'Open WebSocket connections', registers });
    this.connectionsTotal = new Counter({ name: 'concord_relay_connections_total', help: 'WebSocket connections accepted', registers });
    new Gauge({
      name: 'concord_relay_spaces',
      help: 'Spaces holding at least one key on this relay',
      registers,
      async collect() {
        this.set(await countSpaces());
      },
    });
    const fold = () => this.fold();
    this.messages = new Counter({
      name: 'concord_relay_messages_total',
      help: 'Protocol messages by direction (in, out) and type',
      labelNames: ['direction', 'type'] as const,
      registers,
      collect: fold,
    });
    this.bytes = new Counter({
      name: 'concord_relay_bytes_total',
      help: 'WebSocket payload bytes by direction (in, out)',
      labelNames: ['direction'] as const,
      registers,
      collect: fold,
    });
    this.syncRounds = new Counter({ name: 'concord_relay_sync_rounds_total', help: 'HELLO and SYNC messages received (each starts a catch-up or anti-entropy)', registers, collect: fold });
    this.errors = new Counter({
      name: 'concord_relay_errors_total',
      help: 'Errors by reason (protocol, unauthorized, forbidden, rate_limited, slow_consumer, too_large, auth_timeout, internal, ...)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.closes = new Counter({ name: 'concord_relay_closes_total', help: 'Connections closed, by close code', labelNames: ['code'] as const, registers });
    new Gauge({
      name: 'concord_relay_process_memory_bytes',
      help: 'Memory of the relay process (rss, heapUsed, external, arrayBuffers)',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const m = process.memoryUsage();
        this.set({ kind: 'rss' }, m.rss);
        this.set({ kind: 'heapUsed' }, m.heapUsed);
        this.set({ kind: 'external' }, m.external);
        this.set({ kind: 'arrayBuffers' }, m.arrayBuffers);
      },
    });
  }

  /** A gauge read when scraped (counts the relay exposes: clocks, indexes, presence). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * Frames counted since the last scrape, per direction by first byte (TEXT: a text frame), and their bytes: counting a
   * frame is two additions (it runs for every frame, a hundred times for a write fanned out to a hundred clients). The
   * counters take them when read (`fold`, their collect), so a scrape shows every frame counted before it.
   */
  private readonly pending = { in: new Float64Array(EMPTY + 1), out: new Float64Array(EMPTY + 1), inBytes: 0, outBytes: 0 };

  private fold(): void {
    const p = this.pending;
    for (const direction of ['in', 'out'] as const) {
      const counts = p[direction];
      for (let b = 0; b <= EMPTY; b++) {
        const n = counts[b]!;
        if (n === 0) continue;
        counts[b] = 0;
        this.messages.inc({ direction, type: b === TEXT ? 'text' : (TYPE_NAMES[b] ?? 'unknown') }, n);
        if (direction === 'in' && (b === MsgType.Hello || b === MsgType.Sync)) this.syncRounds.inc(n);
      }
    }
    if (p.inBytes > 0) this.bytes.inc({ direction: 'in' }, p.inBytes);
    if (p.outBytes > 0) this.bytes.inc({ direction: 'out' }, p.outBytes);
    p.inBytes = p.outBytes = 0;
  }

  inbound(frame: Uint8Array | string, bytes: number): void {
    this.pending.in[slot(frame)]!++;
    this.pending.inBytes += bytes;
  }

  outbound(frame: Uint8Array | string, bytes: number): void {
    this.pending.out[slot(frame)]!++;
    this.pending.outBytes += bytes;
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A close code's reason label for the errors counter (codes below 4000 are not errors). */
export function closeReason(code: number): string | undefined {
  switch (code) {
    case 4400: return 'protocol';
    case 4401: return 'unauthorized';
    case 4403: return 'forbidden';
    case 4408: return 'auth_timeout';
    case 4413: return 'too_large';
    case 4426: return 'version_mismatch';
    case 4429: return 'rate_limited';
    case 4430: return 'slow_consumer';
    case 4500: return 'internal';
    case 1009: return 'too_large';
    default: return undefined;
  }
}
