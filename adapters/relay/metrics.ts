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

export function messageType(frame: Uint8Array | string): string {
  if (typeof frame === 'string') return 'text';
  return TYPE_NAMES[frame[0] ?? -1] ?? 'unknown';
}

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
    this.messages = new Counter({
      name: 'concord_relay_messages_total',
      help: 'Protocol messages by direction (in, out) and type',
      labelNames: ['direction', 'type'] as const,
      registers,
    });
    this.bytes = new Counter({
      name: 'concord_relay_bytes_total',
      help: 'WebSocket payload bytes by direction (in, out)',
      labelNames: ['direction'] as const,
      registers,
    });
    this.syncRounds = new Counter({ name: 'concord_relay_sync_rounds_total', help: 'HELLO and SYNC messages received (each starts a catch-up or anti-entropy)', registers });
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

  /** Label children bound once: counting a frame is then two additions (it runs for every frame). */
  private readonly bound = new Map<string, { inc(n?: number): void }>();

  private child(direction: 'in' | 'out', type: string): { inc(n?: number): void } {
    const k = direction + type;
    let c = this.bound.get(k);
    if (!c) this.bound.set(k, (c = this.messages.labels({ direction, type })));
    return c;
  }

  private readonly bytesIn = () => this.bytes.labels({ direction: 'in' });
  private readonly bytesOut = () => this.bytes.labels({ direction: 'out' });
  private boundBytes?: { in: { inc(n?: number): void }; out: { inc(n?: number): void } };

  private get byteCounters() {
    return (this.boundBytes ??= { in: this.bytesIn(), out: this.bytesOut() });
  }

  inbound(frame: Uint8Array | string, bytes: number): void {
    const type = messageType(frame);
    this.child('in', type).inc();
    this.byteCounters.in.inc(bytes);
    if (type === 'hello' || type === 'sync') this.syncRounds.inc();
  }

  outbound(frame: Uint8Array | string, bytes: number): void {
    this.child('out', messageType(frame)).inc();
    this.byteCounters.out.inc(bytes);
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
