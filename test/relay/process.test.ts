/** The command line as a process: `concord relay` serves two clients, and SIGTERM closes them with 1001 and exits 0. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica, type Transport } from '../../lib/index.js';
import { buildCli, spawnRelay, type RelayProcess } from './child.js';
import { closeAll, dump, synced, until } from './support.js';

let cli: string;
let cleanup = async () => {};
let relay: RelayProcess | undefined;
const replicas: Replica[] = [];

beforeAll(async () => {
  ({ cli, cleanup } = await buildCli());
}, 60_000);
afterAll(async () => {
  relay?.child.kill('SIGKILL');
  await closeAll(...replicas);
  await cleanup();
});

describe('concord relay (process)', () => {
  it('two clients sync through it; SIGTERM closes their sockets with 1001 and exits 0', async () => {
    relay = await spawnRelay(cli, ['--port', '0', '--host', '127.0.0.1']);
    const url = `ws://127.0.0.1:${relay.port}`;
    expect(relay.lines.some((l) => l.includes('loopback only'))).toBe(true);
    const codes: number[] = [];
    const recording = (inner: Transport): Transport => ({ ...inner, open: (h) => inner.open({ onMessage: h.onMessage, onClose: (c, r) => (codes.push(c), h.onClose(c, r)) }) });
    const [a, b] = await Promise.all([0, 1].map(() => openReplica({ storage: memoryStorage() })));
    replicas.push(a!, b!);
    await a!.space('s').put('from-a', 1);
    await b!.space('s').put('from-b', 2);
    a!.connect(recording(webSocketTransport(url)), { backoff: { base: 5000, max: 5000 } });
    b!.connect(webSocketTransport(url));
    await synced(a!, b!);
    await until(async () => Object.keys(await dump(a!, 's')).length === 2 && Object.keys(await dump(b!, 's')).length === 2, 'both keys on both');
    const health = await fetch(`http://127.0.0.1:${relay.port}/readyz`);
    expect(health.status).toBe(200);
    relay.child.kill('SIGTERM');
    expect((await relay.exited).code).toBe(0);
    await until(() => codes.length > 0, 'the client saw the close');
    expect(codes[0]).toBe(1001);
    expect(relay.lines.some((l) => l.includes('"shutting down"'))).toBe(true);
  });
});
