import { describe, expect, it } from 'vitest';
import { ConcordError, memoryStorage, merges, openReplica, type ChangeEvent } from '../lib/index.js';
import { exchange, replicas, sync } from './support/replicas.js';

/** A wall clock the test moves. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, set: (ms: number) => void (t = ms) };
}

describe('get', () => {
  it('is undefined when absent, or when every surviving version is a tombstone', async () => {
    const [r] = await replicas(1);
    const s = r!.space('s');
    expect(await s.get('nope')).toBeUndefined();
    await s.put('k', 1);
    expect((await s.get('k'))!.value).toBe(1);
    await s.delete('k');
    expect(await s.get('k')).toBeUndefined();
    const rec = await r!.core.storage.get('s', 'k');
    expect(rec!.vs).toHaveLength(1);
    expect(rec!.vs[0]!.d).toBe(1);
  });

  it('orders siblings latest HLC first, then replicaId, identically on every replica', async () => {
    const c = clock();
    const [a, b, x] = await replicas(3, { now: c.now });
    // a and b write at the same wall time (the same HLC), x later.
    await a!.space('s').put('k', 'base');
    for (const r of [b!, x!]) await exchange(a!, r, 's', ['k']);
    c.set(1_700_000_001_000);
    await a!.space('s').put('k', 'from a');
    await b!.space('s').put('k', 'from b');
    c.set(1_700_000_002_000);
    await x!.space('s').put('k', 'from x');
    for (const r of [a!, b!, x!]) for (const to of [a!, b!, x!]) if (r !== to) await exchange(r, to, 's', ['k']);
    const got = (await a!.space('s').get('k'))!;
    const [first, second] = [a!, b!].sort((p, q) => (p.replicaId < q.replicaId ? -1 : 1));
    expect(got.siblings).toEqual(['from x', `from ${first === a ? 'a' : 'b'}`, `from ${second === a ? 'a' : 'b'}`]);
    expect(got.value).toBe('from x');
    expect(got.conflict).toBe(true);
    expect(got.versions.map((v) => v.replicaId)).toEqual([x!.replicaId, first!.replicaId, second!.replicaId]);
    // The same on every replica.
    expect(await b!.space('s').get('k')).toEqual(got);
    expect(await x!.space('s').get('k')).toEqual(got);
  });

  it('a delete concurrent with a write leaves a sibling, conflict true, and the tombstone in versions', async () => {
    const c = clock();
    const [a, b] = await replicas(2, { now: c.now });
    await a!.space('s').put('k', 'v1');
    await exchange(a!, b!, 's', ['k']);
    c.set(1_700_000_005_000);
    await a!.space('s').delete('k'); // later HLC than b's write: tombstones still come after live versions
    c.set(1_700_000_001_000);
    await b!.space('s').put('k', 'v2');
    await sync(a!, b!, 's', ['k']);
    for (const r of [a!, b!]) {
      const got = (await r.space('s').get('k'))!;
      expect(got.value).toBe('v2');
      expect(got.siblings).toEqual(['v2']);
      expect(got.conflict).toBe(true);
      expect(got.versions.map((v) => [v.replicaId, v.deleted])).toEqual([
        [b!.replicaId, false],
        [a!.replicaId, true],
      ]);
    }
  });
});

describe('put', () => {
  it('with a context supersedes exactly what that context saw', async () => {
    const [a, b] = await replicas(2);
    await a!.space('s').put('k', 'a1');
    const read = (await a!.space('s').get('k'))!;
    await b!.space('s').put('k', 'b1');
    await exchange(b!, a!, 's', ['k']); // a now holds a1 and b1; the read saw only a1
    await a!.space('s').put('k', 'a2', { context: read.context });
    const got = (await a!.space('s').get('k'))!;
    expect([...got.siblings].sort()).toEqual(['a2', 'b1']);
    expect(got.versions).toHaveLength(2);
  });

  it('without a context supersedes everything stored on this replica', async () => {
    const [a, b] = await replicas(2);
    await a!.space('s').put('k', 'a1');
    await b!.space('s').put('k', 'b1');
    await exchange(b!, a!, 's', ['k']);
    expect((await a!.space('s').get('k'))!.siblings).toHaveLength(2);
    await a!.space('s').put('k', 'a2');
    const got = (await a!.space('s').get('k'))!;
    expect(got.siblings).toEqual(['a2']);
    expect(got.conflict).toBe(false);
    // ...but not a version it has not received: b's concurrent write survives the exchange.
    await b!.space('s').put('k', 'b2');
    await exchange(b!, a!, 's', ['k']);
    expect([...(await a!.space('s').get('k'))!.siblings].sort()).toEqual(['a2', 'b2']);
  });
});

describe('scan', () => {
  it('yields every live key under a prefix, in key order, with its get() result', async () => {
    const [r] = await replicas(1);
    const s = r!.space('s');
    for (const k of ['cart/b', 'cart/a', 'cartx', 'cart/c/d', 'other', 'cart/gone']) await s.put(k, k.toUpperCase());
    await s.delete('cart/gone');
    const seen: Array<[string, unknown]> = [];
    for await (const e of s.scan('cart/', { pageSize: 2 })) {
      seen.push([e.key, e.value]);
      const { key, ...rest } = e;
      expect(rest).toEqual(await s.get(key));
    }
    expect(seen).toEqual([
      ['cart/a', 'CART/A'],
      ['cart/b', 'CART/B'],
      ['cart/c/d', 'CART/C/D'],
    ]);
    const all: string[] = [];
    for await (const e of s.scan()) all.push(e.key);
    expect(all).toEqual(['cart/a', 'cart/b', 'cart/c/d', 'cartx', 'other']);
  });
});

describe('subscribe', () => {
  it('fires for local and remote changes with their origin; * matches across /; unsubscribe stops it', async () => {
    const [a, b] = await replicas(2);
    const events: ChangeEvent[] = [];
    const stop = a!.space('s').subscribe('cart/*', (e) => events.push(e));
    await a!.space('s').put('cart/x/y', 1);
    await a!.space('s').put('note', 2); // does not match
    await a!.space('other').put('cart/z', 3); // another space
    await b!.space('s').put('cart/r', 4);
    await exchange(b!, a!, 's', ['cart/r']);
    await a!.space('s').delete('cart/x/y');
    expect(events).toEqual([
      { key: 'cart/x/y', value: 1, siblings: [1], conflict: false, deleted: false, origin: 'local' },
      { key: 'cart/r', value: 4, siblings: [4], conflict: false, deleted: false, origin: 'remote' },
      { key: 'cart/x/y', value: undefined, siblings: [], conflict: false, deleted: true, origin: 'local' },
    ]);
    stop();
    await a!.space('s').put('cart/after', 5);
    await b!.space('s').put('cart/r', 6);
    await exchange(b!, a!, 's', ['cart/r']);
    expect(events).toHaveLength(3);
  });

  it('a join that changes nothing fires nothing', async () => {
    const [a, b] = await replicas(2);
    await a!.space('s').put('k', 1);
    await exchange(a!, b!, 's', ['k']);
    const events: ChangeEvent[] = [];
    b!.space('s').subscribe('*', (e) => events.push(e));
    expect(await exchange(a!, b!, 's', ['k'])).toBe(0);
    expect(events).toEqual([]);
  });

  it('an exact pattern matches only that key; a throwing callback is reported on error', async () => {
    const [a] = await replicas(1);
    const errors: unknown[] = [];
    a!.on('error', (e) => errors.push(e));
    const keys: string[] = [];
    a!.space('s').subscribe('k', (e) => keys.push(e.key));
    a!.space('s').subscribe('*', () => {
      throw new Error('listener failed');
    });
    await a!.space('s').put('k', 1);
    await a!.space('s').put('k/2', 1);
    expect(keys).toEqual(['k']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener failed', 'listener failed']);
  });
});

describe('update', () => {
  it('is atomic: many concurrent counter increments on one replica lose nothing', async () => {
    const [r] = await replicas(1, { merge: { 'likes/*': merges.counter } });
    const s = r!.space('s');
    const N = 200;
    await Promise.all(Array.from({ length: N }, () => s.update('likes/p', (c) => merges.counter.increment(c as never, r!.replicaId, 1))));
    expect(merges.counter.value((await s.get('likes/p'))!.value as never)).toBe(N);
  });

  it('sees the merged value of siblings and supersedes them', async () => {
    const [a, b] = await replicas(2, { merge: { 'likes/*': merges.counter } });
    await a!.space('s').update('likes/p', (c) => merges.counter.increment(c as never, a!.replicaId, 2));
    await b!.space('s').update('likes/p', (c) => merges.counter.increment(c as never, b!.replicaId, 3));
    await exchange(b!, a!, 's', ['likes/p']);
    await a!.space('s').update('likes/p', (c) => merges.counter.increment(c as never, a!.replicaId, 1));
    const rec = await a!.core.storage.get('s', 'likes/p');
    expect(rec!.vs).toHaveLength(1);
    expect(merges.counter.value((await a!.space('s').get('likes/p'))!.value as never)).toBe(6);
  });
});

describe('lifecycle', () => {
  it('after close, operations fail with CLOSED', async () => {
    const [r] = await replicas(1);
    const s = r!.space('s');
    await s.put('k', 1);
    await r!.close();
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e) => (e instanceof ConcordError ? e.code : String(e)));
    expect(await code(s.put('k', 2))).toBe('CLOSED');
    expect(await code(s.get('k'))).toBe('CLOSED');
    expect(await code(s.delete('k'))).toBe('CLOSED');
    expect(await code(s.update('k', () => 3))).toBe('CLOSED');
    expect(await code(s.scan('').next())).toBe('CLOSED');
    await r!.close(); // closing twice is fine
  });

  it('replicaId is stable across reopen on the same storage object, and data survives', async () => {
    const storage = memoryStorage();
    const r1 = await openReplica({ storage });
    const id = r1.replicaId;
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    await r1.space('s').put('k', 'kept');
    await r1.close();
    const r2 = await openReplica({ storage });
    expect(r2.replicaId).toBe(id);
    expect((await r2.space('s').get('k'))!.value).toBe('kept');
    const w = await r2.space('s').put('k', 'next');
    expect(w.seq).toBeGreaterThan(1); // the sequence continues: no dot is reused
    const other = await openReplica({ storage: memoryStorage() });
    expect(other.replicaId).not.toBe(id);
  });

  it('space() returns the same object for a name', async () => {
    const [r] = await replicas(1);
    expect(r!.space('s')).toBe(r!.space('s'));
  });
});
