/**
 * `synced` means caught up: a link may report it only once it holds what the peer's log held when the peer sent the
 * frames it read. The peer's hello announces its top; entries the peer committed after its hello (a writer's writes
 * racing a reconnect) used to be invisible to that rule: the link reported `synced` at the hello's top while the
 * peer's stream still carried newer entries, and `whenSynced()` resolved before they arrived. A peer speaking
 * protocol 9 now says how far its log reaches (TOP) whenever it grew past what the peer was told.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type StorageAdapter } from '../../lib/index.js';
import { synced, tapped } from './support.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';

/** Memory storage whose log reads return short pages and may run `hook` inside the first read (after reading it). */
function pagedStorage(pageSize: number): { storage: StorageAdapter; beforeFirstPage: (f: () => Promise<void>) => void } {
  const inner = memoryStorage();
  let hook: (() => Promise<void>) | undefined;
  const storage = new Proxy(inner, {
    get(target, p) {
      if (p === 'readLog') {
        return async (space: string, after: number, limit: number) => {
          const page = await target.readLog(space, after, Math.min(limit, pageSize));
          const f = hook;
          hook = undefined;
          if (f) await f();
          return page;
        };
      }
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, beforeFirstPage: (f) => (hook = f) };
}

describe('synced after a backlog the hello did not announce', () => {
  it('a link is not synced until it holds the entries its peer committed after its hello', async () => {
    const { storage, beforeFirstPage } = pagedStorage(40);
    const a = await openReplica({ storage });
    for (let i = 0; i < 200; i++) await a.space('s').put(`k${i}`, i);
    const b = await openReplica({ storage: memoryStorage() });
    const seen = new Set<string>();
    b.space('s').subscribe('*', (e) => seen.add(e.key));
    const atSynced: number[] = [];
    b.on('status', (status) => {
      if (status === 'synced') atSynced.push(seen.size);
    });
    // The peer's stream reads its first page after both hellos went: 30 writes land then, past the hello's top.
    beforeFirstPage(async () => {
      for (let i = 0; i < 30; i++) await a.space('s').put(`late${i}`, i);
    });
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    await b.whenSynced();
    expect(seen.size).toBe(230);
    // Every time b said it was synced, it held everything (the 30 late writes went before b could be caught up).
    expect(atSynced.length).toBeGreaterThan(0);
    expect(atSynced).toEqual(atSynced.map(() => 230));
    await Promise.all([a.close(), b.close()]);
  });

  it('whenSynced() resolves only with the late entries held', async () => {
    const { storage, beforeFirstPage } = pagedStorage(25);
    const a = await openReplica({ storage });
    for (let i = 0; i < 100; i++) await a.space('s').put(`k${i}`, i);
    const b = await openReplica({ storage: memoryStorage() });
    const space = b.space('s');
    beforeFirstPage(async () => {
      for (let i = 0; i < 10; i++) await a.space('s').put(`late${i}`, i);
    });
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    await b.whenSynced();
    for (let i = 0; i < 10; i++) expect((await space.get(`late${i}`))?.value).toBe(i);
    await Promise.all([a.close(), b.close()]);
  });

  it('a peer of an earlier release gets no TOP (it would refuse the type)', async () => {
    const { storage, beforeFirstPage } = pagedStorage(40);
    const a = await openReplica({ storage });
    for (let i = 0; i < 100; i++) await a.space('s').put(`k${i}`, i);
    const b = await openReplica({ storage: memoryStorage() });
    (b as unknown as { core: { speaks?: readonly number[] } }).core.speaks = PROTOCOL_VERSIONS.filter((v) => v < 9);
    beforeFirstPage(async () => {
      for (let i = 0; i < 10; i++) await a.space('s').put(`late${i}`, i);
    });
    const sent: Uint8Array[] = [];
    const [ta, tb] = pairTransports();
    a.connect(
      tapped(ta, (frame, conn) => {
        if (frame instanceof Uint8Array) sent.push(frame);
        conn.send(frame);
      }),
    );
    b.connect(tb);
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    await synced(a, b);
    await b.whenSynced();
    expect((await b.space('s').get('late9'))?.value).toBe(9);
    expect(sent.some((f) => f[0] === MsgType.Top)).toBe(false);
    expect(errors).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});
