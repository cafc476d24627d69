// A relay without `yjs` installed (the optional peer dependency) cannot apply document deltas: it asks the writer for
// whole values (NEED) once, the writer sends it whole values from then on, and every client still converges.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Frame, type Replica, type Transport } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { buildCli, spawnRelay, type RelayProcess } from './child.js';
import { until } from '../sync/support.js';

let cli: string;
let cleanup = async () => {};
let relay: RelayProcess | undefined;
const replicas: Replica[] = [];

beforeAll(async () => {
  ({ cli, cleanup } = await buildCli());
}, 120_000);
afterAll(async () => {
  for (const r of replicas) await r.close();
  relay?.child.kill('SIGKILL');
  await cleanup();
});

/** Records the frames a transport's connections receive. */
function recording(t: Transport, received: Uint8Array[]): Transport {
  return {
    ...t,
    label: t.label,
    open: (h) => t.open({ ...h, onMessage: (f: Frame) => (received.push(f as Uint8Array), h.onMessage(f)) }),
  };
}

describe('a relay without yjs', () => {
  it('asks for whole values once (NEED), gets them from then on, and the document converges', async () => {
    relay = await spawnRelay(cli, ['--port', '0', '--host', '127.0.0.1'], ['--import', join(import.meta.dirname, 'fixtures', 'hide-yjs.mjs')]);
    const listening = relay.lines.map((l) => JSON.parse(l) as { msg: string; deltas?: unknown }).find((e) => e.msg === 'relay listening');
    expect(String(listening?.deltas)).toMatch(/none loaded/);
    const url = `ws://127.0.0.1:${relay.port}`;
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    replicas.push(a, b);
    const toA: Uint8Array[] = [];
    a.connect(recording(webSocketTransport(url), toA));
    b.connect(webSocketTransport(url));
    const da = await openDoc(a.space('s'), 'doc', { writeDelay: 0 });
    const db = await openDoc(b.space('s'), 'doc', { writeDelay: 0 });
    await until(() => a.status === 'synced' && b.status === 'synced', 'both synced', 10_000);
    const t = da.getText('body');
    for (let i = 0; i < 20; i++) {
      t.insert(t.length, `line ${i}\n`);
      await flushDoc(da);
      await until(() => db.getText('body').toString() === t.toString(), `line ${i} on b`, 10_000);
    }
    const needs = toA.filter((f) => f[0] === MsgType.Need);
    expect(needs).toHaveLength(1);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await b.space('s').get('doc'))!.value as Uint8Array);
    expect(stored.getText('body').toString()).toBe(t.toString());
  });
});
