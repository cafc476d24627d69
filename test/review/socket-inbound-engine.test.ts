/**
 * Review rev47a of s7t's socket change (session.receive answers undefined for a frame handled within the call; the
 * socket counts only frames that answer a promise): the relay's socket (adapters/relay/socket.ts) in front of a real
 * replica, over 127.0.0.1, with a small inbound cap. The hardening test (test/security) shows the pause with a
 * stand-in engine; here the engine is the replica itself, whose storage answers at once or, gated, late.
 *
 *   at once   a burst of writes far past the cap: every frame is handled within its 'message' event, so nothing is
 *             held and the socket never pauses (counting them, each settled a microtask later, would: ws emits the
 *             frames of one read in one loop)
 *   late      the relay's storage holds every transaction: the frames queued behind the first join are held, the
 *             socket pauses near the cap (past it by one read at most); once the storage answers, they are handled, the count drains to 0, reading
 *             resumes, and every write counts synced
 *   broken    a frame that fails within its call (an unknown type, after the hello) closes the link, holding nothing
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { RelayMetrics } from '../../adapters/relay/metrics.js';
import { serveSocket, type ServedSocket } from '../../adapters/relay/socket.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Connection, type Replica, type StorageAdapter } from '../../lib/index.js';
import { dump, synced, until } from '../sync/support.js';

const open: Array<{ close(): unknown }> = [];
afterAll(async () => {
  for (const o of open.splice(0).reverse()) await Promise.resolve(o.close()).catch(() => {});
});

/** `inner`, whose transactions wait while `held` (then none commits at once). */
function gated(inner: StorageAdapter) {
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const storage = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'transactNow') return gate ? undefined : target.transactNow!.bind(target);
      if (prop === 'transact') return (fn: Parameters<StorageAdapter['transact']>[0]) => (gate ?? Promise.resolve()).then(() => target.transact(fn));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    storage,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    answer() {
      gate = undefined;
      release?.();
    },
  };
}

const CAP = 16 * 1024;

/** A replica served through the relay's socket on loopback; the socket served, and how often it paused. */
async function served(replica: Replica) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  open.push({ close: () => new Promise<void>((r) => wss.close(() => r())) });
  const sockets: Array<{ socket: ServedSocket; pauses: () => number; ws: WebSocket }> = [];
  wss.on('connection', (ws) => {
    let pauses = 0;
    const pause = ws.pause.bind(ws);
    ws.pause = () => (pauses++, pause());
    const socket = serveSocket(ws, 'test', {
      replica,
      authenticate: () => ({ rights: () => 'write' }),
      metrics: new RelayMetrics(async () => 0),
      log: () => {},
      policy: { helloTimeoutMs: 60_000, heartbeatMs: 0, highWaterBytes: 1 << 30, slowConsumerMs: 60_000, maxPayload: 1 << 20, rateLimit: false, maxInboundBytes: CAP, maxSpaces: 10 },
      now: Date.now,
    });
    sockets.push({ socket, pauses: () => pauses, ws });
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, sockets };
}

describe("the relay socket's inbound count with the real engine (frames handled at once hold nothing)", () => {
  it('never pauses for frames handled at once, pauses for frames held behind a late join, and drains', async () => {
    const g = gated(memoryStorage());
    const relay = await openReplica({ storage: g.storage });
    open.push({ close: () => (g.answer(), relay.close()) }); // a failure with the storage held: it answers at the end
    relay.core.promptAcks = true; // as a relay (relay.ts)
    relay.space('s');
    const { url, sockets } = await served(relay);
    const client = await openReplica({ storage: memoryStorage() });
    open.push(client);
    const space = client.space('s');
    client.connect(webSocketTransport(url, { token: 't' }));
    await synced(client);
    expect(sockets.length).toBe(1);
    const { socket, pauses } = sockets[0]!;
    const value = 'v'.repeat(1000);

    // At once: 400 KB in writes of 1 KB, bursts of 50 (a burst goes in few reads), against a cap of 16 KiB.
    for (let round = 0; round < 8; round++) await Promise.all(Array.from({ length: 50 }, (_, j) => space.put(`now/${round}/${j}`, { value, j }).then((w) => w.synced)));
    expect(pauses()).toBe(0);
    expect(socket.inbound.bytes).toBe(0);

    // Late: the relay's storage holds its transactions; the client's frames pile up behind the first join.
    g.hold();
    const late: Array<Promise<unknown>> = [];
    // A write a turn: a frame each (the writes of one tick would go in one frame).
    for (let j = 0; j < 300; j++) {
      late.push(space.put(`late/${j}`, { value, j }).then((w) => w.synced));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => socket.inbound.paused, 'the socket paused while the engine held frames');
    await new Promise((r) => setTimeout(r, 100));
    // Held: the cap and what one read of the socket brought past it (ws hands over every frame of a read), not the
    // 300 KB written.
    expect(socket.inbound.bytes).toBeGreaterThan(CAP);
    expect(socket.inbound.bytes).toBeLessThanOrEqual(CAP + 64 * 1024);
    g.answer();
    await Promise.all(late);
    await until(() => socket.inbound.bytes === 0 && !socket.inbound.paused, 'the held frames were handled and reading resumed');
    expect(pauses()).toBeGreaterThan(0);
    await synced(client);
    const held = await dump(relay, 's');
    expect(Object.keys(held).filter((k) => k.startsWith('late/')).length).toBe(300);
    expect(Object.keys(held).filter((k) => k.startsWith('now/')).length).toBe(400);
  }, 60_000);

  it('a frame that fails within its call closes the link, and nothing stays counted', async () => {
    const relay = await openReplica({ storage: memoryStorage() });
    open.push(relay);
    relay.space('s');
    const { url, sockets } = await served(relay);
    const client = await openReplica({ storage: memoryStorage() });
    open.push(client);
    client.space('s');
    // The client's connection, to send a raw frame on it.
    const inner = webSocketTransport(url, { token: 't' });
    let conn: Connection | undefined;
    const link = client.connect({ ...inner, open: async (h) => (conn = await inner.open(h)) }, { backoff: { base: 60_000, max: 60_000 } });
    await synced(client);
    const { socket, ws } = sockets[0]!;
    const closed: number[] = [];
    ws.on('close', (code) => closed.push(code));
    // The client's session is past its hello: an unknown frame type from it is a protocol error, handled at once.
    conn!.send(new Uint8Array([250, 1, 2, 3]));
    await socket.closed;
    expect(closed.length).toBe(1);
    expect(closed[0]).not.toBe(1000);
    expect(socket.inbound.bytes).toBe(0);
    link.close();
  }, 30_000);
});
