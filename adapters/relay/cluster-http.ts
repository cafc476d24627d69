/**
 * The relay's `/cluster` endpoint, relay-to-relay only:
 *   POST /cluster  one SWIM message `{ from, msg }` from another relay; answered 204 at once (replies go as
 *                  POSTs too). Needs `Authorization: Bearer <relay token>` signed with a cluster secret
 *                  (`relay: true` claim) and `content-type: application/json` (which a browser cannot send
 *                  cross-origin without a preflight, never answered); the body is at most MAX_BODY bytes.
 *   GET /cluster   `{ "relays": [...] }`, the alive relays' public URLs (what clients are told anyway).
 * The relay's gate (gate.ts) has already refused foreign Hosts and any Origin on this path, and decides who
 * may read GET /cluster (statusAccess). A refused POST is answered and its connection closed unread.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RelayMetrics } from './metrics.js';
import type { SecretRing } from './secrets.js';
import { verifyToken } from './token.js';

/** Largest POST /cluster body: a push-pull of a few thousand members fits. */
export const MAX_CLUSTER_BODY = 256 * 1024;
const MAX_ADDRESS = 512;

/** A member address the cluster may use: a ws:// or wss:// URL, no credentials, query or fragment. */
export function isMemberAddress(address: string): boolean {
  if (typeof address !== 'string' || address.length === 0 || address.length > MAX_ADDRESS) return false;
  if (address.includes('#') || address.includes('?')) return false;
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    return false;
  }
  return (u.protocol === 'ws:' || u.protocol === 'wss:') && u.hostname !== '' && u.username === '' && u.password === '';
}

export interface ClusterHttpContext {
  secret: SecretRing;
  now: () => number;
  metrics: RelayMetrics;
  /** The relay list as JSON (GET). */
  news: () => string;
  /** A valid message from the relay at `from` (its ws:// URL). */
  deliver: (from: string, msg: unknown) => void;
}

export function handleClusterHttp(req: IncomingMessage, res: ServerResponse, ctx: ClusterHttpContext): void {
  const reply = (status: number, text = '', type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(text);
  };
  if (req.method === 'GET') return reply(200, ctx.news(), 'application/json');
  if (req.method !== 'POST') return reply(405, 'GET or POST\n');
  const refuse = (status: number, text: string) => {
    ctx.metrics.errors.inc({ reason: 'cluster_unauthorized' });
    res.setHeader('connection', 'close');
    reply(status, text);
    req.destroy();
  };
  const auth = req.headers.authorization ?? '';
  try {
    const now = ctx.now();
    if (!auth.startsWith('Bearer ') || verifyToken(ctx.secret.accepted(now), auth.slice(7), { now }).relay !== true) throw new Error('not a relay token');
  } catch {
    return refuse(401, 'relay token required\n');
  }
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(415, 'application/json only\n');
  if (Number(req.headers['content-length'] ?? 0) > MAX_CLUSTER_BODY) return refuse(413, 'too large\n');
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_CLUSTER_BODY) {
      if (!res.headersSent) refuse(413, 'too large\n');
      return;
    }
    chunks.push(c);
  });
  req.on('error', () => {});
  req.on('end', () => {
    if (size > MAX_CLUSTER_BODY) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, 'not JSON\n');
    }
    const from = (body as { from?: unknown } | null)?.from;
    if (typeof from !== 'string' || !isMemberAddress(from)) return reply(400, 'from is not a ws URL\n');
    reply(204);
    ctx.deliver(from, (body as { msg?: unknown }).msg);
  });
}
