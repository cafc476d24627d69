/**
 * `createRelay` options and their defaults. Every limit a relay enforces is here with its default (and in
 * SECURITY.md); relay.ts only wires them.
 */
import { ConcordError } from '../../lib/errors.js';
import type { SwimConfig } from '../../lib/membership/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import type { PresenceBudget } from '../../lib/sync/presence-holds.js';
import type { MergeTable } from '../../lib/types.js';
import { DEFAULT_MAX_VALUE_BYTES } from '../../lib/values.js';
import type { IpCaps } from './ip-limits.js';
import type { RateLimit } from './limits.js';
import type { LogOption } from './log.js';
import type { StorageFactory } from './storage.js';
import type { Secret } from './token.js';

/** Who may read GET /metrics and GET /cluster: anyone, loopback peers only, nobody, or bearers of a token. */
export type StatusAccess = 'open' | 'loopback' | 'off' | { token: string };

export interface HttpTimeouts {
  /** Whole request header must arrive within this (ms, default 10 000): slowloris. */
  headersMs: number;
  /** Whole request, body included, within this (ms, default 30 000). */
  requestMs: number;
  /** An idle keep-alive connection is closed after this (ms, default 5 000). */
  keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };

export interface RelayOptions {
  /** TCP port (default 8787); 0 picks a free one (`relay.port` tells it). */
  port?: number;
  /** Address to listen on (default '127.0.0.1'). Without a secret only loopback is allowed. */
  host?: string;
  /** Where the relay keeps its data (file storage); absent: in memory. */
  dataDir?: string;
  /**
   * Verifies client tokens (createToken). A list rotates: the first is current, the others stay accepted for
   * `secretGrace`. Without it: loopback only, every right, no token needed, no cluster.
   */
  secret?: Secret | readonly Secret[];
  /**
   * Signs and verifies relay-to-relay tokens (`join`, POST /cluster); must differ from every client secret.
   * A list rotates like `secret`. Without it a relay with a secret uses one derived from the client secret
   * (whoever holds the client secret could then act as a relay; the relay warns when it clusters so).
   */
  clusterSecret?: Secret | readonly Secret[];
  /** How long secrets after the first of a list stay accepted, from the relay's start (default '24h'). */
  secretGrace?: number | string;
  /** Origins allowed to connect from a browser ('*' = any). Default: any with a secret, loopback without. */
  origins?: string[];
  /** Host names the relay answers (DNS rebinding; '*' = any). Default: any with a secret, loopback without. */
  hosts?: string[];
  /** Who may read /metrics and GET /cluster (default 'open'). */
  statusAccess?: StatusAccess;
  /** Seed relays (ws:// URLs) to join as a cluster; one reachable seed is enough. Needs a `secret`. */
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
  /** Inbound bytes the engine may hold unhandled per connection before the relay stops reading it (default 16 MiB). */
  maxInboundBytes?: number;
  /** Spaces one client connection may sync (default 1 000; beyond: closed 4403 with the reason). Relays: no cap. */
  maxSpacesPerConnection?: number;
  /** Open connections beyond this are refused at the upgrade with 503 (default 10 000). */
  maxConnections?: number;
  /** Per client IP: open connections, unauthenticated WebSockets, presence held (default 1 024, 128, 16 MiB); false: none. */
  ipCaps?: Partial<IpCaps> | false;
  /** Presence a client connection and a principal may make the relay hold (default 1 MiB and 4 MiB; beyond: refused). */
  presenceBudget?: Pick<PresenceBudget, 'connection' | 'principal'>;
  /** Behind a reverse proxy: take the client IP from the last X-Forwarded-For address (default false). */
  trustProxy?: boolean;
  /** HTTP timeouts against slow requests (slowloris). */
  httpTimeouts?: Partial<HttpTimeouts>;
  /** Serve files from this directory on other paths (the demo app). */
  staticDir?: string;
  /** JSON lines to stdout (default), false to silence, or a function receiving each entry. */
  log?: LogOption;
  /** Storage: an adapter, or a factory given `dataDir` (default: file storage in dataDir, else memory). */
  storage?: StorageAdapter | StorageFactory;
  merge?: MergeTable;
  maxValueBytes?: number;
  /** Remote timestamps more than this many ms ahead of the wall clock are not adopted (default 60 000). */
  maxClockDriftMs?: number;
  /**
   * The data was just restored from a backup. Changes nothing: a relay opens its storage under a new replica id at
   * every start (openReplica's `restored`), since it cannot tell a restored copy from the latest. Kept so callers
   * that say so still work (CLI --restored); the listening log mentions it.
   */
  restored?: boolean;
  /** Milliseconds a tombstone is kept before the relay collects it (default 30 days). */
  gcGrace?: number;
  now?: () => number;
}

export const DEFAULT_MAX_SPACES_PER_CONNECTION = 1_000;
export const DEFAULT_MAX_INBOUND_BYTES = 16 * 1024 * 1024;

/** Bytes of a frame a value leaves for the rest (type, space, key of up to 1 024 characters, version header). */
const VALUE_FRAME_OVERHEAD = 8 * 1024;

/**
 * The frame limit (`maxPayload`, default 4 MiB) and the value limit: a value must fit one frame beside its key, space
 * and version header (siblings go in parts, lib/sync/key-parts.ts; a value never does). Without `maxValueBytes`, a
 * small `maxPayload` lowers the default (1 MiB); a `maxValueBytes` it cannot carry is refused (INVALID_OPTION).
 */
export function frameLimits(options: RelayOptions): { maxPayload: number; maxValueBytes: number } {
  const maxPayload = options.maxPayload ?? 4 * 1024 * 1024;
  if (!Number.isSafeInteger(maxPayload) || maxPayload <= VALUE_FRAME_OVERHEAD) {
    throw new ConcordError('INVALID_OPTION', `maxPayload must be an integer over ${VALUE_FRAME_OVERHEAD} bytes, got ${maxPayload}`);
  }
  if (options.maxValueBytes !== undefined && options.maxValueBytes > maxPayload - VALUE_FRAME_OVERHEAD) {
    throw new ConcordError('INVALID_OPTION', `maxValueBytes (${options.maxValueBytes}) must leave ${VALUE_FRAME_OVERHEAD} bytes of maxPayload (${maxPayload}) for the frame around a value: a larger value could be stored but never sent`);
  }
  return { maxPayload, maxValueBytes: options.maxValueBytes ?? Math.min(DEFAULT_MAX_VALUE_BYTES, maxPayload - VALUE_FRAME_OVERHEAD) };
}
