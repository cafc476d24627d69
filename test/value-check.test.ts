/**
 * checkData keeps one stack between walks (a put of an object allocated one before): a walk must see nothing of
 * the walk before it, and a walk started inside another (a getter of the value runs code) must not disturb it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { checkData } from '../lib/value-check.js';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
};

describe('checkData', () => {
  it('names the path of the walk that failed, not of a deeper walk before it', () => {
    expect(messageOf(() => checkData({ a: { b: { c: [1, { d: () => 1 }] } } }))).toMatch(/^value\.a\.b\.c\[1\]\.d is a function/);
    expect(messageOf(() => checkData({ x: Symbol('s') }))).toMatch(/^value\.x is a symbol/);
    const shared = { n: 1 };
    expect(checkData({ a: shared, b: shared })).toBe(true); // the same object twice is no cycle
    const cyclic: Record<string, unknown> = { k: [] };
    (cyclic.k as unknown[]).push(cyclic);
    expect(messageOf(() => checkData(cyclic))).toMatch(/^value\.k\[0\] is a cyclic reference/);
    expect(checkData({ deep: { er: [1, 2, { t: 'x' }] } })).toBe(true);
    expect(checkData({ when: new Date(0) })).toBe(false);
  });

  it('a walk inside another (a getter that checks data itself) leaves the outer walk whole', () => {
    const inner: unknown[] = [];
    const value = {
      first: { x: 1 },
      get second() {
        inner.push(messageOf(() => checkData({ deep: { deeper: { f: () => 1 } } })), checkData({ m: new Map() }));
        return { y: [1, 2] };
      },
      third: { z: { f: () => 1 } },
    };
    expect(messageOf(() => checkData(value))).toMatch(/^value\.third\.z\.f is a function/);
    expect(inner).toEqual([expect.stringMatching(/^value\.deep\.deeper\.f is a function/), false]);
    expect(checkData({ after: ['plain'] })).toBe(true);
  });

  it('forgets the values it walked (the kept stack holds no reference to them)', async () => {
    let collected = false;
    const registry = new FinalizationRegistry(() => (collected = true));
    (() => {
      const big = { payload: { items: [{ a: 1 }] } };
      registry.register(big.payload.items[0]!, 'item');
      checkData(big);
    })();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 10 && !collected; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(collected).toBe(true);
  });
});
