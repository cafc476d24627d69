import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRelay, createToken, type Relay } from '../../adapters/relay/index.js';
import { isConcordError, type Replica } from '../../lib/index.js';
import { client, closeAll, SECRET, startRelay, synced, until } from './support.js';
import { helloFrame, item, rawPeer, syncFrame } from './raw.js';

const open: Array<Relay | Replica> = [];
const dirs: string[] = [];
afterAll(async () => {
  await closeAll(...open);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function relayWith(options: Parameters<typeof startRelay>[0]): Promise<Relay> {
  const r = await startRelay(options);
  open.push(r);
  return r;
}

describe('relay hardening', () => {
  it('refuses to start without a secret on a non-loopback address', async () => {
    const err = await createRelay({ port: 0, host: '0.0.0.0', log: false }).catch((e: unknown) => e);
    expect(isConcordError(err, 'INVALID_OPTION')).toBe(true);
    expect(String((err as Error).message)).toMatch(/secret/);
  });

  it('says in its log that it serves loopback only without a secret', async () => {
    const entries: Array<Record<string, unknown>> = [];
    await relayWith({ log: (e) => entries.push(e) });
    expect(entries.find((e) => e.msg === 'relay listening')?.auth).toMatch(/loopback only/);
  });

  it('refuses origins outside the allowlist at the upgrade (403)', async () => {
    const relay = await relayWith({ secret: SECRET, origins: ['https://app.example'] });
    expect((await rawPeer(relay.url, { headers: { Origin: 'https://evil.example' } }).closed).code).toBe(-403);
    const ok = rawPeer(relay.url, { headers: { Origin: 'https://app.example' } });
    await ok.opened;
    ok.ws.close();
    // Without a secret, only loopback pages may connect by default.
    const local = await relayWith({});
    expect((await rawPeer(local.url, { headers: { Origin: 'https://evil.example' } }).closed).code).toBe(-403);
    const fine = rawPeer(local.url, { headers: { Origin: 'http://localhost:5173' } });
    await fine.opened;
    fine.ws.close();
  });

  it('closes a connection that sends an oversized frame (1009) and keeps serving others', async () => {
    const relay = await relayWith({ maxPayload: 64 * 1024 });
    const a = await client(relay);
    open.push(a);
    await synced(a);
    const peer = rawPeer(relay.url);
    await peer.opened;
    peer.ws.send(new Uint8Array(64 * 1024 + 1));
    expect((await peer.closed).code).toBe(1009);
    const w = await a.space('s').put('still', 'served');
    await w.synced;
  });

  it('closes malformed input with 4400, and a text frame too', async () => {
    const relay = await relayWith({});
    const p1 = rawPeer(relay.url);
    await p1.opened;
    p1.ws.send(new Uint8Array([1, 2, 3]));
    expect((await p1.closed).code).toBe(4400);
    const p2 = rawPeer(relay.url);
    await p2.opened;
    p2.ws.send('hello?');
    expect((await p2.closed).code).toBe(4400);
  });

  it('rate-limits a connection that floods frames (4429)', async () => {
    const relay = await relayWith({ rateLimit: { framesPerSecond: 5, frameBurst: 20 } });
    const peer = rawPeer(relay.url);
    await peer.opened;
    peer.ws.send(helloFrame('', []));
    // Valid messages (a new space each), far faster than 5/s.
    for (let i = 0; i < 100; i++) peer.ws.send(syncFrame([item(`space-${i}`)]));
    expect((await peer.closed).code).toBe(4429);
  });

  it('disconnects a slow consumer whose buffer stays above the high-water mark (4430)', async () => {
    const relay = await relayWith({ highWaterBytes: 64 * 1024, slowConsumerMs: 200, maxPayload: 16 * 1024 * 1024 });
    const slow = rawPeer(relay.url);
    await slow.opened;
    slow.ws.send(helloFrame('', [item('big')]));
    await until(() => slow.frames.length > 0, 'hello answered');
    slow.ws.pause(); // reads nothing more: the relay's socket buffer fills
    const writer = await client(relay, {}, ['big']);
    open.push(writer);
    const blob = 'x'.repeat(900 * 1024);
    for (let i = 0; i < 12; i++) void writer.space('big').put(`k${i}`, blob + i);
    await until(async () => (await relay.metrics()).includes('reason="slow_consumer"'), 'the relay dropped the slow consumer', 20_000);
    slow.ws.resume(); // reads what was buffered, then the close frame
    expect((await slow.closed).code).toBe(4430);
    await synced(writer);
  });

  it('serves /livez, /readyz, /metrics and static files without directory traversal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-static-'));
    dirs.push(dir);
    await mkdir(join(dir, 'app'));
    await writeFile(join(dir, 'index.html'), '<h1>demo</h1>');
    await writeFile(join(dir, 'app', 'main.js'), 'export {}');
    const relay = await relayWith({ staticDir: dir });
    const base = `http://127.0.0.1:${relay.port}`;
    const a = await client(relay);
    open.push(a);
    await (await a.space('s').put('k', 1)).synced;
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of ['concord_relay_connections 1', 'concord_relay_spaces 1', 'concord_relay_messages_total{direction="in",type="changes"}', 'concord_relay_bytes_total', 'concord_relay_sync_rounds_total', 'concord_relay_errors_total']) {
      expect(metrics).toContain(name);
    }
    const index = await fetch(`${base}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toBe('<h1>demo</h1>');
    expect((await fetch(`${base}/app/main.js`)).headers.get('content-type')).toMatch(/javascript/);
    for (const evil of ['/../package.json', '/%2e%2e/package.json', '/app/..%2f..%2fpackage.json', '/%00']) {
      const res = await fetch(`${base}${evil}`);
      expect(res.status, evil).toBe(404);
    }
    await a.close();
    await relay.close();
    await until(async () => (await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) !== 200, 'not ready after close');
  });

  it('closes its sockets with 1001 on close()', async () => {
    const relay = await relayWith({ secret: SECRET });
    const peer = rawPeer(relay.url);
    await peer.opened;
    peer.ws.send(helloFrame(createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 60 }), [item('s')]));
    await until(() => peer.frames.length > 0, 'served');
    await relay.close();
    expect((await peer.closed).code).toBe(1001);
  });
});
