/**
 * Per-client-IP caps: open connections, and WebSocket connections that have not authenticated yet (the
 * cheapest thing to hold open: no token needed until the hello deadline). Counts only; the relay decides
 * what to refuse. An IP's entry is dropped when its counts reach zero, so the table never outgrows the
 * connections that are open.
 *
 * The client IP is the TCP peer's address, or — with `trustProxy`, for a relay behind a reverse proxy that
 * appends the client's address to `X-Forwarded-For` — the last address of that header (the one the proxy
 * added; earlier ones are whatever the client claimed).
 */
import type { IncomingMessage } from 'node:http';

export interface IpCaps {
  /** Open connections per client IP (default 1 024). */
  connections: number;
  /** WebSocket connections per client IP that have not completed an authenticated hello (default 128). */
  unauthenticated: number;
  /** Bytes of presence the clients of one IP may make the relay hold, all connections (default 16 MiB; presence-holds.ts). */
  presenceBytes: number;
}

export const DEFAULT_IP_CAPS: IpCaps = { connections: 1024, unauthenticated: 128, presenceBytes: 16 << 20 };

/** IPv4-mapped IPv6 addresses count as their IPv4 address. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const text = Array.isArray(header) ? header[header.length - 1] : header;
    const last = text?.split(',').pop()?.trim();
    if (last) return normalize(last);
  }
  return normalize(req.socket.remoteAddress ?? '?');
}

export class IpCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts one more for `ip`; false (nothing counted) when the cap is reached. */
  take(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = (this.counts.get(ip) ?? 0) - 1;
    if (n > 0) this.counts.set(ip, n);
    else this.counts.delete(ip);
  }

  get size(): number {
    return this.counts.size;
  }

  count(ip: string): number {
    return this.counts.get(ip) ?? 0;
  }
}
