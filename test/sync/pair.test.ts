import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { dump, synced, until } from './support.js';

describe('sync over pairTransports', () => {
  it('concurrent offline writes show the same siblings on both sides after connecting', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    await a.space('s').put('note', 'from a');
    await b.space('s').put('note', 'from b');
    await a.space('s').put('only-a', 1);
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    const ra = await a.space('s').get('note');
    const rb = await b.space('s').get('note');
    expect(ra?.conflict).toBe(true);
    expect(rb?.siblings).toEqual(ra?.siblings);
    expect([...ra!.siblings].sort()).toEqual(['from a', 'from b']);
    expect(rb?.value).toEqual(ra?.value);
    expect((await b.space('s').get('only-a'))?.value).toBe(1);
    await a.close();
    await b.close();
  });

  it('live changes flow, w.synced resolves, and a–b–c chains converge', async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => openReplica({ storage: memoryStorage() })));
    for (const r of [a!, b!, c!]) r.space('s');
    const [t1, t2] = pairTransports();
    const [t3, t4] = pairTransports();
    a!.connect(t1);
    b!.connect(t2);
    b!.connect(t3);
    c!.connect(t4);
    await synced(a!, b!, c!);
    const seen: string[] = [];
    c!.space('s').subscribe('*', (e) => seen.push(`${e.key}=${String(e.value)}:${e.origin}`));
    const w = await a!.space('s').put('x', 'hello');
    await w.synced;
    expect(w.durability).toBe('synced');
    await until(async () => (await c!.space('s').get('x'))?.value === 'hello', 'x on c');
    expect(seen).toEqual(['x=hello:remote']);
    await c!.space('s').delete('x');
    await until(async () => (await a!.space('s').get('x')) === undefined, 'delete reaches a');
    await Promise.all([a!, b!, c!].map((r) => r.close()));
  });

  it('reconnect after offline writes on both sides converges, without streaming back what the peer sent', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    const la = a.connect(ta);
    b.connect(tb);
    for (let i = 0; i < 50; i++) await a.space('s').put(`k${i}`, i);
    await synced(a, b);
    la.close();
    await until(() => a.status === 'offline', 'a offline');
    for (let i = 0; i < 10; i++) await a.space('s').put(`k${i}`, `a${i}`);
    for (let i = 5; i < 15; i++) await b.space('s').put(`k${i}`, `b${i}`);
    const before = { ...tb.stats };
    a.connect(ta);
    await synced(a, b);
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    const k7 = await a.space('s').get('k7');
    expect(k7?.siblings.sort()).toEqual(['a7', 'b7']);
    // b sent only its own 10 changes back, not the 50 it received from a.
    expect(tb.stats.bytes - before.bytes).toBeLessThan(1000);
    await a.close();
    await b.close();
  });
});

describe('frame limits', () => {
  it('a value larger than the connection’s frame limit is reported, and everything else still syncs', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    const errors: Array<{ code?: string }> = [];
    a.on('error', (e) => errors.push(e as { code?: string }));
    const bErrors: Array<{ code?: string; message?: string }> = [];
    b.on('error', (e) => bErrors.push(e as { code?: string }));
    await a.space('s').put('big', 'x'.repeat(20_000));
    for (let i = 0; i < 30; i++) await a.space('s').put(`small${i}`, i);
    const [ta, tb] = pairTransports({ maxFrameBytes: 4096 });
    a.connect(ta);
    b.connect(tb);
    await until(async () => (await b.space('s').get('small29'))?.value === 29, 'the small keys arrive');
    await until(() => errors.some((e) => e.code === 'VALUE_TOO_LARGE'), 'the report');
    expect(await b.space('s').get('big')).toBeUndefined();
    // The reader is told which key it lacks (protocol 12, lib/sync/lacks.ts) and does not say synced while it lacks it.
    await until(() => bErrors.some((e) => e.code === 'VALUE_TOO_LARGE' && /"big"/.test(e.message ?? '')), 'the reader told');
    expect(b.status).not.toBe('synced');
    // The write that cannot go stays pending, and the writer does not say synced (test/sync/withheld.test.ts).
    expect(a.pending).toBe(1);
    expect(a.status).not.toBe('synced');
    await a.close();
    await b.close();
  });
});

describe('an unreachable peer', () => {
  it('reports the first failed attempt of an outage, not every retry', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    const errors: unknown[] = [];
    r.on('error', (e) => errors.push(e));
    let attempts = 0;
    const link = r.connect(
      { label: 'nowhere', open: async () => (attempts++, Promise.reject(new Error('connection refused'))) },
      { backoff: { base: 1, max: 2 } },
    );
    await until(() => attempts >= 5, 'five attempts');
    link.close();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('connection refused');
    await r.close();
  });
});
