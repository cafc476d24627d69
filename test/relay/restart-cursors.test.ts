/**
 * A relay opens under a fresh replica id at every start, on the same data directory: its log goes on. Its clients
 * kept what they had stored under each old id (a cursor per space, `told:`, `dd:`, `da:`) for ever, though nothing
 * reads it again: a few records per space and restart in every client's metadata. Now a client that finds a new id
 * behind the address it dialed removes the old id's records once the new relay's hello shows the same log
 * (lib/sync/lineage.ts); a relay restored from an older copy of its directory shows a history that cannot honour a
 * cursor taken after the copy: the client repairs by anti-entropy and the writes the relay lost come back from it
 * (issue 10, defect 3), with the identity's epoch history now kept across the relay's new id.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { memoryStorage, openReplica, type AntiEntropyRun, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { closeAll, startRelay, synced, until } from './support.js';

const SPACES = ['docs', 'notes', 'tasks', 'todo', 'misc'];

let open: Array<{ close(): Promise<void> | void }> = [];
let dirs: string[] = [];
afterEach(async () => {
  await closeAll(...open.reverse());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  open = [];
  dirs = [];
});

async function relayOn(dataDir: string, port = 0): Promise<Relay> {
  const relay = await startRelay({ dataDir, port });
  open.push(relay);
  return relay;
}

/**
 * A client on memory storage with every space opened, and the anti-entropy runs it starts or answers. Its connection
 * attempts wait while `held()` says so.
 */
async function clientOf(url: string, held = () => false): Promise<{ r: Replica; storage: StorageAdapter; runs: AntiEntropyRun[] }> {
  const storage = memoryStorage();
  const r = await openReplica({ storage });
  open.push(r);
  for (const s of SPACES) r.space(s);
  const runs: AntiEntropyRun[] = [];
  r.on('antiEntropy', (run) => runs.push(run));
  const inner = webSocketTransport(url);
  const wait = async () => {
    while (held()) await new Promise((res) => setTimeout(res, 20));
  };
  r.connect({ ...inner, open: async (h) => (await wait(), inner.open(h)) }, { backoff: { base: 20, max: 100 } });
  return { r, storage, runs };
}

/** The metadata names memory storage holds now (its committed map; the adapter offers no listing). */
function metaNames(storage: StorageAdapter): string[] {
  return [...(storage as unknown as { meta: Map<string, unknown> }).meta.keys()];
}

async function values(r: Replica, space: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const e of r.space(space).scan('')) out[e.key] = e.value;
  return out;
}

describe('a relay restarted on its data directory', () => {
  it('leaves nothing of its old id behind in its clients, and they sync on as before', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'concord-restart-'));
    dirs.push(dataDir);
    let relay = await relayOn(dataDir);
    const port = relay.port;
    const a = await clientOf(relay.url);
    const b = await clientOf(relay.url);
    for (const s of SPACES) for (let i = 0; i < 20; i++) await a.r.space(s).put(`k${i}`, { s, i });
    await synced(a.r, b.r);
    await until(async () => Object.keys(await values(b.r, 'misc')).length === 20, 'b has a’s writes');
    const oldId = relay.replica.replicaId;
    expect(metaNames(b.storage).filter((n) => n.includes(oldId)).length).toBeGreaterThan(0);

    await relay.close();
    // Written while the relay is down: they go out when it is back.
    await a.r.space('notes').put('offline', 'written while the relay was down');
    relay = await relayOn(dataDir, port);
    expect(relay.replica.replicaId).not.toBe(oldId);
    await until(async () => (await values(b.r, 'notes')).offline !== undefined, 'b gets the write made while the relay was down', 10_000);
    await synced(a.r, b.r);

    // What the clients stored under the relay's old id is gone; the new id has its cursors.
    for (const c of [a, b]) {
      await until(() => metaNames(c.storage).every((n) => !n.includes(oldId)), 'the old id’s records are removed');
      expect(metaNames(c.storage).filter((n) => n.startsWith(`c:${relay.replica.replicaId}:`)).length).toBeGreaterThanOrEqual(SPACES.length);
    }
    // Restarted again and again, the clients' metadata stays the same size.
    const size = metaNames(b.storage).length;
    for (let i = 0; i < 3; i++) {
      const before = relay.replica.replicaId;
      await relay.close();
      relay = await relayOn(dataDir, port);
      await until(() => b.r.status === 'synced' && metaNames(b.storage).every((n) => !n.includes(before)), 'synced again, the old id forgotten', 10_000);
    }
    expect(metaNames(b.storage).length).toBe(size);
    // Everything arrived everywhere, as before.
    const fresh = await clientOf(relay.url);
    await synced(fresh.r);
    for (const s of SPACES) expect(await values(fresh.r, s)).toEqual(await values(a.r, s));
  }, 30_000);

  it('restored from an older copy of its directory: cursors taken after the copy are not honoured, and nothing is lost', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'concord-restore-'));
    const backup = await mkdtemp(join(tmpdir(), 'concord-backup-'));
    dirs.push(dataDir, backup);
    let relay = await relayOn(dataDir);
    const port = relay.port;
    let aHeld = false;
    const a = await clientOf(relay.url, () => aHeld);
    for (let i = 0; i < 5; i++) await a.r.space('docs').put(`early${i}`, i);
    await synced(a.r);
    await relay.close();
    await cp(dataDir, backup, { recursive: true });

    relay = await relayOn(dataDir, port);
    const b = await clientOf(relay.url);
    // b writes after the copy; a takes it from the relay's log, so a's cursor moves past what the copy holds.
    for (let i = 0; i < 30; i++) await b.r.space('docs').put(`late${i}`, i);
    await until(async () => Object.keys(await values(a.r, 'docs')).length === 35, 'a has b’s writes', 10_000);
    await synced(a.r, b.r);
    await closeAll(b.r);

    // The directory goes back to the copy; a newcomer writes more than a's cursor reached into the restored log,
    // so that cursor would name a position the restored log holds again, with other entries behind it.
    aHeld = true;
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
    await cp(backup, dataDir, { recursive: true });
    relay = await relayOn(dataDir, port);
    const c = await clientOf(relay.url);
    for (let i = 0; i < 60; i++) await c.r.space('docs').put(`after${i}`, i);
    await synced(c.r);

    a.runs.length = 0;
    aHeld = false;
    await until(async () => Object.keys(await values(a.r, 'docs')).length === 95, 'a gets every write the restored relay took', 15_000);
    await synced(a.r, c.r);
    await until(async () => Object.keys(await values(c.r, 'docs')).length === 95, 'the writes the relay lost come back from a', 15_000);
    expect(a.runs.filter((x) => x.onConnect).length, 'a repairs by anti-entropy').toBeGreaterThan(0);
  }, 60_000);
});
