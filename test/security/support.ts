/**
 * Shared pieces of the attack tests: relays on loopback (port 0, silent), the clients and raw peers of
 * test/relay, and small waiting helpers. Every test here attacks a real relay over 127.0.0.1.
 */
import type { Relay, RelayOptions } from '../../adapters/relay/index.js';
import { startRelay } from '../relay/support.js';

export { client, closeAll, dump, SECRET, startRelay, synced, until } from '../relay/support.js';

/** A second secret, for the cluster (relay-to-relay) tokens. */
export const CLUSTER_SECRET = 'cluster-secret-fedcba9876543210';

/** Everything a test opened, closed after it. */
export function tracker() {
  const open: Array<{ close(): void | Promise<void> }> = [];
  return {
    open,
    add<T extends { close(): void | Promise<void> }>(x: T): T {
      open.push(x);
      return x;
    },
    async relay(options: RelayOptions = {}): Promise<Relay> {
      const r = await startRelay(options);
      open.push(r);
      return r;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain HTTP request with exact headers (fetch would add or forbid some, e.g. Host). */
export async function request(
  port: number,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const { request: httpRequest } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers ?? {}, setHost: !(options.headers && 'Host' in options.headers) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
