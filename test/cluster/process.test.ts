/**
 * A cluster of three relay processes (`concord relay --join`): SIGKILL one during client writes. Its client
 * fails over, no write whose `synced` resolved is lost, the others declare it dead (on /metrics), and the
 * relay restarted from its data directory rejoins and catches up. And a relay whose event loop stops (SIGSTOP) past
 * the failure detector's timeout: declared dead, it counts for no write meanwhile; resumed, it refutes, its links
 * come back and the writes made meanwhile reach it and count it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { buildCli, spawnRelay, type RelayProcess } from '../relay/child.js';
import { closeAll, CLUSTER_SECRET, dump, SECRET, until } from './support.js';

let cli: string;
let cleanup = async () => {};
const children: RelayProcess[] = [];
const replicas: Replica[] = [];
let dir = '';

beforeAll(async () => {
  ({ cli, cleanup } = await buildCli());
  dir = await mkdtemp(join(tmpdir(), 'concord-cluster-proc-'));
  // Secrets from files, as a deployment passes them (not visible in `ps`).
  await writeFile(join(dir, 'secret'), SECRET + '\n');
  await writeFile(join(dir, 'cluster-secret'), CLUSTER_SECRET + '\n');
}, 60_000);
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await closeAll(...replicas);
  await cleanup();
  await rm(dir, { recursive: true, force: true });
});

const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });
const url = (p: RelayProcess) => `ws://127.0.0.1:${p.port}`;

async function relay(extra: string[]): Promise<RelayProcess> {
  const p = await spawnRelay(cli, ['--port', '0', '--host', '127.0.0.1', '--secret-file', join(dir, 'secret'), '--cluster-secret-file', join(dir, 'cluster-secret'), '--gossip', '250', ...extra]);
  children.push(p);
  return p;
}

async function members(p: RelayProcess, state: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
  const m = new RegExp(`concord_relay_cluster_members\\{state="${state}"\\} (\\d+)`).exec(text);
  return Number(m?.[1] ?? -1);
}

async function replicaOn(p: RelayProcess | string, learnRelays: boolean): Promise<{ r: Replica; t: ReturnType<typeof webSocketTransport> }> {
  const r = await openReplica({ storage: memoryStorage() });
  replicas.push(r);
  const t = webSocketTransport(typeof p === 'string' ? p : url(p), { token, heartbeatMs: 200, learnRelays });
  r.space('s');
  r.connect(t, { backoff: { base: 20, max: 200 } });
  return { r, t };
}

async function holdsAll(r: Replica, keys: string[]): Promise<boolean> {
  for (const k of keys) if ((await r.space('s').get(k)) === undefined) return false;
  return true;
}

describe('a cluster of relay processes', () => {
  it('survives a SIGKILL during client writes and heals when the relay comes back', async () => {
    const a = await relay([]);
    const b = await relay(['--join', url(a), '--data', dir]);
    const c = await relay(['--join', url(a)]);
    await until(async () => (await Promise.all([a, b, c].map(async (p) => (await members(p, 'alive')) + (await members(p, 'suspect'))))).every((n) => n === 3), 'full membership', 10_000);

    const { r: x, t } = await replicaOn(b, true);
    const { r: y } = await replicaOn(c, false);
    await until(() => t.urls.length === 3, 'the client learns the relays');

    const confirmed: string[] = [];
    const synced: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const w = await x.space('s').put(`k${i}`, i);
      synced.push(w.synced.then(() => void confirmed.push(`k${i}`)));
      if (i === 20) b.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 5));
    }
    await b.exited;
    await Promise.all(synced);
    expect(confirmed).toHaveLength(60);
    expect(t.url).not.toBe(url(b));
    await until(() => holdsAll(y, confirmed), 'every synced write reaches the client of c', 10_000);
    await until(async () => (await members(a, 'dead')) === 1 && (await members(c, 'dead')) === 1, 'a and c declare b dead', 10_000);
    expect((await members(a, 'alive')) + (await members(a, 'suspect'))).toBe(2);

    const b2 = await relay(['--port', String(b.port), '--join', url(a), '--data', dir]);
    await until(async () => (await Promise.all([a, b2, c].map(async (p) => (await members(p, 'alive')) + (await members(p, 'suspect'))))).every((n) => n === 3), 'b rejoins', 10_000);
    const { r: z } = await replicaOn(b2, false);
    await until(() => holdsAll(z, confirmed), 'the restarted relay caught up', 10_000);
    expect(Object.keys(await dump(z, 's'))).toHaveLength(60);
  }, 60_000);

  it('counts a relay stopped past its suspicion for no write, and again once it resumes', async () => {
    const a = await relay([]);
    const b = await relay(['--join', url(a)]);
    await until(async () => (await members(a, 'alive')) === 2 && (await members(b, 'alive')) === 2, 'two members', 10_000);
    const { r: x } = await replicaOn(a, false);
    const { r: y } = await replicaOn(b, false);
    await (await x.space('s').put('warm', 0)).replicated(2);

    b.child.kill('SIGSTOP');
    await until(async () => (await members(a, 'dead')) === 1, 'a declares the stopped relay dead', 20_000);
    const keys = Array.from({ length: 10 }, (_, i) => `stopped${i}`);
    const replicated = new Set<string>();
    const all: Promise<void>[] = [];
    for (const k of keys) {
      const w = await x.space('s').put(k, k);
      await w.synced;
      all.push(w.replicated(2).then(() => void replicated.add(k)));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect([...replicated], 'replicated(2) while the only other relay is stopped').toEqual([]);

    b.child.kill('SIGCONT');
    await until(async () => (await members(a, 'alive')) === 2 && (await members(a, 'dead')) === 0, 'the resumed relay refutes its death at a', 20_000);
    await Promise.all(all);
    await until(() => holdsAll(y, keys), 'the writes made while it stopped reach the client of the resumed relay', 10_000);
    // The resumed relay suspected a at once (its probe in flight went unanswered across the stop): a refutes.
    await until(async () => (await members(b, 'alive')) === 2, 'the resumed relay holds a alive again', 20_000);
  }, 60_000);
});
