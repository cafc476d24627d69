/**
 * The objects the engine reads for every frame on every link — the relay's connections, a client's connection, each
 * space's stream and repair ports — keep V8's fast properties, one shape for all of their kind. An object literal with
 * a getter (a closure of its own per object) is kept in dictionary mode instead: every read of it, `send` included,
 * then takes the generic lookup, a relay's every delivery on every link (space-ports.ts, adapters/ws/sockets.ts).
 * Read with V8's own checks (%HasFastProperties, %HaveSameMap), allowed for this file's functions only.
 */
import { setFlagsFromString } from 'node:v8';
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { Replica as ReplicaClass } from '../../lib/replica.js';
import type { Connection, Transport } from '../../lib/transport.js';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { SocketConnection } from '../../adapters/ws/sockets.js';
import { repairPort, type SpaceView } from '../../lib/sync/space-ports.js';
import type { SessionPort } from '../../lib/sync/space-sync.js';
import { synced, until } from './support.js';

setFlagsFromString('--allow-natives-syntax');
const hasFast = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
const sameShape = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
setFlagsFromString('--no-allow-natives-syntax');

interface Internals {
  spaces: Map<string, { out: { port: object }; repair: { port: object } }>;
}

const open: Array<Relay | Replica> = [];
afterAll(async () => {
  vi.restoreAllMocks();
  for (const o of open.reverse()) await o.close().catch(() => {});
});

/** `inner` with the connections it opened kept in `opened`. */
function keeping(inner: Transport, opened: Connection[]): Transport {
  return { ...inner, open: async (h) => { const c = await inner.open(h); opened.push(c); return c; } };
}

describe('shapes read per frame', () => {
  it('relay connections, client connections and space ports have fast properties, one shape per kind', async () => {
    const accepted: Array<{ conn: Connection; session: unknown }> = [];
    const accept = ReplicaClass.prototype.accept;
    vi.spyOn(ReplicaClass.prototype, 'accept').mockImplementation(function (this: ReplicaClass, conn, options) {
      const handlers = accept.call(this, conn, options);
      accepted.push({ conn, session: handlers.session });
      return handlers;
    });
    const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
    open.push(relay);
    const clientConns: Connection[] = [];
    const clients: Replica[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await openReplica({ storage: memoryStorage() });
      open.push(r);
      clients.push(r);
      r.space('s');
      r.connect(keeping(webSocketTransport(relay.url), clientConns));
    }
    for (const r of clients) await synced(r);
    await (await clients[0]!.space('s').put('k', 1)).synced;
    await until(() => clients[1]!.space('s').get('k') !== undefined, 'the write reached the other client');

    expect(accepted.length).toBe(2);
    expect(clientConns.length).toBe(2);
    const [a, b] = accepted;
    expect(hasFast(a!.conn)).toBe(true);
    expect(sameShape(a!.conn, b!.conn)).toBe(true);
    expect(hasFast(clientConns[0]!)).toBe(true);
    expect(sameShape(clientConns[0]!, clientConns[1]!)).toBe(true);
    const spaces = accepted.map(({ session }) => (session as Internals).spaces.get('s')!);
    for (const kind of ['out', 'repair'] as const) {
      const [p, q] = spaces.map((s) => s[kind].port);
      expect(hasFast(p!), kind).toBe(true);
      expect(sameShape(p!, q!), kind).toBe(true);
    }
  });
});

describe('ports as classes', () => {
  it("a repair port's pause, handed on alone (repair.ts: buildSketch, decodeSketch), waits on the session's timers", async () => {
    let armed = 0;
    const session = {
      frameBudget: 1000,
      core: { epochs: undefined },
      timers: { setTimeout: (f: () => void, ms: number) => (armed++, setTimeout(f, ms)) },
    } as unknown as SessionPort;
    const { pause } = repairPort('s', session, {} as SpaceView);
    await pause!();
    expect(armed).toBe(1);
  });
});

describe('connections as classes', () => {
  it('bufferedAmount is read from the socket at each use (back-pressure), and send and close work handed on alone', () => {
    const socket = { bufferedAmount: 0 };
    const calls: string[] = [];
    const conn = new SocketConnection(socket, (f) => calls.push(`send ${String(f)}`), (code, why) => calls.push(`close ${code} ${why}`), 64);
    expect(conn.bufferedAmount).toBe(0);
    socket.bufferedAmount = 1 << 20;
    expect(conn.bufferedAmount).toBe(1 << 20);
    const { send, close } = conn;
    send('a');
    close(4000, 'b');
    expect(calls).toEqual(['send a', 'close 4000 b']);
    expect(conn.maxFrameBytes).toBe(64);
  });
});

describe('the browser-style socket', () => {
  it('a client over a WebSocket constructor of its own (openBrowserSocket) syncs both ways and closes', async () => {
    const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
    open.push(relay);
    const conns: Connection[] = [];
    const [a, b] = await Promise.all([0, 1].map(() => openReplica({ storage: memoryStorage() })));
    open.push(a!, b!);
    a!.space('s');
    b!.space('s');
    a!.connect(keeping(webSocketTransport(relay.url, { WebSocket }), conns));
    b!.connect(webSocketTransport(relay.url));
    await synced(a!);
    await synced(b!);
    expect(hasFast(conns[0]!)).toBe(true);
    expect(conns[0]!.bufferedAmount).toBe(0);
    await (await a!.space('s').put('from-a', 1)).synced;
    await (await b!.space('s').put('from-b', 2)).synced;
    await until(() => a!.space('s').get('from-b') !== undefined && b!.space('s').get('from-a') !== undefined, 'both writes on both sides');
    await a!.close();
    await until(() => relay.connections === 1, 'the relay saw the browser-style client go');
  });
});
