/**
 * A counter's entries per incarnation (merges/counter.ts `entryOf`): a replica that starts a counter after its first
 * write keys its entry `<id>~<n>` by that write's seq, so a counter re-created after a delete never shares an entry
 * with the deleted one (test/sync/counter-after-delete.test.ts is the case end to end). Here: which entry an increment
 * takes, what forged keys can make it do, ids too long for the suffix, and that an increment adds exactly what it says
 * to whatever counter it is handed (the join is the per-key max it always was: its laws are merges.test.ts's).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { merges } from '../lib/index.js';
import { Counter, type CounterValue } from '../lib/merges/index.js';
import { counterType } from '../lib/merges/counter.js';
import { mintingWrite } from '../lib/minting.js';

const { counter } = merges;
const E = 'eeeeeeeeeeeeeeee';
/** `increment` as a write of `id` above log seq `floor` computes it; the counter and the highest counter it minted. */
const inWrite = (c: CounterValue | undefined, id: string, floor: number, by = 1) => mintingWrite(id, undefined, floor, () => counter.increment(c, id, by));
const keys = (c: CounterValue) => [...Object.keys(c.p), ...Object.keys(c.n)];

describe('counter incarnations', () => {
  it('a replica\'s first write, or an increment outside a write, keys the plain id (what every release wrote)', () => {
    expect(keys(inWrite(undefined, E, 0)[0])).toEqual([E]);
    expect(keys(counter.increment(undefined, E, 1))).toEqual([E]);
  });

  it('a counter started above log seq n keys <id>~(n+1), and the write\'s dot goes at or above it', () => {
    const [c, top] = inWrite(undefined, E, 35);
    expect(c.p).toEqual({ [`${E}~10`]: 1 });
    expect(top).toBe(36);
    // Its next increments, in later writes, bump that entry; a decrement takes the same incarnation on its side.
    const [c2] = inWrite(c, E, 40, 2);
    const [c3, top3] = inWrite(c2, E, 41, -1);
    expect(c3.p).toEqual({ [`${E}~10`]: 3 });
    expect(c3.n).toEqual({ [`${E}~10`]: 1 });
    expect(top3).toBe(41); // no new incarnation minted: the write's dot is its own seq
    expect(counter.value(c3)).toBe(2);
  });

  it('beside an older incarnation (brought back by a write concurrent with the delete) bumps the newest', () => {
    const back = new Counter({ [E]: 5, [`${E}~a`]: 1, w: 1 }, {});
    const [c] = inWrite(back, E, 50);
    expect(c.p).toEqual({ [E]: 5, [`${E}~a`]: 2, w: 1 });
    // The newest counts across sides: an entry of incarnation 10 on n makes p's next increment incarnation 10 too.
    const [d] = inWrite(new Counter({ [E]: 5 }, { [`${E}~a`]: 1 }), E, 50);
    expect(d.p).toEqual({ [E]: 5, [`${E}~a`]: 1 });
  });

  it('forged keys: another id\'s or a malformed suffix is not ours; a well-formed one of ours is bumped as our own', () => {
    const forged = new Counter({ [`${E}x~5`]: 9, [`${E}~0`]: 9, [`${E}~zzzzzzzzzzzz`]: 9, [`${E}~-1`]: 9, [`${E}~5~5`]: 9 }, {});
    const [c] = inWrite(forged, E, 7);
    expect(c.p[`${E}~8`]).toBe(1); // none of them was taken for ours: a new incarnation
    expect(counter.value(c)).toBe(46);
    // A peer may write any key, ours included (no key is signed): a huge incarnation of ours is then the entry we
    // bump. Nothing is lost by it — our increments still add — and it is no more than writing `E` itself could do.
    const big = new Counter({ [`${E}~${Number.MAX_SAFE_INTEGER.toString(36)}`]: 3 }, {});
    const [b] = inWrite(big, E, 7);
    expect(counter.value(b)).toBe(4);
    expect(keys(b)).toEqual([`${E}~${Number.MAX_SAFE_INTEGER.toString(36)}`]);
    // Names of inherited members are ids like any other.
    const [k] = inWrite(new Counter({ constructor: 2 }, {}), 'constructor', 9);
    expect(k.p).toEqual({ constructor: 3 });
  });

  it('an id too long for the suffix keys a stem every decoder takes, its own, apart from ids sharing its start', () => {
    const long = 'L'.repeat(32) + 'a'.repeat(28); // 60 characters: `<id>~<n>` could pass 64
    const other = 'L'.repeat(32) + 'b'.repeat(28);
    const [c] = inWrite(undefined, long, Number.MAX_SAFE_INTEGER - 1);
    expect(keys(c)[0]).toMatch(/^L{32}\.[0-9a-z]+~[0-9a-z]{11}$/);
    const [c2] = inWrite(c, other, Number.MAX_SAFE_INTEGER - 1);
    const [c3] = inWrite(c2, long, Number.MAX_SAFE_INTEGER);
    expect(keys(c3)).toHaveLength(2);
    for (const k of keys(c3)) expect(k.length).toBeLessThanOrEqual(64);
    expect(counter.value(c3)).toBe(3);
    expect(counterType.decode(counterType.encode(c3))).toEqual(c3);
  });

  it('an increment adds exactly `by` to any counter a peer could send, and the result supersedes it (property)', () => {
    const id = fc.constantFrom(E, 'w', `${E}x`);
    const key = fc.oneof(id, fc.tuple(id, fc.oneof(fc.integer({ min: 1, max: 99 }), fc.constant(Number.MAX_SAFE_INTEGER))).map(([r, n]) => `${r}~${n.toString(36)}`), fc.string({ minLength: 1, maxLength: 64 }));
    const rec = fc.dictionary(key, fc.integer({ min: 0, max: 1000 }), { maxKeys: 6 }).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== '__proto__')));
    fc.assert(
      fc.property(rec, rec, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -50, max: 50 }), (p, n, floor, by) => {
        const c = new Counter(p, n);
        const [next] = inWrite(c, E, floor, by);
        expect(counter.value(next) - counter.value(c)).toBe(by);
        expect(counter([c, next], { key: 'k', space: 's' } as never)).toEqual(next);
        expect(counterType.decode(counterType.encode(next))).toEqual(next);
      }),
      { seed: Number(process.env.SEED ?? 51), numRuns: 300 },
    );
  });
});
