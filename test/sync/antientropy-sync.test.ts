import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { dump, synced } from './support.js';

async function filled(n: number, tweak: (i: number) => unknown = (i) => i): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  const s = r.space('s');
  for (let i = 0; i < n; i++) {
    const v = tweak(i);
    if (v !== undefined) await s.put(`k${i}`, v);
  }
  return r;
}

/** Copies every record of `from` into `to` (as a relay would have), so both hold the same states without a cursor. */
async function copyAll(from: Replica, to: Replica): Promise<void> {
  const page = await from.core.storage.scan('s', { limit: 1e9 });
  await to.core.join('s', page.map(([k, rec]) => [k, { vs: rec.vs, cc: rec.cc }] as const));
}

describe('anti-entropy on connect without a valid cursor', () => {
  it('repairs scattered differences both ways and ends with equal states', async () => {
    const a = await filled(2000);
    const b = await openReplica({ storage: memoryStorage() });
    b.space('s');
    await copyAll(a, b);
    // Scattered differences on both sides, plus keys only one side has.
    for (let i = 0; i < 2000; i += 97) await a.space('s').put(`k${i}`, `a${i}`);
    for (let i = 50; i < 2000; i += 211) await b.space('s').put(`k${i}`, `b${i}`);
    await a.space('s').put('only-a', 1);
    await b.space('s').put('only-b', 2);
    const runs: Array<import('../../lib/index.js').AntiEntropyRun> = [];
    b.on('antiEntropy', (run) => runs.push(run));
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    expect((await b.space('s').get('k97'))?.value).toBe('a97');
    // b's view of the run: it received a's 21 changed keys and only-a, and repaired exactly those.
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ space: 's', peer: a.replicaId, onConnect: true, keysRepaired: 22 });
    expect(runs[0]!.turns).toBeGreaterThanOrEqual(2);
    expect(runs[0]!.bytes).toBeGreaterThan(0);
    expect((await a.space('s').get('k50'))?.value).toBe('b50');
    // Far less than re-sending 2000 keys (each ~40 bytes on the wire).
    expect(ta.stats.bytes + tb.stats.bytes).toBeLessThan(20_000);
    // Afterwards the link streams live changes from the cursor the anti-entropy run established.
    await a.space('s').put('after', true);
    await synced(a, b);
    expect((await b.space('s').get('after'))?.value).toBe(true);
    await a.close();
    await b.close();
  });

  it('equal replicas without a cursor settle with a handful of bytes', async () => {
    const a = await filled(3000);
    const b = await openReplica({ storage: memoryStorage() });
    b.space('s');
    await copyAll(a, b);
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    expect(ta.stats.bytes + tb.stats.bytes).toBeLessThan(1500);
    await a.close();
    await b.close();
  });
});
