/**
 * The first check of every HTTP request and WebSocket upgrade, before any route or the engine sees it:
 * which Host and which Origin a relay answers.
 *
 * Invariants:
 * - Host: with `hosts` given, the Host header's name must be one of them ('*' = any). A relay without a
 *   secret (it grants every right to whoever connects) answers only Host names that resolve to this machine
 *   (localhost, 127.x.y.z, [::1]): a page whose DNS name an attacker re-points at 127.0.0.1 (DNS rebinding)
 *   sends its own name as Host and is refused — on every route, /metrics and static files included.
 *   A request without a Host header is refused when any Host rule applies.
 * - Origin (sent by browsers, never by relays or Node clients): an upgrade or request carrying one must pass
 *   the allowlist (origins.ts). POST /cluster is relay-to-relay only: any Origin there is refused, whatever
 *   the allowlist says (a cross-origin page can send a "simple" POST without a preflight).
 * A refusal is an HTTP status and a short reason; nothing of the request body is read.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, type OriginCheck } from './origins.js';

export interface GateOptions {
  /** The relay has no secret: every right to whoever connects, so loopback Hosts only. */
  open: boolean;
  /** Host names the relay answers (without port; '*' = any). Default: any with a secret, loopback without. */
  hosts?: readonly string[] | undefined;
  origins: OriginCheck;
}

export interface Refusal {
  status: number;
  reason: string;
}

/** The host name of a Host header (port and IPv6 brackets removed, lower case), or undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(1, end);
  }
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m?.[1];
}

export class Gate {
  private readonly hosts: ReadonlySet<string> | undefined;

  constructor(private readonly o: GateOptions) {
    this.hosts = o.hosts && o.hosts.length > 0 ? new Set(o.hosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, ''))) : undefined;
  }

  private hostRefusal(req: IncomingMessage): Refusal | undefined {
    if (!this.hosts && !this.o.open) return undefined;
    if (this.hosts?.has('*')) return undefined;
    const name = hostName(req.headers.host);
    if (name === undefined) return { status: 400, reason: 'missing or malformed Host header' };
    if (this.hosts ? this.hosts.has(name) : isLoopbackHost(name)) return undefined;
    return { status: 403, reason: `Host "${name}" is not served here` };
  }

  /** A WebSocket upgrade: Host, then the Origin allowlist. */
  upgrade(req: IncomingMessage): Refusal | undefined {
    const host = this.hostRefusal(req);
    if (host) return host;
    if (!this.o.origins(req.headers.origin)) return { status: 403, reason: 'origin not allowed' };
    return undefined;
  }

  /** A plain HTTP request (any route). */
  request(req: IncomingMessage, path: string): Refusal | undefined {
    const host = this.hostRefusal(req);
    if (host) return host;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (path === '/cluster') return { status: 403, reason: 'relay-to-relay endpoint: browsers are refused' };
      if (!this.o.origins(origin)) return { status: 403, reason: 'origin not allowed' };
    }
    return undefined;
  }
}

/** Who may read the status routes (/metrics, GET /cluster): see RelayOptions.statusAccess. */
export function statusRefusal(access: 'open' | 'loopback' | 'off' | { token: string }, req: IncomingMessage): Refusal | undefined {
  if (access === 'open') return undefined;
  if (access === 'off') return { status: 404, reason: 'not found' };
  if (access === 'loopback') {
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    return ip === '::1' || /^127\./.test(ip) ? undefined : { status: 403, reason: 'status routes are served to this machine only' };
  }
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${access.token}`);
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : { status: 401, reason: 'status token required' };
}
