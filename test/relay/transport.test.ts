import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { webSocketTransport } from '../../adapters/ws/index.js';
import type { Frame } from '../../lib/index.js';
import { closeAll, startRelay, synced, until, client } from './support.js';
import type { Relay } from '../../adapters/relay/index.js';

const servers: WebSocketServer[] = [];
const relays: Relay[] = [];
afterAll(async () => {
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
  await closeAll(...relays);
});

async function server(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

describe('webSocketTransport', () => {
  it('delivers binary frames as Uint8Array (ws in Node, and an injected browser-style WebSocket)', async () => {
    const { wss, url } = await server();
    wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
    for (const t of [webSocketTransport(url, { token: 't' }), webSocketTransport(url, { WebSocket })]) {
      const got: Frame[] = [];
      const conn = await t.open({ onMessage: (f) => got.push(f), onClose: () => {} });
      conn.send(new Uint8Array([1, 2, 3]));
      await until(() => got.length === 1, 'echo');
      expect(got[0]).toBeInstanceOf(Uint8Array);
      expect([...(got[0] as Uint8Array)]).toEqual([1, 2, 3]);
      expect(conn.bufferedAmount).toBe(0);
      conn.close();
    }
    // The token is passed through for the link (which sends it in the hello), never put in the URL.
    const fn = async () => 'fresh';
    const t = webSocketTransport(url, { token: fn });
    expect(t.token).toBe(fn);
    expect(t.label).toBe(url);
  });

  it('rejects open() when nothing listens, and when the upgrade is refused', async () => {
    await expect(webSocketTransport('ws://127.0.0.1:1').open({ onMessage: () => {}, onClose: () => {} })).rejects.toThrow(/could not open/);
    const relay = await startRelay({ origins: ['https://app.example'] });
    relays.push(relay);
    await expect(webSocketTransport(relay.url, { headers: { Origin: 'https://evil.example' } }).open({ onMessage: () => {}, onClose: () => {} })).rejects.toThrow(/403/);
  });

  it('terminates a connection whose peer stops answering pings, once, with a reason', async () => {
    const { url } = await server({ autoPong: false });
    const closes: Array<[number, string]> = [];
    await webSocketTransport(url, { heartbeatMs: 50 }).open({ onMessage: () => {}, onClose: (c, r) => closes.push([c, r]) });
    await until(() => closes.length > 0, 'heartbeat timeout');
    await new Promise((r) => setTimeout(r, 100));
    expect(closes).toHaveLength(1);
    expect(closes[0]![1]).toMatch(/heartbeat/);
  });

  it('the relay drops a client that stops answering its pings', async () => {
    const relay = await startRelay({ heartbeatMs: 50 });
    relays.push(relay);
    const ws = new WebSocket(relay.url, { autoPong: false });
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1006);
    await until(() => relay.connections === 0, 'the relay forgot it');
  });

  it('a link over it reconnects after the relay restarts, without losing queued writes', async () => {
    let relay = await startRelay();
    const port = relay.port;
    const a = await client(relay);
    await synced(a);
    await relay.close();
    await until(() => a.status !== 'synced', 'a noticed');
    const w = await a.space('s').put('queued', 1);
    relay = await startRelay({ port });
    relays.push(relay);
    await w.synced;
    expect((await relay.replica.space('s').get('queued'))?.value).toBe(1);
    await a.close();
  });
});
