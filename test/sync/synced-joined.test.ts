/**
 * `synced` means caught up, and caught up means joined: a client that received its relay's frame says 'synced' (and
 * `whenSynced()` resolves) only once the frame's join committed, so `await replica.whenSynced(); space.get(k)` reads
 * a key its peer's synced write carried. The client's storage here holds the commit of a join that writes `k` until
 * the test lets it go (file storage and IndexedDB answer a join late the same way: after an fsync, a transaction).
 * Cases: a LIVE frame arriving while the client is synced; the catch-up of a client that connects to a relay holding
 * N keys; the same at protocol 10; a join that fails (the link closes, never synced on its word); a reconnect while
 * the held join runs.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { memoryStorage, openReplica, type Replica, type StorageAdapter, type StorageTx, type Transport } from '../../lib/index.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { overriding } from '../support/storage-proxy.js';
import { tabGroup, withShared } from '../support/tab-group.js';
import { gate } from './gate.js';
import { relayWithWriter, synced, tick, until } from './support.js';

/** Memory storage that holds the commit of a transaction writing `key` in `space` while armed: `reached` once one waits. */
function heldJoins(space: string, key: string, inner: StorageAdapter = memoryStorage()) {
  let armed = false;
  let fail = false;
  let waiting = 0;
  let go: (() => void) | undefined;
  let gate = Promise.resolve();
  const watch = (tx: StorageTx, seen: { key: boolean }) =>
    new Proxy(tx, {
      get(t, prop) {
        if (prop === 'put') {
          return (s: string, k: string, rec: Parameters<StorageTx['put']>[2]) => {
            if (s === space && k === key) seen.key = true;
            t.put(s, k, rec);
          };
        }
        const v = Reflect.get(t, prop, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  const overrides: Partial<StorageAdapter> = {
    // Armed, every transaction takes the late path: a join answers after its commit, as on disk.
    transactNow: (fn) => (armed || !inner.transactNow ? undefined : inner.transactNow(fn)),
    transact: (fn) =>
      inner.transact(async (tx) => {
        const seen = { key: false };
        const v = await fn(watch(tx, seen));
        if (seen.key && armed) {
          waiting++;
          await gate;
          waiting--;
          if (fail) throw new Error('disk failed (test)');
        }
        return v;
      }),
  };
  const storage = overriding(inner, overrides);
  const self = {
    storage,
    arm(failing = false) {
      armed = true;
      fail = failing;
      gate = new Promise<void>((r) => (go = r));
    },
    get waiting() {
      return waiting;
    },
    release() {
      armed = false;
      go?.();
    },
  };
  gates.push(self);
  return self;
}

const gates: Array<{ release(): void }> = [];

const open: Replica[] = [];
afterEach(async () => {
  for (const g of gates.splice(0)) g.release(); // a test that failed holding a join: its replica closes all the same
  for (const r of open.splice(0).reverse()) await r.close().catch(() => {});
});

/** Whether `p` settled within a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 5; i++) await tick();
  return done;
}

async function relayAndWriter(speaks?: readonly number[]) {
  const o = speaks ? { speaks } : {};
  return { ...(await relayWithWriter('s', open, o)), o };
}

/** A client of `mem` on storage holding joins of k, opened with `o`, connected over `transport` and synced with `writer`. */
async function heldClient(mem: { transport(): Transport }, writer: Replica, o: { speaks?: readonly number[] } = {}, transport = mem.transport()) {
  const held = heldJoins('s', 'k');
  const client = await openReplica({ storage: held.storage, ...o });
  open.push(client);
  client.space('s');
  client.connect(transport);
  await synced(writer, client);
  return { held, client };
}

describe('synced only once what was received is joined', () => {
  it.each([
    ['11', undefined],
    ['10', SPEAKS_10],
  ])('protocol %s: a LIVE frame arriving while synced: not synced, whenSynced waits, until its join committed', async (_, speaks) => {
    const { mem, writer, o } = await relayAndWriter(speaks);
    const { held, client } = await heldClient(mem, writer, o);
    const statuses: string[] = [];
    client.on('status', (st) => statuses.push(st));
    held.arm();
    const w = await writer.space('s').put('k', 1);
    await w.synced; // the relay holds it
    await until(() => held.waiting === 1, 'the client joins k (held)');
    expect(client.status).not.toBe('synced');
    const waited = client.whenSynced();
    expect(await settles(waited)).toBe(false);
    expect(await client.space('s').get('k')).toBeUndefined(); // not readable yet: the join has not committed
    held.release();
    await waited;
    expect((await client.space('s').get('k'))?.value).toBe(1);
    expect(statuses).toEqual(['syncing', 'synced']);
  });

  it.each([
    ['11', undefined],
    ['10', SPEAKS_10],
  ])('protocol %s: a client connecting to a relay holding N keys is synced only once the last is joined', async (_, speaks) => {
    const { relay, mem, writer, o } = await relayAndWriter(speaks);
    for (let i = 0; i < 50; i++) await writer.space('s').put(`k${i}`, i);
    await writer.space('s').put('k', 'last');
    await synced(writer);
    void relay;
    const held = heldJoins('s', 'k');
    const client = await openReplica({ storage: held.storage, ...o });
    open.push(client);
    client.space('s');
    held.arm();
    const atSynced: boolean[] = [];
    client.on('status', (st) => st === 'synced' && atSynced.push(held.waiting === 0));
    client.connect(mem.transport());
    await until(() => held.waiting === 1, 'the client joins k (held)');
    expect(client.status).not.toBe('synced');
    const waited = client.whenSynced();
    expect(await settles(waited)).toBe(false);
    held.release();
    await waited;
    expect((await client.space('s').get('k'))?.value).toBe('last');
    expect((await client.space('s').get('k49'))?.value).toBe(49);
    expect(atSynced).toEqual([true]);
  });

  it('frames queued behind a held join count too: synced once the last one received is joined', async () => {
    const { mem, writer } = await relayAndWriter();
    const { held, client } = await heldClient(mem, writer);
    held.arm();
    await writer.space('s').put('k', 1);
    await until(() => held.waiting === 1, 'the client joins k (held)');
    for (let i = 0; i < 5; i++) await (await writer.space('s').put(`z${i}`, i)).synced; // each behind k's join at the client
    const waited = client.whenSynced();
    expect(await settles(waited)).toBe(false);
    held.release();
    await waited;
    for (let i = 0; i < 5; i++) expect((await client.space('s').get(`z${i}`))?.value).toBe(i);
  });

  it('a LIVE frame whose join fails: the link closes and the client is not synced on its word', async () => {
    const { mem, writer } = await relayAndWriter();
    const held = heldJoins('s', 'k');
    const client = await openReplica({ storage: held.storage });
    open.push(client);
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.space('s');
    client.connect(mem.transport());
    await synced(writer, client);
    const atSynced: boolean[] = [];
    client.on('status', (st) => st === 'synced' && atSynced.push(held.waiting === 0));
    held.arm(true);
    await writer.space('s').put('k', 1);
    await until(() => held.waiting === 1, 'the client joins k (held)');
    expect(client.status).not.toBe('synced');
    const waited = client.whenSynced();
    held.release(); // the commit fails: the session closes, the link reconnects and catches up again
    await waited;
    expect(errors.length).toBeGreaterThan(0);
    expect((await client.space('s').get('k'))?.value).toBe(1);
    expect(atSynced.every((x) => x)).toBe(true);
  });

  it('a reconnect while a join is held: synced only once k is readable', async () => {
    const { mem, writer } = await relayAndWriter();
    const line = gate(mem.transport());
    const { held, client } = await heldClient(mem, writer, {}, line.transport);
    held.arm();
    await writer.space('s').put('k', 1);
    await until(() => held.waiting === 1, 'the client joins k (held)');
    line.drop(); // the connection goes while the join is held; the link opens another
    await until(() => client.status !== 'synced', 'the drop seen');
    const waited = client.whenSynced();
    expect(await settles(waited)).toBe(false);
    held.release();
    await waited;
    expect((await client.space('s').get('k'))?.value).toBe(1);
  });

  it("tabs: a follower shows the leader's status, which leaves synced while the leader joins a LIVE frame", async () => {
    const { mem, writer } = await relayAndWriter();
    const factory = new IDBFactory();
    const name = `synced-joined-${Math.random().toString(36).slice(2)}`;
    const group = tabGroup();
    const tabs: Replica[] = [];
    const gates: Array<ReturnType<typeof heldJoins>> = [];
    for (let i = 0; i < 2; i++) {
      const member = group.member(`tab${i}`);
      const held = heldJoins('s', 'k', indexedDBStorage(name, { indexedDB: factory }));
      const r = await openReplica({ storage: withShared(held.storage, member), sharedNetwork: { beatMs: 150, probeTimeoutMs: 150, timers: member.timers } });
      r.space('s');
      gates.push(held);
      tabs.push(r);
      open.push(r);
    }
    for (const t of tabs) t.connect(mem.transport());
    await until(() => tabs.every((t) => t.status === 'synced'), 'both tabs synced');
    const follower = tabs[group.holder === 'tab0' ? 1 : 0]!;
    for (const g of gates) g.arm();
    await writer.space('s').put('k', 1);
    await until(() => gates.some((g) => g.waiting === 1), 'the leader joins k (held)');
    await until(() => follower.status !== 'synced', "the follower hears the leader's status");
    const waited = follower.whenSynced();
    expect(await settles(waited)).toBe(false);
    for (const g of gates) g.release();
    await waited;
    expect((await follower.space('s').get('k'))?.value).toBe(1);
  });

  it('file storage: whenSynced right after a LIVE frame arrived resolves with its keys readable', async () => {
    const { mem, writer } = await relayAndWriter();
    const dir = mkdtempSync(path.join(tmpdir(), 'concord-synced-joined-'));
    try {
      let arrived = 0;
      const inner = mem.transport();
      const counted: Transport = { ...inner, open: (h) => inner.open({ ...h, onMessage: (f) => (arrived++, h.onMessage(f)) }) };
      const client = await openReplica({ storage: fileStorage(dir) });
      open.push(client);
      client.space('s');
      client.connect(counted);
      await synced(writer, client);
      for (let i = 0; i < 5; i++) {
        const before = arrived;
        await writer.space('s').put(`f${i}`, i);
        await until(() => arrived > before, 'the LIVE frame arrived');
        await client.whenSynced(); // the frame's join into file storage answers after its fsync
        expect((await client.space('s').get(`f${i}`))?.value).toBe(i);
      }
      await client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
