/**
 * Review rev48b of s7m (the relay's Connection and the ws client's connections as classes) with the relay socket's
 * inbound pause (adapters/relay/socket.ts): over 127.0.0.1, the relay's storage holds its commits, so frames queue
 * behind the first join and the socket stops reading. Every frame the engine is handed on a socket is, in order, what
 * the client sent on that connection — none dropped, none reordered, none twice — while paused, when the client closes
 * the link in the middle of the pause, and on the socket of its reconnect, which starts unpaused and stays so; the
 * closed socket's count drains to zero once its frames are handled. The relay ends with every write.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { RelayMetrics } from '../../adapters/relay/metrics.js';
import { serveSocket, type ServedSocket } from '../../adapters/relay/socket.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Connection, type Frame, type Replica } from '../../lib/index.js';
import { gatedStorage } from '../cluster/gated-storage.js';
import { synced, tapped, until } from '../sync/support.js';

const open: Array<{ close(): unknown }> = [];
afterAll(async () => {
  for (const o of open.splice(0).reverse()) await Promise.resolve(o.close()).catch(() => {});
});

const CAP = 8 * 1024;
const hex = (f: Frame) => (typeof f === 'string' ? 'text:' + f : Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('hex'));

/** `relay` served through the relay's socket code; per socket, the frames its engine was handed. */
async function served(relay: Replica) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  open.push({ close: () => new Promise<void>((r) => wss.close(() => r())) });
  const sockets: Array<{ socket: ServedSocket; handed: string[] }> = [];
  wss.on('connection', (ws) => {
    const handed: string[] = [];
    const recording = {
      accept: (conn: Connection, options: Parameters<Replica['accept']>[1]) => {
        const h = relay.accept(conn, options);
        return { session: h.session, onClose: (code: number, reason: string) => h.onClose(code, reason), onMessage: (f: Frame) => (handed.push(hex(f)), h.onMessage(f)) };
      },
    } as unknown as Replica;
    const socket = serveSocket(ws, 'test', {
      replica: recording,
      authenticate: () => ({ rights: () => 'write' }),
      metrics: new RelayMetrics(async () => 0),
      log: () => {},
      policy: { helloTimeoutMs: 60_000, heartbeatMs: 0, highWaterBytes: 1 << 30, slowConsumerMs: 60_000, maxPayload: 1 << 20, rateLimit: false, maxInboundBytes: CAP, maxSpaces: 10 },
      now: Date.now,
    });
    sockets.push({ socket, handed });
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, sockets };
}

describe('a paused relay socket hands its engine every frame in order, across a close and a reconnect', () => {
  it('no frame dropped, reordered or repeated; the reconnect starts unpaused; the relay gets every write', async () => {
    const g = gatedStorage('s', '');
    const relay = await openReplica({ storage: g.storage });
    open.push({ close: () => (g.set('open'), relay.close()) });
    relay.core.promptAcks = true;
    relay.space('s');
    const { url, sockets } = await served(relay);
    const client = await openReplica({ storage: memoryStorage() });
    open.push(client);
    const space = client.space('s');
    // Per connection the client opened, the frames it sent on it.
    const sent = new Map<Connection, string[]>();
    const transport = tapped(webSocketTransport(url, { token: 't' }), (frame, conn) => {
      let list = sent.get(conn);
      if (!list) sent.set(conn, (list = []));
      list.push(hex(frame));
      conn.send(frame);
    });
    let link = client.connect(transport, { antiEntropyInterval: 0 });
    await synced(client);
    const value = 'v'.repeat(700);
    const write = async (from: number, to: number) => {
      for (let j = from; j < to; j++) {
        void space.put(`k/${j}`, { value, j });
        void space.put('hot', j); // one key written again and again: its frames' order is its history's
        await new Promise((r) => setImmediate(r)); // a frame a turn
      }
    };

    // Held: frames queue behind the first join, the socket pauses.
    g.set('all');
    await write(0, 120);
    await until(() => sockets[0]!.socket.inbound.paused, 'the socket paused');
    const first = [...sent.values()][0]!;
    const isPrefix = (handed: string[], of: string[]) => handed.length <= of.length && handed.every((f, i) => f === of[i]);
    expect(isPrefix(sockets[0]!.handed, first), 'paused: what the engine was handed is what was sent, in order').toBe(true);
    // The client closes while the socket is paused and its frames are held; then the storage answers.
    link.close();
    await new Promise((r) => setTimeout(r, 50));
    g.set('open');
    await until(() => sockets[0]!.socket.inbound.bytes === 0, 'the closed socket drained');
    await sockets[0]!.socket.closed;
    expect(isPrefix(sockets[0]!.handed, first), 'closed: a prefix of what was sent, in order').toBe(true);

    // The reconnect: a socket of its own, not paused; more writes while it lives; everything reaches the relay.
    link = client.connect(transport, { antiEntropyInterval: 0 });
    await until(() => sockets.length === 2, 'the client reconnected');
    expect(sockets[1]!.socket.inbound.paused).toBe(false);
    await write(120, 200);
    await client.whenSynced();
    await until(async () => (await relay.space('s').get('hot'))?.value === 199, "the relay holds hot's last write");
    for (let j = 0; j < 200; j++) expect((await relay.space('s').get(`k/${j}`))?.value, `k/${j}`).toEqual({ value, j });
    expect(sockets[1]!.socket.inbound.paused).toBe(false);
    const second = [...sent.values()][1]!;
    expect(sockets[1]!.handed, 'the reconnect: exactly what was sent, in order').toEqual(second.slice(0, sockets[1]!.handed.length));
    expect(sockets[1]!.handed.length).toBe(second.length);
    link.close();
  }, 60_000);
});
