import { memoryStorage, openReplica, type Replica, type Transport } from '../../lib/index.js';
import { createRelay, type Relay, type RelayOptions } from '../../adapters/relay/index.js';
import { webSocketTransport, type WebSocketTransportOptions } from '../../adapters/ws/index.js';

export { dump, synced, until } from '../sync/support.js';

export const SECRET = 'test-secret-0123456789abcdef';

/** A relay on a free loopback port, silent. */
export function startRelay(options: RelayOptions = {}): Promise<Relay> {
  return createRelay({ port: 0, host: '127.0.0.1', log: false, ...options });
}

/** A memory replica linked to the relay, reconnecting quickly. */
export async function client(relay: { url: string } | string, options: WebSocketTransportOptions = {}, spaces: string[] = ['s']): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  for (const s of spaces) r.space(s);
  r.connect(webSocketTransport(typeof relay === 'string' ? relay : relay.url, options), { backoff: { base: 20, max: 200 } });
  return r;
}

/** Closes everything given, ignoring what is already closed. */
export async function closeAll(...things: Array<{ close(): Promise<void> | void } | undefined>): Promise<void> {
  await Promise.all(things.map(async (t) => {
    try {
      await t?.close();
    } catch {
      // already closed
    }
  }));
}

/** `inner` with the bytes of every frame it sends counted (`sent()`: so far, over all its connections). */
export function countingTransport(inner: Transport): { transport: Transport; sent: () => number } {
  let sent = 0;
  const transport: Transport = {
    ...inner,
    open: async (h) => {
      const conn = await inner.open(h);
      return {
        send: (f) => {
          sent += typeof f === 'string' ? f.length : f.byteLength;
          conn.send(f);
        },
        close: (code, why) => conn.close(code, why),
        get bufferedAmount() {
          return conn.bufferedAmount;
        },
        ...(conn.maxFrameBytes !== undefined ? { maxFrameBytes: conn.maxFrameBytes } : {}),
      };
    },
  };
  return { transport, sent: () => sent };
}
