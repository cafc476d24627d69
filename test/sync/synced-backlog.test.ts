/**
 * `synced` means caught up: a link may report it only once it holds what the peer's log held when the peer sent the
 * frames it read. The peer's hello announces its top; entries the peer committed after its hello (a writer's writes
 * racing a reconnect) used to be invisible to that rule: the link reported `synced` at the hello's top while the
 * peer's stream still carried newer entries, and `whenSynced()` resolved before they arrived. A peer speaking
 * protocol 9 now says how far its log reaches (TOP) whenever it grew past what the peer was told.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { pagedStorage, synced, tapped } from './support.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { cursorKey } from '../../lib/sync/lineage.js';

/**
 * `a` holding `keys` keys, its log read in pages of `pageSize`, and a fresh `b`; `late` writes land on `a` inside the
 * first page read of its stream to b, after both hellos went (past the top a's hello announced). `tap` sees a's frames.
 */
async function lateWrites(pageSize: number, keys: number, late: number, tap?: (frame: Uint8Array) => void) {
  const { storage, beforeFirstPage } = pagedStorage(pageSize);
  const a = await openReplica({ storage });
  for (let i = 0; i < keys; i++) await a.space('s').put(`k${i}`, i);
  const b = await openReplica({ storage: memoryStorage() });
  beforeFirstPage(async () => {
    for (let i = 0; i < late; i++) await a.space('s').put(`late${i}`, i);
  });
  const connect = (speaks?: readonly number[]) => {
    if (speaks) (b as unknown as { core: { speaks?: readonly number[] } }).core.speaks = speaks;
    const [ta, tb] = pairTransports();
    a.connect(tap ? tapped(ta, (frame, conn) => (frame instanceof Uint8Array && tap(frame), conn.send(frame))) : ta);
    b.connect(tb);
  };
  return { a, b, connect, close: () => Promise.all([a.close(), b.close()]) };
}

describe('synced after a backlog the hello did not announce', () => {
  it('a link is not synced until it holds the entries its peer committed after its hello', async () => {
    const { a, b, connect, close } = await lateWrites(40, 200, 30);
    const seen = new Set<string>();
    b.space('s').subscribe('*', (e) => seen.add(e.key));
    const atSynced: number[] = [];
    b.on('status', (status) => {
      if (status === 'synced') atSynced.push(seen.size);
    });
    connect();
    await synced(a, b);
    await b.whenSynced();
    expect(seen.size).toBe(230);
    // Every time b said it was synced, it held everything (the 30 late writes went before b could be caught up).
    expect(atSynced.length).toBeGreaterThan(0);
    expect(atSynced).toEqual(atSynced.map(() => 230));
    await close();
  });

  it('whenSynced() resolves only with the late entries held', async () => {
    const { b, connect, close } = await lateWrites(25, 100, 10);
    connect();
    await b.whenSynced();
    for (let i = 0; i < 10; i++) expect((await b.space('s').get(`late${i}`))?.value).toBe(i);
    await close();
  });

  it('a peer of an earlier release gets no TOP (it would refuse the type)', async () => {
    const sent: Uint8Array[] = [];
    const { a, b, connect, close } = await lateWrites(40, 100, 10, (f) => sent.push(f));
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    connect(PROTOCOL_VERSIONS.filter((v) => v < 9));
    await synced(a, b);
    await b.whenSynced();
    expect((await b.space('s').get('late9'))?.value).toBe(9);
    expect(sent.some((f) => f[0] === MsgType.Top)).toBe(false);
    expect(errors).toEqual([]);
    await close();
  });
});

describe('TOP after an anti-entropy run', () => {
  it("a run that stores the peer's versions as it sent them tells it no TOP (it holds them): no extra round trip", async () => {
    // Two replicas with the same 300 keys and no cursor for each other; `a` then rewrites 3 of them. The run that
    // repairs `b` stores a's states exactly as sent (echoes of a's writes): b's log grows past the top its hello
    // announced, but nothing in it is news to a. Telling a TOP there made a wait for one more frame of b's (a third
    // round trip in BENCHMARKS S2 at d = 1).
    const a = await openReplica({ storage: memoryStorage() });
    for (let i = 0; i < 300; i++) await a.space('s').put(`k${i}`, i);
    const b = await openReplica({ storage: memoryStorage() });
    b.space('s');
    await b.core.join('s', (await a.core.storage.scan('s', { limit: 1000 })).map(([k, rec]) => [k, { vs: rec.vs, cc: rec.cc }]));
    for (const i of [7, 150, 299]) await a.space('s').put(`k${i}`, -i);
    // Each holds a cursor into the other's log that names no epoch of it: no catch-up, an anti-entropy run (as BENCHMARKS S2).
    for (const [r, peer] of [[a, b], [b, a]] as const) await r.core.storage.transact((tx) => tx.setMeta(cursorKey(peer.replicaId, 's'), { e: '', s: 0 }));
    const fromB: Uint8Array[] = [];
    const [ta, tb] = pairTransports();
    a.connect(ta, { antiEntropyInterval: 0 });
    b.connect(tapped(tb, (frame, conn) => (frame instanceof Uint8Array && fromB.push(frame), conn.send(frame))), { antiEntropyInterval: 0 });
    await synced(a, b);
    for (const i of [7, 150, 299]) expect((await b.space('s').get(`k${i}`))?.value).toBe(-i);
    expect(fromB.filter((f) => f[0] === MsgType.AntiEntropy).length).toBeGreaterThan(0); // the repair was a run
    expect(fromB.filter((f) => f[0] === MsgType.Top)).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});
