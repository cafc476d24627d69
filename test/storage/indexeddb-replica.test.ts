// Two replica instances over one IndexedDB database (two tabs of an origin, here in one Node process with
// fake-indexeddb; Node's BroadcastChannel carries the hints): one replica, no duplicate dot, and each
// instance's subscribers see the other's writes, in every space.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { openReplica } from '../../lib/index.js';

describe('replicas sharing one IndexedDB database (fake-indexeddb)', () => {
  it('share the replicaId, mint distinct dots, and see each other’s writes in every space', async () => {
    const factory = new IDBFactory();
    const a = await openReplica({ storage: indexedDBStorage('shared', { indexedDB: factory }) });
    const b = await openReplica({ storage: indexedDBStorage('shared', { indexedDB: factory }) });
    expect(b.replicaId).toBe(a.replicaId);

    const seen: string[] = [];
    let wake: () => void = () => {};
    for (const name of ['s1', 's2', 's3']) {
      a.space(name).subscribe('*', (c) => {
        seen.push(`${name}/${c.key}`);
        wake();
      });
    }
    // b writes to several spaces back to back: hints for s1 may be read when s2's commit is already there.
    await b.space('s1').put('x', 1);
    await b.space('s2').put('y', 2);
    await b.space('s3').put('z', 3);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).space('s1').put(`k${i}`, i)));
    const want = ['s1/x', 's2/y', 's3/z', ...Array.from({ length: 10 }, (_, i) => `s1/k${2 * i}`)].sort();
    // Bounded wait (hints are asynchronous), then assert on what arrived.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
    let late = false;
    void deadline.then(() => ((late = true), wake()));
    while (!late && want.some((w) => !seen.includes(w))) await new Promise<void>((resolve) => (wake = resolve));
    expect(seen.filter((s) => want.includes(s)).sort()).toEqual(want);

    const dots = new Set<string>();
    for (const name of ['s1', 's2', 's3']) {
      for await (const r of a.space(name).scan('')) for (const v of r.versions) dots.add(`${v.replicaId}:${v.counter}`);
    }
    expect(dots.size).toBe(23);
    await a.close();
    await b.close();
  });
});
