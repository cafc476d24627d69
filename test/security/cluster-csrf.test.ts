/**
 * Issue 11 #1: a web page (or a DNS-rebinding attack) reaching a relay without a secret — the README's
 * `npm start` — must not make it cluster with an attacker's address, nor read anything through a Host
 * other than a loopback name; and a client token must never grant relay powers on a relay with secrets.
 *
 * The "attacker" is a plain HTTP server on loopback that records every request and WebSocket upgrade it
 * gets: a relay that took it as a member would POST to its /cluster and open a sync link to it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { randomId } from '../../lib/ids.js';
import { rawSession, syncItem } from './raw-session.js';
import { MsgType } from '../../lib/sync/messages.js';
import { client, closeAll, CLUSTER_SECRET, request, SECRET, sleep, synced, tracker } from './support.js';
import { localConfig } from '../../lib/membership/index.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

interface Attacker {
  url: string;
  seen: string[];
  close(): Promise<void>;
}

async function attacker(): Promise<Attacker> {
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(204).end();
  });
  server.on('upgrade', (req, socket) => {
    seen.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const a = { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
  t.add(a);
  return a;
}

/** The SWIM message a joining member sends its seed: "here I am, tell me the cluster". */
function joinBody(from: string): string {
  const id = randomId();
  return JSON.stringify({ from, msg: { type: 'push-pull', src: id, join: true, reply: false, members: [{ id, address: from, incarnation: 0, state: 'alive' }] } });
}

describe('CSRF into the cluster and DNS rebinding (#1)', () => {
  it('a relay without a secret takes no member from a cross-origin POST /cluster', async () => {
    const relay = await t.relay({ cluster: localConfig() });
    const writer = t.add(await client(relay));
    await (await writer.space('s').put('private', 'data')).synced;
    const evil = await attacker();
    // What a page on https://evil.example can send with fetch(..., { mode: 'no-cors', body }) (a "simple" request).
    const res = await request(relay.port, { method: 'POST', path: '/cluster', headers: { Origin: 'https://evil.example', 'Content-Type': 'text/plain' }, body: joinBody(evil.url) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    // Even without an Origin header (a non-browser on this machine), an open relay does not cluster.
    const bare = await request(relay.port, { method: 'POST', path: '/cluster', headers: { 'Content-Type': 'application/json' }, body: joinBody(evil.url) });
    expect(bare.status).toBeGreaterThanOrEqual(400);
    await sleep(1500);
    expect(evil.seen).toEqual([]);
    expect(relay.members().filter((m) => m.address === evil.url)).toEqual([]);
  });

  it('a relay without a secret answers no request whose Host is not a loopback name (DNS rebinding)', async () => {
    const relay = await t.relay({ staticDir: new URL('../../demo', import.meta.url).pathname });
    for (const path of ['/metrics', '/cluster', '/', '/index.html', '/livez']) {
      const res = await request(relay.port, { path, headers: { Host: `rebind.evil.example:${relay.port}` } });
      expect(res.status, path).toBe(403);
      expect(res.body, path).not.toContain('concord_relay');
    }
    // The WebSocket upgrade too: after rebinding, the page's socket is same-origin and carries its own Host.
    const peer = rawSession(relay.url, { headers: { Host: `rebind.evil.example:${relay.port}`, Origin: `http://rebind.evil.example:${relay.port}` }, spaces: [syncItem('s')] });
    expect((await peer.closed).code).toBe(-403);
    const hostOnly = rawSession(relay.url, { headers: { Host: `rebind.evil.example:${relay.port}` }, spaces: [syncItem('s')] });
    expect((await hostOnly.closed).code).toBe(-403);
    // Loopback names still work.
    for (const host of [`localhost:${relay.port}`, `127.0.0.1:${relay.port}`, `[::1]:${relay.port}`]) {
      expect((await request(relay.port, { path: '/livez', headers: { Host: host } })).status, host).toBe(200);
    }
  });

  it('a cross-origin request to a relay without a secret is refused on every route', async () => {
    const relay = await t.relay();
    for (const [method, path] of [['GET', '/metrics'], ['GET', '/cluster'], ['POST', '/cluster'], ['GET', '/']] as const) {
      const res = await request(relay.port, { method, path, headers: { Origin: 'https://evil.example', 'Content-Type': 'text/plain' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
  });

  it.each([
    ['with its own cluster secret', { clusterSecret: CLUSTER_SECRET }],
    ['with a cluster secret derived from the client secret', {}],
  ])('a client token never grants relay powers (%s): not on /cluster, not over the WebSocket', async (_, extra) => {
    const relay = await t.relay({ secret: SECRET, ...extra, cluster: localConfig(), rateLimit: { framesPerSecond: 5, frameBurst: 20 } });
    const evil = await attacker();
    // A token holder forges the `relay` claim with the client secret it may know (an app backend minting tokens).
    const forged = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: 60, relay: true });
    const res = await request(relay.port, { method: 'POST', path: '/cluster', headers: { Authorization: `Bearer ${forged}`, 'Content-Type': 'application/json' }, body: joinBody(evil.url) });
    expect(res.status).toBe(401);
    await sleep(1000);
    expect(evil.seen).toEqual([]);
    // Over the WebSocket the forged relay token is refused outright (4401)...
    const asRelay = rawSession(relay.url, { token: forged, spaces: [syncItem('s')] });
    expect((await asRelay.closed).code).toBe(4401);
    // ...and an ordinary token is rate-limited like any client.
    const plain = rawSession(relay.url, { token: createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: 60 }), spaces: [syncItem('s')] });
    await plain.ready;
    for (let i = 0; i < 100; i++) plain.send({ type: MsgType.Sync, spaces: [syncItem(`f${i}`)] });
    expect((await plain.closed).code).toBe(4429);
  });

  it('takes only ws:// and wss:// member addresses, even from a relay holding the cluster secret', async () => {
    const relay = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, cluster: localConfig() });
    const post = (body: string) =>
      request(relay.port, { method: 'POST', path: '/cluster', headers: { Authorization: `Bearer ${createToken(CLUSTER_SECRET, { spaces: { '*': 'write' }, expiresIn: 60, relay: true })}`, 'Content-Type': 'application/json' }, body });
    const good = await attacker();
    expect((await post(joinBody(good.url))).status).toBe(204);
    const bad = ['http://127.0.0.1:1/', 'ws://user:pw@127.0.0.1:2/', 'ws://127.0.0.1:3/?x=1', 'javascript:alert(1)', 'ws://127.0.0.1:4/#f'];
    for (const address of bad) {
      const id = randomId();
      const from = `ws://127.0.0.1:${5000 + bad.indexOf(address)}`;
      await post(JSON.stringify({ from, msg: { type: 'gossip', src: id, updates: [{ id, address, incarnation: 0, state: 'alive' }] } }));
    }
    await sleep(300);
    const addresses = relay.members().map((m) => m.address);
    expect(addresses).toContain(good.url);
    for (const address of bad) expect(addresses).not.toContain(address);
  });

  it('relays given only the client secret still cluster (on a derived cluster secret), and say so in their log', async () => {
    const config = localConfig({ probeInterval: 200, probeTimeout: 100, suspicionMult: 4 });
    const logs: Array<Record<string, unknown>> = [];
    const a = await t.relay({ secret: SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 } });
    const b = await t.relay({ secret: SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 }, join: [a.url], log: (e) => logs.push(e) });
    for (let i = 0; i < 100 && !a.members().some((m) => m.address === b.url && m.state === 'alive'); i++) await sleep(100);
    expect(a.members().some((m) => m.address === b.url && m.state === 'alive')).toBe(true);
    expect(logs.some((e) => e.level === 'warn' && /derived from the client secret/.test(String(e.msg)))).toBe(true);
  });

  it('relays of one cluster secret still form a cluster and replicate', async () => {
    const config = localConfig({ probeInterval: 200, probeTimeout: 100, suspicionMult: 4 });
    const a = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 } });
    const b = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 }, join: [a.url] });
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600 });
    const ca = t.add(await client(a, { token }));
    const cb = t.add(await client(b, { token }));
    await (await ca.space('s').put('k', 'v')).synced;
    await synced(cb);
    for (let i = 0; i < 100 && (await cb.space('s').get('k')) === undefined; i++) await sleep(100);
    expect((await cb.space('s').get('k'))?.value).toBe('v');
    expect(a.members().some((m) => m.address === b.url && m.state === 'alive')).toBe(true);
  });
});
