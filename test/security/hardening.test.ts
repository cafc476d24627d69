/**
 * Issue 11, the hardening list, each shown against a real relay on loopback: per-IP caps on unauthenticated
 * sockets, HTTP header timeouts (slowloris), spaces per connection, status routes behind a token, inbound
 * backpressure (the socket stops reading while the engine holds too much of its input).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createToken } from '../../adapters/relay/index.js';
import { RelayMetrics } from '../../adapters/relay/metrics.js';
import { serveSocket } from '../../adapters/relay/socket.js';
import type { Replica } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { helloFrame, item, rawPeer } from '../relay/raw.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, CLUSTER_SECRET, request, SECRET, sleep, tracker, until } from './support.js';

const t = tracker();
const sockets: Array<{ destroy(): void } | WebSocket> = [];
afterAll(async () => {
  for (const s of sockets) (s as WebSocket).terminate ? (s as WebSocket).terminate() : (s as Socket).destroy();
  await closeAll(...t.open);
});

describe('relay hardening (issue 11)', () => {
  it('caps unauthenticated WebSockets per client IP (429 beyond 128)', async () => {
    const relay = await t.relay({ secret: SECRET, helloTimeoutMs: 20_000 });
    const peers = Array.from({ length: 200 }, () => rawPeer(relay.url));
    for (const p of peers) sockets.push(p.ws);
    const outcomes = await Promise.all(peers.map((p) => p.opened.then(() => 'open', () => 'refused')));
    const opened = outcomes.filter((o) => o === 'open').length;
    expect(opened).toBe(128);
    expect((await peers[outcomes.indexOf('refused')]!.closed).code).toBe(-429);
    // An authenticated hello frees its place: another socket gets in.
    const first = peers[outcomes.indexOf('open')]!;
    first.ws.send(helloFrame(createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 60 }), [item('s')]));
    await until(() => first.frames.length > 0, 'the hello was answered');
    const next = rawPeer(relay.url);
    sockets.push(next.ws);
    await next.opened;
    for (const p of peers) p.ws.terminate();
  });

  it('closes an HTTP request whose headers never finish (slowloris)', async () => {
    const relay = await t.relay({ httpTimeouts: { headersMs: 500 } });
    const socket = connect(relay.port, '127.0.0.1');
    sockets.push(socket);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let ended = false;
    socket.on('close', () => (ended = true));
    socket.on('error', () => {});
    socket.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One more header line now and then, never the blank line that ends them.
    for (let i = 0; i < 12 && !ended; i++) {
      await sleep(250);
      if (!ended) socket.write(`X-Slow-${i}: a\r\n`);
    }
    await until(() => ended, 'the relay closed the slow request', 5000);
  });

  it('refuses a client naming more spaces than a connection may sync (4403, with the reason)', async () => {
    const relay = await t.relay({ maxSpacesPerConnection: 50 });
    const many = rawSession(relay.url, { spaces: Array.from({ length: 51 }, (_, i) => syncItem(`s${i}`)) });
    const closed = await Promise.race([many.closed, sleep(5000).then(() => ({ code: 0, reason: 'still open' }))]);
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/too many spaces/);
    // Spread over SYNC messages after the hello, too.
    const drip = rawSession(relay.url, { spaces: [syncItem('a')] });
    await drip.ready;
    for (let i = 0; i < 60 && !drip.isClosed; i++) drip.send({ type: MsgType.Sync, spaces: [syncItem(`d${i}`)] });
    expect((await Promise.race([drip.closed, sleep(5000).then(() => ({ code: 0 }))])).code).toBe(4403);
  });

  it('serves /metrics and GET /cluster only with the status token when one is set', async () => {
    const relay = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, statusAccess: { token: 'scrape-token-0123456789' } });
    expect((await request(relay.port, { path: '/metrics' })).status).toBe(401);
    expect((await request(relay.port, { path: '/cluster' })).status).toBe(401);
    expect((await request(relay.port, { path: '/cluster', headers: { Authorization: 'Bearer scrape-token-0123456789' } })).body).toContain(relay.url);
    expect((await request(relay.port, { path: '/metrics', headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await request(relay.port, { path: '/metrics', headers: { Authorization: 'Bearer scrape-token-0123456789' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('concord_relay_connections');
    const off = await t.relay({ statusAccess: 'off' });
    expect((await request(off.port, { path: '/metrics' })).status).toBe(404);
    expect((await request(off.port, { path: '/livez' })).status).toBe(200);
  });

  it('stops reading a socket while the engine holds too much of its input, and resumes after', async () => {
    // A stand-in engine that takes 1 s per frame: frames pile up unless the socket stops reading.
    const pending: Array<() => void> = [];
    let handled = 0;
    const replica = {
      accept: () => ({
        session: { peerId: 'x', close() {}, sendCluster() {} },
        onMessage: () =>
          new Promise<void>((resolve) =>
            pending.push(() => {
              handled++;
              resolve();
            }),
          ),
        onClose() {},
      }),
    } as unknown as Replica;
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    t.add({ close: () => new Promise<void>((r) => wss.close(() => r())) });
    const served = new Promise<ReturnType<typeof serveSocket>>((resolve) =>
      wss.on('connection', (ws) =>
        resolve(
          serveSocket(ws, 'test', {
            replica,
            authenticate: () => ({ rights: () => 'write' }),
            metrics: new RelayMetrics(async () => 0),
            log: () => {},
            policy: { helloTimeoutMs: 60_000, heartbeatMs: 0, highWaterBytes: 1 << 30, slowConsumerMs: 60_000, maxPayload: 1 << 20, rateLimit: false, maxInboundBytes: 256 * 1024, maxSpaces: 10 },
            now: Date.now,
          }),
        ),
      ),
    );
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as { port: number }).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    sockets.push(ws);
    await new Promise<void>((r) => ws.once('open', () => r()));
    const socket = await served;
    const frame = new Uint8Array(64 * 1024);
    for (let i = 0; i < 200; i++) ws.send(frame); // 12.5 MiB
    await until(() => socket.inbound.paused, 'the relay paused the socket');
    await sleep(300);
    // Paused: what the engine holds stays near the cap (a frame or two past it), not the 12.5 MiB sent.
    expect(socket.inbound.bytes).toBeLessThanOrEqual(256 * 1024 + 2 * 64 * 1024);
    expect(pending.length).toBe(socket.inbound.bytes / (64 * 1024));
    // The engine catches up: reading resumes, and every frame arrives in the end.
    while (handled < 200) {
      pending.splice(0).forEach((f) => f());
      await sleep(5);
    }
    expect(socket.inbound.bytes).toBe(0);
    expect(socket.inbound.paused).toBe(false);
  });
});
