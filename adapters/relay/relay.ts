/**
 * `createRelay(options)`: a Node replica with (file) storage and a WebSocket server. Clients sync through
 * it; it keeps their spaces while they are offline and forwards live writes to the space's other sessions
 * (the engine's hub does that). A write is acknowledged only after the join transaction that stored it
 * is durable (the engine acks after the transaction resolves).
 *
 * Security: with a `secret`, every connection authenticates with a token (token.ts) in its hello; without
 * one, the relay grants every right and so refuses to listen on anything but loopback. The Origin allowlist
 * is checked at the upgrade (403), connection count beyond `maxConnections` gets 503, frames beyond
 * `maxPayload` close with 1009 (ws), and socket.ts enforces hello deadline, rate limits, backpressure
 * and heartbeats. `close()` stops accepting, closes every socket with 1001, then closes the replica.
 *
 * Cluster (cluster.ts): every relay runs SWIM membership on `POST /cluster` and keeps a sync link to each
 * live member; `join` names seed relays. Relay-to-relay traffic authenticates with a relay token signed by
 * the same secret. Clients are told the live relays' URLs (for failover) and replication counts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConcordError } from '../../lib/errors.js';
import { lanConfig, type MemberInfo, type SwimConfig } from '../../lib/membership/index.js';
import { ClusterDriver, type MemberEvent } from './cluster.js';
import { openReplica, type Replica } from '../../lib/replica.js';
import type { StorageAdapter } from '../../lib/storage.js';
import type { MergeTable } from '../../lib/types.js';
import { handleHttp } from './http.js';
import { DEFAULT_RATE_LIMIT, type RateLimit } from './limits.js';
import { createLogger, type LogOption } from './log.js';
import { RelayMetrics } from './metrics.js';
import { isLoopbackHost, originCheck } from './origins.js';
import { serveSocket, type ServedSocket, type SocketPolicy } from './socket.js';
import { defaultStorage, type StorageFactory } from './storage.js';
import { checkSecret, grantsOf, OPEN_GRANTS, verifyToken, type Secret } from './token.js';

export interface RelayOptions {
  /** TCP port (default 8787); 0 picks a free one (`relay.port` tells it). */
  port?: number;
  /** Address to listen on (default '127.0.0.1'). Without a secret only loopback is allowed. */
  host?: string;
  /** Where the relay keeps its data (file storage); absent: in memory. */
  dataDir?: string;
  /** Signs client tokens (createToken). Without it: loopback only, every right, no token needed. */
  secret?: Secret;
  /** Origins allowed to connect from a browser ('*' = any). Default: any with a secret, loopback without. */
  origins?: string[];
  /** Seed relays (ws:// URLs) to join as a cluster; one reachable seed is enough. */
  join?: string[];
  /** The URL other relays and clients reach this relay at (default `ws://host:port`). */
  publicUrl?: string;
  /** SWIM settings (default lanConfig(); tests pass localConfig()). */
  cluster?: SwimConfig;
  /** Reconnect backoff of relay-to-relay links in ms (default 250 to 5 000). */
  clusterBackoff?: { base: number; max: number };
  /** Largest inbound frame in bytes (default 4 MiB); larger ones close the connection with 1009. */
  maxPayload?: number;
  /** Per-connection inbound limits; false turns them off. */
  rateLimit?: Partial<RateLimit> | false;
  /** Deadline for a connection's hello, in ms (default 10 000; then close 4408). */
  helloTimeoutMs?: number;
  /** Ping period in ms (default 30 000; a socket missing a whole period's pong is dropped; 0 = off). */
  heartbeatMs?: number;
  /** Outbound bytes a socket may have buffered (default 8 MiB) for at most `slowConsumerMs` (default 10 000). */
  highWaterBytes?: number;
  slowConsumerMs?: number;
  /** Open connections beyond this are refused at the upgrade with 503 (default 10 000). */
  maxConnections?: number;
  /** Serve files from this directory on other paths (the demo app). */
  staticDir?: string;
  /** JSON lines to stdout (default), false to silence, or a function receiving each entry. */
  log?: LogOption;
  /** Storage: an adapter, or a factory given `dataDir` (default: file storage in dataDir, else memory). */
  storage?: StorageAdapter | StorageFactory;
  merge?: MergeTable;
  maxValueBytes?: number;
  /** Milliseconds a tombstone is kept before the relay collects it (default 30 days). */
  gcGrace?: number;
  now?: () => number;
}

export interface Relay {
  readonly port: number;
  readonly host: string;
  /** ws://host:port */
  readonly url: string;
  readonly replica: Replica;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Prometheus text, as served on /metrics. */
  metrics(): Promise<string>;
  /** Cluster members this relay knows (itself included; dead and left ones while their tombstones last). */
  members(): MemberInfo[];
  /** Membership events (joined, suspect, alive, dead, left, updated); returns the unsubscribe function. */
  on(type: 'member', listener: (e: MemberEvent) => void, options?: { signal?: AbortSignal }): () => void;
  /**
   * Stops accepting, closes every connection with 1001, closes the replica. Idempotent. The cluster is told
   * this relay left, unless `leave: false` (then it goes silent and the others find it dead, as after a crash).
   */
  close(options?: { leave?: boolean }): Promise<void>;
}

const DEFAULT_PORT = 8787;

function answer(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

export async function createRelay(options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? '127.0.0.1';
  const log = createLogger(options.log);
  const now = options.now ?? Date.now;
  const secret = options.secret;
  if (secret !== undefined) checkSecret(secret);
  else if (!isLoopbackHost(host)) {
    throw new ConcordError('INVALID_OPTION', `refusing to serve ${host} without a secret: anyone could read and write every space. Pass a secret (--secret or CONCORD_SECRET), or listen on 127.0.0.1`);
  }
  const maxPayload = options.maxPayload ?? 4 * 1024 * 1024;
  const policy: SocketPolicy = {
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    highWaterBytes: options.highWaterBytes ?? 8 * 1024 * 1024,
    slowConsumerMs: options.slowConsumerMs ?? 10_000,
    maxPayload,
    rateLimit: options.rateLimit === false ? false : { ...DEFAULT_RATE_LIMIT, ...options.rateLimit },
  };
  const maxConnections = options.maxConnections ?? 10_000;

  const storage =
    options.storage && typeof options.storage !== 'function' ? options.storage : await (options.storage ?? defaultStorage)(options.dataDir);
  const replica = await openReplica({
    storage,
    ...(options.merge ? { merge: options.merge } : {}),
    ...(options.maxValueBytes ? { maxValueBytes: options.maxValueBytes } : {}),
    // A relay collects tombstones after the grace period and refuses to let a peer resurrect them.
    collectTombstones: true,
    ...(options.gcGrace !== undefined ? { gcGrace: options.gcGrace } : {}),
    now,
  });
  const metrics = new RelayMetrics(async () => (await storage.spaces()).length);
  replica.on('error', (e) => {
    metrics.errors.inc({ reason: 'replica' });
    log('warn', 'replica error', { error: e instanceof Error ? e.message : String(e) });
  });

  const authenticate =
    secret === undefined
      ? () => OPEN_GRANTS
      : (token: string) => {
          const claims = verifyToken(secret, token, { now: now() });
          return claims.relay ? { ...grantsOf(claims), relay: true } : grantsOf(claims);
        };
  const originAllowed = originCheck(options.origins, secret === undefined);
  const served = new Set<ServedSocket>();
  let listening = false;
  let closing: Promise<void> | undefined;

  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
  let cluster: ClusterDriver | undefined;
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/cluster') {
      if (cluster && !closing) return cluster.handleHttp(req, res);
      res.writeHead(503).end();
      return;
    }
    void handleHttp({ ready: () => listening && !closing, metrics, ...(options.staticDir ? { staticDir: options.staticDir } : {}) }, req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (closing) return answer(socket, 503, 'Service Unavailable');
    if (served.size >= maxConnections) {
      metrics.errors.inc({ reason: 'too_many_connections' });
      return answer(socket, 503, 'Service Unavailable');
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin)) {
      metrics.errors.inc({ reason: 'origin' });
      log('info', 'origin refused', { remote, origin });
      return answer(socket, 403, 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closing) return ws.close(1001, 'relay shutting down');
      const s = serveSocket(ws, remote, {
        replica,
        authenticate,
        metrics,
        log,
        policy,
        now,
        onStored: (sock, space, upTo, localSeq) => cluster?.stored(sock, space, upTo, localSeq),
      });
      served.add(s);
      if (cluster) s.sendCluster(cluster.relaysNews());
      void s.closed.then(() => {
        served.delete(s);
        cluster?.forget(s);
      });
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (e) => {
    await replica.close();
    throw e;
  });
  listening = true;
  const port = (server.address() as AddressInfo).port;

  const sweeper = setInterval(() => {
    const t = now();
    for (const s of served) s.sweep(t);
  }, Math.max(50, Math.min(1000, Math.floor(policy.slowConsumerMs / 2))));
  sweeper.unref();
  const heart = policy.heartbeatMs > 0 ? setInterval(() => served.forEach((s) => s.heartbeat()), policy.heartbeatMs) : undefined;
  heart?.unref();

  const shownHost = host.includes(':') ? `[${host}]` : host;
  log('info', 'relay listening', {
    host,
    port,
    url: `ws://${shownHost}:${port}`,
    auth: secret === undefined ? 'none: no secret, loopback only, every client may read and write every space' : 'token',
    dataDir: options.dataDir ?? null,
  });
  const publicUrl = options.publicUrl ?? `ws://${shownHost}:${port}`;
  cluster = new ClusterDriver({
    replica,
    address: publicUrl,
    seeds: options.join ?? [],
    secret,
    config: options.cluster ?? lanConfig(),
    now,
    random: Math.random,
    log,
    metrics,
    clients: () => served,
    linkBackoff: options.clusterBackoff ?? { base: 250, max: 5000 },
    linkHeartbeatMs: policy.heartbeatMs > 0 ? Math.min(policy.heartbeatMs, 15_000) : 0,
  });
  cluster.events.on('error', (e) => log('warn', 'cluster error', { error: e instanceof Error ? e.message : String(e) }));
  await cluster.start();
  if (options.join?.length) log('info', 'joining cluster', { join: options.join, url: publicUrl });

  const shutdown = async (leave: boolean): Promise<void> => {
    await cluster?.close(leave);
    clearInterval(sweeper);
    if (heart) clearInterval(heart);
    const serverClosed = new Promise<void>((r) => server.close(() => r()));
    for (const s of served) s.close(1001, 'relay shutting down');
    const all = Promise.all([...served].map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    for (const s of served) s.terminate();
    await replica.close();
    server.closeAllConnections();
    await serverClosed;
    listening = false;
    log('info', 'relay closed', { port });
  };

  return {
    port,
    host,
    url: `ws://${shownHost}:${port}`,
    replica,
    get connections() {
      return served.size;
    },
    metrics: async () => (await metrics.text()).body,
    members: () => cluster?.members() ?? [],
    on: (type, listener, opts) => cluster!.events.on(type, listener, opts),
    close: (opts) => (closing ??= shutdown(opts?.leave ?? true)),
  };
}
