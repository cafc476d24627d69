import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMerge, type MergeFn } from '../lib/index.js';

const numbers = [1, 2, 3, 5, 8, 13, 21];

describe('checkMerge finds broken laws, with a counterexample', () => {
  it('non-commutative: the first sibling', async () => {
    const r = await checkMerge((s) => s[0], numbers, { seed: 1 });
    expect(r).toMatchObject({ ok: false, law: 'commutativity' });
    if (r.ok) return;
    const [a, b] = r.counterexample.inputs as number[];
    expect(a).not.toBe(b);
    expect(r.counterexample.results).toEqual([a, b]);
  });

  it('non-associative: the average', async () => {
    const r = await checkMerge((s: number[]) => s.reduce((x, y) => x + y, 0) / s.length, numbers, { seed: 2 });
    expect(r).toMatchObject({ ok: false, law: 'associativity' });
    if (r.ok) return;
    expect(r.counterexample.inputs).toHaveLength(3);
    const [left, right] = r.counterexample.results as number[];
    expect(left).not.toBe(right);
  });

  it('non-idempotent: the sum', async () => {
    const r = await checkMerge((s: number[]) => s.reduce((x, y) => x + y, 0), numbers, { seed: 3 });
    expect(r).toMatchObject({ ok: false, law: 'idempotence' });
    if (r.ok) return;
    const [a] = r.counterexample.inputs as number[];
    expect(r.counterexample.results).toEqual([2 * a!]);
  });

  it('non-deterministic: a merge whose result changes from call to call', async () => {
    let calls = 0;
    const flaky: MergeFn<number> = (s) => (calls++ % 2 ? Math.max(...s) : Math.min(...s));
    const r = await checkMerge(flaky, numbers, { seed: 4 });
    expect(r).toMatchObject({ ok: false, law: 'determinism' });
    if (!r.ok) expect(new Set(r.counterexample.results as number[]).size).toBe(2);
  });

  // A random pick also breaks commutativity and associativity; whichever check trips first names the law.
  it('non-deterministic: Math.random is always caught, mostly as determinism', async () => {
    const laws = new Set<string>();
    for (let seed = 10; seed < 20; seed++) {
      const r = await checkMerge((s) => s[Math.random() < 0.5 ? 0 : 1], numbers, { seed });
      expect(r.ok).toBe(false);
      if (!r.ok) laws.add(r.law);
    }
    expect(laws.has('determinism')).toBe(true);
    expect(laws.has('idempotence')).toBe(false);
  });

  it('a throwing merge is reported with its error', async () => {
    const boom = new Error('boom');
    const r = await checkMerge(() => {
      throw boom;
    }, numbers);
    expect(r).toMatchObject({ ok: false, law: 'error' });
    if (!r.ok) expect(r.counterexample.error).toBe(boom);
  });

  it('reports the seed, and the seed replays the same result', async () => {
    const fn: MergeFn = (s) => s[0];
    const r = await checkMerge(fn, numbers);
    expect(await checkMerge(fn, numbers, { seed: r.seed })).toEqual(r);
  });
});

describe('checkMerge accepts lawful merges', () => {
  it('max over an array of samples', async () => {
    expect(await checkMerge((s: number[]) => Math.max(...s), numbers)).toMatchObject({ ok: true });
  });

  it('a fast-check arbitrary as samples', async () => {
    const r = await checkMerge((s: number[]) => Math.min(...s), fc.integer(), { runs: 100 });
    expect(r).toMatchObject({ ok: true, runs: 100 });
    // ...and it draws from the arbitrary: a non-commutative merge is caught with values from it.
    const bad = await checkMerge((s) => s[1], fc.integer({ min: 1000, max: 2000 }), { seed: 5 });
    expect(bad).toMatchObject({ ok: false, law: 'commutativity' });
    if (!bad.ok) for (const x of bad.counterexample.inputs as number[]) expect(x).toBeGreaterThanOrEqual(1000);
  });

  it('compares by structure: a Set in a different insertion order is the same result', async () => {
    const setUnion: MergeFn<Set<number>> = (s) => new Set([...s[0]!, ...s[1]!]); // insertion order depends on argument order
    const samples = [new Set([1]), new Set([2, 3]), new Set([3, 1]), new Set<number>()];
    expect(await checkMerge(setUnion, samples)).toMatchObject({ ok: true });
  });

  it('Map, Date and BigInt compare by value', async () => {
    const latestDate: MergeFn<Date> = (s) => new Date(Math.max(...s.map((d) => d.getTime()))); // a new object each time
    expect(await checkMerge(latestDate, [new Date(1), new Date(5), new Date(3)])).toMatchObject({ ok: true });
    const maxBig: MergeFn<bigint> = (s) => (s[0]! > s[1]! ? s[0]! : s[1]!);
    expect(await checkMerge(maxBig, [1n, 2n ** 70n, -5n])).toMatchObject({ ok: true });
    const mapUnion: MergeFn<Map<string, bigint>> = (s) => {
      const out = new Map<string, bigint>();
      for (const m of s) for (const [k, v] of m) out.set(k, (out.get(k) ?? v) > v ? out.get(k)! : v);
      return out;
    };
    const maps = [new Map([['a', 1n]]), new Map([['b', 2n], ['a', 3n]]), new Map<string, bigint>()];
    expect(await checkMerge(mapUnion, maps)).toMatchObject({ ok: true });
    // By value, not by JSON: these differ only in values JSON cannot tell apart (Map contents, BigInt).
    const wrong: MergeFn<Map<string, bigint>> = (s) => s[0]!;
    expect(await checkMerge(wrong, maps, { seed: 6 })).toMatchObject({ ok: false, law: 'commutativity' });
  });

  it('rejects missing samples', async () => {
    await expect(checkMerge((s) => s[0], [])).rejects.toThrow(TypeError);
    await expect(checkMerge((s) => s[0], 'nope' as never)).rejects.toThrow(TypeError);
  });
});
