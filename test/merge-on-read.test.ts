import { describe, expect, it } from 'vitest';
import { ConcordError, merges, type MergeFn, type MergeInfo, type Replica } from '../lib/index.js';
import { exchange, replicas, seqOf, sync } from './support/replicas.js';

/** A merge that names itself, so a test sees which one ran. A join: a sorted, de-duplicated list. */
const tagged = (name: string): MergeFn => (siblings: unknown[]) => `${name}(${[...new Set(siblings.map(String).flatMap((s) => s.replace(/^\w+\(|\)$/g, '').split(',')))].sort().join(',')})`;

/** Two replicas holding the same two concurrent siblings of each key. */
async function conflicted(keys: string[], options: Parameters<typeof replicas>[1] = {}, [x, y]: unknown[] = ['x', 'y'], space = 's'): Promise<[Replica, Replica]> {
  const [a, b] = await replicas(2, options);
  for (const k of keys) {
    await a!.space(space).put(k, x);
    await b!.space(space).put(k, y);
  }
  await sync(a!, b!, space, keys);
  return [a!, b!];
}

describe('merge functions by pattern', () => {
  it('the most specific pattern wins; space-level tables take precedence over the replica’s', async () => {
    const [a] = await conflicted(['cart/x', 'cart/ab', 'misc', 'doc/a', 'exact'], {
      merge: { '*': tagged('any'), 'cart/*': tagged('cart'), 'cart/a*': tagged('carta'), exact: tagged('exact'), 'ex*': tagged('ex') },
    });
    const s = a.space('s', { merge: { 'doc/*': tagged('doc') } });
    const value = async (k: string) => (await s.get(k))!.value;
    expect(await value('cart/x')).toBe('cart(x,y)');
    expect(await value('cart/ab')).toBe('carta(x,y)');
    expect(await value('misc')).toBe('any(x,y)');
    expect(await value('exact')).toBe('exact(x,y)');
    expect(await value('doc/a')).toBe('doc(x,y)');
  });

  it('a space-level catch-all beats a more specific replica-level pattern', async () => {
    const [a] = await conflicted(['cart/x'], { merge: { 'cart/x': tagged('replica') } });
    expect((await a.space('s', { merge: { '*': tagged('space') } }).get('cart/x'))!.value).toBe('space(x,y)');
  });

  it('the merge function gets siblings and info.versions describing them', async () => {
    const calls: Array<[unknown[], MergeInfo]> = [];
    const [a] = await conflicted(['k'], { merge: { k: (s, info) => (calls.push([s, info]), 'm') } });
    await a.space('s').get('k');
    expect(calls).toHaveLength(1);
    const [siblings, info] = calls[0]!;
    expect(info.key).toBe('k');
    expect(info.space).toBe('s');
    expect(info.versions.map((v) => v.value)).toEqual(siblings);
    expect(info.versions.every((v) => !v.deleted && typeof v.counter === 'number' && typeof v.hlc.ms === 'number')).toBe(true);
  });
});

describe('merge on read', () => {
  it('returns the merged value and writes it back with the joined context', async () => {
    const [a, b] = await conflicted(['cart'], { merge: { cart: merges.union } }, [['x'], ['y']]);
    const got = (await a.space('s').get('cart'))!;
    expect(got.value).toEqual(['x', 'y']);
    expect(got.siblings).toEqual([['x', 'y']]);
    expect(got.conflict).toBe(false);
    expect(got.versions).toHaveLength(1);
    expect(got.versions[0]!.replicaId).toBe(a.replicaId);
    const rec = await a.core.storage.get('s', 'cart');
    expect(rec!.vs).toHaveLength(1);
    // Read again: nothing more is written.
    const seq = await seqOf(a);
    expect(await a.space('s').get('cart')).toEqual(got);
    expect(await seqOf(a)).toBe(seq);
    // b learns the merge and it supersedes both siblings there too.
    await exchange(a, b, 's', ['cart']);
    expect((await b.core.storage.get('s', 'cart'))!.vs).toHaveLength(1);
  });

  it('equal merged values count as one: replicas merging at once, then exchanging, neither conflict nor write again', async () => {
    const [a, b] = await conflicted(['cart'], { merge: { cart: merges.union } }, [['x'], ['y']]);
    await Promise.all([a.space('s').get('cart'), b.space('s').get('cart')]); // both write back ['x','y']
    await sync(a, b, 's', ['cart']);
    const seqs = [await seqOf(a), await seqOf(b)];
    for (const r of [a, b]) {
      const got = (await r.space('s').get('cart'))!;
      expect(got.value).toEqual(['x', 'y']);
      expect(got.conflict).toBe(false);
      expect(got.siblings).toHaveLength(1);
    }
    expect([await seqOf(a), await seqOf(b)]).toEqual(seqs);
    expect(await exchange(a, b, 's', ['cart'])).toBe(0);
    expect(await exchange(b, a, 's', ['cart'])).toBe(0);
  });

  it('without a merge function, value is the latest-HLC sibling, the same on every replica', async () => {
    let t = 1_700_000_000_000;
    const [a, b] = (await replicas(2, { now: () => t })) as [Replica, Replica];
    t += 10;
    await b.space('s').put('k', 'older');
    t += 10;
    await a.space('s').put('k', 'newer');
    await sync(a, b, 's', ['k']);
    const seq = await seqOf(a);
    for (const r of [a, b]) {
      const got = (await r.space('s').get('k'))!;
      expect(got.value).toBe('newer');
      expect(got.siblings).toEqual(['newer', 'older']);
      expect(got.conflict).toBe(true);
    }
    expect(await seqOf(a)).toBe(seq); // no merge, no write
  });

  it('read repair does not resurrect siblings that a write committed meanwhile superseded', async () => {
    const [a] = await conflicted(['cart'], { merge: { cart: merges.union } }, [['x'], ['y']]);
    const s = a.space('s');
    // The get reads both siblings; the put (no context: supersedes what is stored) commits before the write-back.
    const [read] = await Promise.all([s.get('cart'), s.put('cart', ['z'])]);
    expect(read!.value).toEqual(['x', 'y']);
    const after = (await s.get('cart'))!;
    expect(after.value).toEqual(['z']);
    expect((await a.core.storage.get('s', 'cart'))!.vs).toHaveLength(1);
  });

  it('a read-only space merges without writing back and refuses writes with FORBIDDEN', async () => {
    const [a] = await conflicted(['cart'], { merge: { cart: merges.union } }, [['x'], ['y']]);
    const s = a.space('s', { readOnly: true });
    const seq = await seqOf(a);
    const got = (await s.get('cart'))!;
    expect(got.value).toEqual(['x', 'y']);
    expect(got.conflict).toBe(false);
    expect(await seqOf(a)).toBe(seq);
    expect((await a.core.storage.get('s', 'cart'))!.vs).toHaveLength(2);
    for (const attempt of [() => s.put('cart', ['z']), () => s.delete('cart'), () => s.update('cart', () => ['z'])]) {
      await expect(attempt()).rejects.toSatisfy((e) => e instanceof ConcordError && e.code === 'FORBIDDEN');
    }
    expect(await seqOf(a)).toBe(seq);
  });

  it('merges.lww lets a later concurrent delete win, and an earlier one lose', async () => {
    let t = 1_700_000_000_000;
    const [a, b] = (await replicas(2, { now: () => t, merge: { '*': merges.lww } })) as [Replica, Replica];
    await a.space('s').put('late-delete', 'v0');
    await a.space('s').put('early-delete', 'v0');
    await sync(a, b, 's', ['late-delete', 'early-delete']);
    t += 10;
    await a.space('s').put('late-delete', 'v1');
    await b.space('s').delete('early-delete');
    t += 10;
    await b.space('s').delete('late-delete');
    await a.space('s').put('early-delete', 'v1');
    await sync(a, b, 's', ['late-delete', 'early-delete']);
    expect(await a.space('s').get('late-delete')).toBeUndefined();
    // The winning delete was written back: only tombstones are left.
    expect((await a.core.storage.get('s', 'late-delete'))!.vs.every((v) => v.d === 1)).toBe(true);
    const early = (await a.space('s').get('early-delete'))!;
    expect(early.value).toBe('v1');
    expect(early.conflict).toBe(false);
    expect((await a.core.storage.get('s', 'early-delete'))!.vs).toHaveLength(1);
  });

  it('a throwing merge function reports an error event and returns the unmerged siblings', async () => {
    const [a] = await conflicted(['k'], {
      merge: {
        k: () => {
          throw new Error('bad merge');
        },
      },
    });
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    const seq = await seqOf(a);
    const got = (await a.space('s').get('k'))!;
    expect([...got.siblings].sort()).toEqual(['x', 'y']);
    expect(got.conflict).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConcordError);
    expect((errors[0] as ConcordError).code).toBe('MERGE_FAILED');
    expect(((errors[0] as ConcordError).cause as Error).message).toBe('bad merge');
    expect(await seqOf(a)).toBe(seq);
  });
});
