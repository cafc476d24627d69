import { describe, expect, it } from 'vitest';
import { replicas, sync } from './support/replicas.js';

describe("Riak's sibling explosion, replayed through one replica", () => {
  it('two clients writing 101 times, interleaved, each with its own last read, end with exactly 2 siblings', async () => {
    const [replica] = await replicas(1);
    const space = replica!.space('s');
    await space.put('k', 'v0');
    // Both clients read first, then alternate: write with the context of their own last read, read again.
    const ctx: Record<string, string> = {};
    for (const c of ['A', 'B']) ctx[c] = (await space.get('k'))!.context;
    for (let i = 1; i <= 101; i++) {
      for (const c of ['A', 'B']) {
        await space.put('k', `${c}${i}`, { context: ctx[c] });
        ctx[c] = (await space.get('k'))!.context;
        const r = await space.get('k');
        // Never more than the two clients' latest writes (explosion), never fewer than 2 after both wrote (lost update).
        expect(r!.versions.length, `after ${c}${i}`).toBe(c === 'A' && i === 1 ? 1 : 2);
      }
    }
    const r = (await space.get('k'))!;
    expect(r.conflict).toBe(true);
    expect([...r.siblings].sort()).toEqual(['A101', 'B101']);
    expect(r.versions.every((v) => v.replicaId === replica!.replicaId && !v.deleted)).toBe(true);
    // The app resolves with the context of its read: one value remains.
    await space.put('k', 'resolved', { context: r.context });
    expect((await space.get('k'))!.siblings).toEqual(['resolved']);
  });

  it('Riak-style: each put carries the context returned by that client’s previous put', async () => {
    const [replica] = await replicas(1);
    const space = replica!.space('s');
    const ctx: Record<string, string | undefined> = { A: '', B: '' };
    for (let i = 1; i <= 101; i++) {
      for (const c of ['A', 'B']) {
        const w = await space.put('k', `${c}${i}`, { context: ctx[c]! });
        ctx[c] = w.context;
      }
    }
    const r = (await space.get('k'))!;
    expect(r.versions).toHaveLength(2);
    expect([...r.siblings].sort()).toEqual(['A101', 'B101']);
  });

  it('two tabs with older contexts: both writes through one replica survive', async () => {
    const [replica] = await replicas(1);
    const space = replica!.space('s');
    await space.put('k', 'base');
    const tab1 = (await space.get('k'))!.context;
    const tab2 = (await space.get('k'))!.context;
    await space.put('k', 'from tab 1', { context: tab1 });
    await space.put('k', 'from tab 2', { context: tab2 });
    const r = (await space.get('k'))!;
    expect(r.conflict).toBe(true);
    expect([...r.siblings].sort()).toEqual(['from tab 1', 'from tab 2']);
    expect(r.versions).toHaveLength(2);
  });

  it('the same tabs case survives exchange with another replica', async () => {
    const [a, b] = await replicas(2);
    const sa = a!.space('s');
    await sa.put('k', 'base');
    await sync(a!, b!, 's', ['k']);
    const ctx = (await sa.get('k'))!.context;
    await sa.put('k', 'one', { context: ctx });
    await sync(a!, b!, 's', ['k']); // b now holds 'one' only
    await sa.put('k', 'two', { context: ctx }); // concurrent with 'one', same replica
    await sync(a!, b!, 's', ['k']);
    for (const r of [a!, b!]) {
      const got = (await r.space('s').get('k'))!;
      expect([...got.siblings].sort()).toEqual(['one', 'two']);
    }
  });
});
