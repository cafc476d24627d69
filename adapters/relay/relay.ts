/**
 * `createRelay(options)`: a Node replica with (file) storage and a WebSocket server. Clients sync through
 * it; it keeps their spaces while they are offline and forwards live writes to the space's other sessions
 * (the engine's hub does that). A write is acknowledged only after the join transaction that stored it
 * is durable (the engine acks after the transaction resolves).
 *
 * Security (SECURITY.md has the threat model and every limit): with a `secret`, every connection
 * authenticates with a token (token.ts) in its hello; without one, the relay grants every right and so
 * refuses to listen on anything but loopback, answers only loopback Host names and origins (gate.ts: DNS
 * rebinding, cross-origin requests) and does not cluster. Every HTTP request and upgrade passes the gate
 * first; HTTP has header/request/keep-alive timeouts; per client IP, open connections and unauthenticated
 * WebSockets are capped (ip-limits.ts: 429); connections beyond `maxConnections` get 503; frames beyond
 * `maxPayload` close with 1009 (ws); socket.ts enforces the hello deadline, token expiry, rate limits,
 * spaces per connection, inbound and outbound backpressure and heartbeats. `close()` stops accepting,
 * closes every socket with 1001, then closes the replica.
 *
 * Cluster (cluster.ts), for relays with a secret: every relay runs SWIM membership on `POST /cluster` and
 * keeps a sync link to each live member; `join` names seed relays. Relay-to-relay traffic authenticates with
 * relay tokens signed by the cluster secret — `clusterSecret`, which no client secret may equal, or else one
 * derived from the client secret (secrets.ts; logged as a warning when the relay clusters on it). Either way
 * a client token never grants relay powers. Clients are told the live relays' URLs (for failover) and
 * replication counts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConcordError } from '../../lib/errors.js';
import { lanConfig, type MemberInfo } from '../../lib/membership/index.js';
import { ClusterDriver, type MemberEvent } from './cluster.js';
import { openReplica, type Replica } from '../../lib/replica.js';
import { parseDuration } from './duration.js';
import { Gate, statusRefusal, type Refusal } from './gate.js';
import { handleHttp } from './http.js';
import { clientIp, DEFAULT_IP_CAPS, IpCounter } from './ip-limits.js';
import { DEFAULT_RATE_LIMIT } from './limits.js';
import { pieceBounds } from '../ws/sockets.js';
import { createLogger } from './log.js';
import { RelayMetrics } from './metrics.js';
import { isLoopbackHost, originCheck } from './origins.js';
import { DEFAULT_HTTP_TIMEOUTS, DEFAULT_MAX_INBOUND_BYTES, DEFAULT_MAX_SPACES_PER_CONNECTION, frameLimits, type RelayOptions } from './relay-options.js';
import { checkDisjoint, DEFAULT_SECRET_GRACE_MS, derivedClusterSecrets, secretRing, type SecretRing } from './secrets.js';
import { serveSocket, type ServedSocket, type SocketPolicy } from './socket.js';
import { loadValueTypes } from './value-types.js';
import { Emitter } from '../../lib/events.js';
import { Session } from '../../lib/sync/session.js';
import { defaultStorage } from './storage.js';
import { grantsOf, OPEN_GRANTS, verifyToken } from './token.js';

export type { RelayOptions } from './relay-options.js';

/** Versions a relay stored from one connection's frame, and who delivered them. */
export interface Delivery {
  readonly space: string;
  readonly key: string;
  /** The versions this delivery added to the key (a dot each), and whether each is a delete. */
  readonly versions: ReadonlyArray<{ replicaId: string; counter: number; deleted: boolean }>;
  /** The delivering session: its replicaId, its token's `sub` (absent without one), and whether it is a relay of the cluster. */
  readonly from: { replicaId: string; principal?: string; relay: boolean };
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
   * Versions this relay stored from a connection, with who delivered them: the session's replicaId and its
   * token's `sub` (a version under another replica's id may have been forwarded, or forged — this says who
   * brought it). Emitted only while someone listens.
   */
  on(type: 'delivery', listener: (e: Delivery) => void, options?: { signal?: AbortSignal }): () => void;
  /**
   * Stops accepting, closes every connection with 1001, closes the replica. Idempotent. The cluster is told
   * this relay left, unless `leave: false` (then it goes silent and the others find it dead, as after a crash).
   */
  close(options?: { leave?: boolean }): Promise<void>;
}

const DEFAULT_PORT = 8787;

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' };

function answer(socket: Duplex, status: number, text: string = STATUS_TEXT[status] ?? 'Refused'): void {
  const body = text.replace(/[^\x20-\x7e]/g, '?');
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}

export async function createRelay(options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? '127.0.0.1';
  const log = createLogger(options.log);
  const now = options.now ?? Date.now;
  const startedAt = now();
  const open = options.secret === undefined;
  if (open && !isLoopbackHost(host)) {
    throw new ConcordError('INVALID_OPTION', `refusing to serve ${host} without a secret: anyone could read and write every space. Pass a secret (--secret-file, CONCORD_SECRET), or listen on 127.0.0.1`);
  }
  if (open && (options.clusterSecret !== undefined || options.join?.length)) {
    throw new ConcordError('INVALID_OPTION', 'a relay without a secret does not cluster: give it a secret (client tokens) and a cluster secret (relay-to-relay)');
  }
  const deltaTypes = await loadValueTypes();
  const graceMs = options.secretGrace === undefined ? DEFAULT_SECRET_GRACE_MS : parseDuration(options.secretGrace, 'secretGrace') * 1000;
  const clientRing: SecretRing | undefined = open ? undefined : secretRing(options.secret!, 'secret', startedAt, graceMs);
  const derived = !open && options.clusterSecret === undefined;
  const clusterRing: SecretRing | undefined = open ? undefined : secretRing(options.clusterSecret ?? derivedClusterSecrets(options.secret!), 'clusterSecret', startedAt, graceMs);
  if (options.clusterSecret !== undefined) checkDisjoint(options.secret!, options.clusterSecret);
  const { maxPayload, maxValueBytes } = frameLimits(options);
  const policy: SocketPolicy = {
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    highWaterBytes: options.highWaterBytes ?? 8 * 1024 * 1024,
    slowConsumerMs: options.slowConsumerMs ?? 10_000,
    maxPayload,
    rateLimit: options.rateLimit === false ? false : { ...DEFAULT_RATE_LIMIT, ...options.rateLimit },
    maxInboundBytes: options.maxInboundBytes ?? DEFAULT_MAX_INBOUND_BYTES,
    maxSpaces: options.maxSpacesPerConnection ?? DEFAULT_MAX_SPACES_PER_CONNECTION,
  };
  const maxConnections = options.maxConnections ?? 10_000;
  const ipCaps = options.ipCaps === false ? undefined : { ...DEFAULT_IP_CAPS, ...options.ipCaps };
  const trustProxy = options.trustProxy === true;
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.httpTimeouts };
  const statusAccess = options.statusAccess ?? 'open';

  const storage =
    options.storage && typeof options.storage !== 'function' ? options.storage : await (options.storage ?? defaultStorage)(options.dataDir);
  const replica = await openReplica({
    storage,
    ...(options.merge ? { merge: options.merge } : {}),
    maxValueBytes,
    // A relay collects tombstones after the grace period and refuses to let a peer resurrect them.
    collectTombstones: true,
    ...(options.gcGrace !== undefined ? { gcGrace: options.gcGrace } : {}),
    ...(options.maxClockDriftMs !== undefined ? { maxClockDriftMs: options.maxClockDriftMs } : {}),
    // Every start opens under a fresh replica id (openReplica's `restored`): a relay cannot know whether its data
    // directory is the latest (a backup, a copied directory and a VM snapshot all look like the last shutdown), and a
    // restored copy that wrote under its old id would give a dot two values (issue 10). Its lost writes come back
    // from its clients under the old id, never covered by anything it writes now.
    restored: true,
    now,
  });
  replica.core.promptAcks = true;
  const metrics = new RelayMetrics(async () => (await storage.spaces()).length);
  metrics.gauge('concord_relay_indexed_spaces', 'Spaces holding a Merkle index in memory (idle ones are evicted)', () => replica.indexStats.spaces);
  metrics.gauge('concord_relay_index_nodes', 'Merkle tree nodes held in memory, all spaces', () => replica.indexStats.nodes);
  metrics.gauge('concord_relay_presence_entries', 'Presence entries held, all spaces (at most 4 096 per space, 16 per client)', () => replica.presenceHub.stats.entries);
  metrics.gauge('concord_relay_presence_refused_total', "Presence entries refused: a client sent another replica's entry, or more than its share", () => replica.presenceHub.refused);
  metrics.gauge('concord_relay_clock_ignored_total', 'Remote timestamps not adopted: more than maxClockDriftMs ahead of the wall clock', () => replica.core.clock.ignored);
  replica.on('error', (e) => {
    metrics.errors.inc({ reason: 'replica' });
    log('warn', 'replica error', { error: e instanceof Error ? e.message : String(e) });
  });

  // Relay powers (no rate limit, every space) come only from a token signed with a cluster secret; a token
  // signed with a client secret that claims `relay` is refused outright.
  const authenticate = (token: string, peerId: string) => {
    if (!clientRing) return OPEN_GRANTS;
    const t = now();
    if (clusterRing) {
      try {
        const claims = verifyToken(clusterRing.accepted(t), token, { now: t });
        // A relay of the cluster: no rate limit, forwards others' presence, and may tell us we lost writes.
        if (claims.relay) return { ...grantsOf(claims), relay: true, trusted: true };
      } catch {
        // not a relay token: a client's, checked below
      }
    }
    const claims = verifyToken(clientRing.accepted(t), token, { now: t });
    if (claims.relay) throw new ConcordError('UNAUTHORIZED', 'a relay token must be signed with the cluster secret');
    // A client speaking for a relay of the cluster would have its versions taken as that relay's own deliveries
    // (restore detection: the relay told it lost writes) and its ACKs as that relay's (w.replicated).
    if (cluster?.isMember(peerId)) throw new ConcordError('UNAUTHORIZED', 'this replicaId is a relay of the cluster; a client token cannot speak for it');
    return grantsOf(claims);
  };
  const gate = new Gate({ open, hosts: options.hosts, origins: originCheck(options.origins, open) });
  const served = new Set<ServedSocket>();
  const tcpPerIp = ipCaps && !trustProxy ? new IpCounter(ipCaps.connections) : undefined;
  const wsPerIp = ipCaps && trustProxy ? new IpCounter(ipCaps.connections) : undefined;
  const unauthPerIp = ipCaps ? new IpCounter(ipCaps.unauthenticated) : undefined;
  let listening = false;
  let closing: Promise<void> | undefined;

  const refused = (reason: string, refusal: Refusal, remote: string) => {
    metrics.errors.inc({ reason });
    log('info', 'request refused', { remote, status: refusal.status, why: refusal.reason });
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false, ...pieceBounds(maxPayload) });
  let cluster: ClusterDriver | undefined;
  const server: Server = createServer(
    { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, keepAliveTimeout: timeouts.keepAliveMs, connectionsCheckingInterval: Math.min(1000, timeouts.headersMs), maxHeaderSize: 16 * 1024 },
    (req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const refusal = gate.request(req, path) ?? (path === '/cluster' && req.method === 'GET' ? statusRefusal(statusAccess, req) : undefined);
      if (refusal) {
        refused(refusal.status === 401 ? 'unauthorized' : 'gate', refusal, `${req.socket.remoteAddress}`);
        res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(refusal.reason + '\n');
        req.destroy();
        return;
      }
      if (path === '/cluster') {
        if (cluster && !closing) return cluster.handleHttp(req, res);
        res.writeHead(cluster ? 503 : 404, { connection: 'close' }).end(cluster ? '' : 'this relay does not cluster\n');
        req.destroy();
        return;
      }
      void handleHttp({ ready: () => listening && !closing, metrics, statusAccess, ...(options.staticDir ? { staticDir: options.staticDir } : {}) }, req, res);
    },
  );
  server.on('connection', (socket: Socket) => {
    if (!tcpPerIp) return;
    const ip = (socket.remoteAddress ?? '?').replace(/^::ffff:(?=\d)/, '');
    if (!tcpPerIp.take(ip)) {
      metrics.errors.inc({ reason: 'ip_connections' });
      socket.destroy();
      return;
    }
    socket.once('close', () => tcpPerIp.release(ip));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (closing) return answer(socket, 503);
    if (served.size >= maxConnections) {
      metrics.errors.inc({ reason: 'too_many_connections' });
      return answer(socket, 503);
    }
    const refusal = gate.upgrade(req);
    if (refusal) {
      refused(refusal.reason.startsWith('origin') ? 'origin' : 'gate', refusal, remote);
      return answer(socket, refusal.status, refusal.reason);
    }
    const ip = clientIp(req, trustProxy);
    if (wsPerIp && !wsPerIp.take(ip)) {
      metrics.errors.inc({ reason: 'ip_connections' });
      return answer(socket, 429, 'too many connections from this address');
    }
    if (unauthPerIp && !unauthPerIp.take(ip)) {
      wsPerIp?.release(ip);
      metrics.errors.inc({ reason: 'ip_unauthenticated' });
      return answer(socket, 429, 'too many unauthenticated connections from this address');
    }
    let unauthenticated = unauthPerIp !== undefined;
    const authenticated = () => {
      if (unauthenticated) unauthPerIp!.release(ip);
      unauthenticated = false;
    };
    // The counts go when the TCP socket closes, however it ends (a failed handshake never calls back).
    socket.once('close', () => {
      authenticated();
      wsPerIp?.release(ip);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closing) return ws.close(1001, 'relay shutting down');
      const s = serveSocket(ws, remote, {
        replica,
        authenticate,
        metrics,
        log,
        policy,
        now,
        onAuthenticated: authenticated,
        presenceBudget: { ...options.presenceBudget, ...(ipCaps ? { others: [[`ip:${ip}`, ipCaps.presenceBytes]] } : {}) },
        onStored: (sock, space, upTo, localSeq, keys) => cluster?.stored(sock, space, upTo, localSeq, keys),
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
    auth: open ? 'none: no secret, loopback only, every client may read and write every space' : 'token',
    cluster: open ? 'none (no secret)' : derived ? 'cluster secret derived from the client secret' : 'cluster secret',
    dataDir: options.dataDir ?? null,
    replicaId: replica.replicaId,
    ...(options.restored ? { restored: 'opened as a restored copy: a new replica id' } : {}),
    deltas: deltaTypes.length ? deltaTypes : 'none loaded (yjs not installed): document deltas are answered with NEED, writers send whole values',
  });
  if (clientRing?.inGrace(startedAt) || clusterRing?.inGrace(startedAt)) log('info', 'previous secrets accepted during the rotation grace', { graceMs, until: new Date(startedAt + graceMs).toISOString() });
  const publicUrl = options.publicUrl ?? `ws://${shownHost}:${port}`;
  if (clusterRing) {
    cluster = new ClusterDriver({
      replica,
      address: publicUrl,
      seeds: options.join ?? [],
      secret: clusterRing,
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
    if (derived) {
      let warned = false;
      const warn = () => {
        if (warned) return;
        warned = true;
        log('warn', 'clustering with a cluster secret derived from the client secret: whoever can mint client tokens can also act as a relay. Set clusterSecret (--cluster-secret-file) on every relay');
      };
      if (options.join?.length) warn();
      cluster.events.on('member', (e) => e.type === 'joined' && warn());
    }
    await cluster.start();
    if (options.join?.length) log('info', 'joining cluster', { join: options.join, url: publicUrl });
  }

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

  const deliveries = new Emitter<{ delivery: Delivery }>();
  replica.core.events.on('change', (change) => {
    if (change.origin !== 'remote' || !(change.source instanceof Session) || !deliveries.has('delivery')) return;
    const session = change.source;
    const added = change.rec.vs.filter((v) => !change.prev?.vs.some((u) => u.r === v.r && u.n === v.n));
    if (added.length === 0 || session.peerId === undefined) return;
    const { principal, trusted } = session.principal;
    deliveries.emit('delivery', {
      space: change.space,
      key: change.key,
      versions: added.map((v) => ({ replicaId: v.r, counter: v.n, deleted: v.d === 1 })),
      from: { replicaId: session.peerId, ...(principal !== undefined ? { principal } : {}), relay: trusted },
    });
  });

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
    on: ((type: 'member' | 'delivery', listener: (e: never) => void, opts?: { signal?: AbortSignal }) =>
      type === 'delivery'
        ? deliveries.on('delivery', listener as (e: Delivery) => void, opts)
        : (cluster?.events.on('member', listener as (e: MemberEvent) => void, opts) ?? (() => {}))) as Relay['on'],
    close: (opts) => (closing ??= shutdown(opts?.leave ?? true)),
  };
}
