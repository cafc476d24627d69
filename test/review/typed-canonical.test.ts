// Typed values that every replica must read alike (val49's leftovers): a counter whose finite counts sum past the
// doubles read Infinity (or NaN, both sides past), and two sets holding one tag for different items (a forged tag: a
// decoded set never holds one tag twice, but two replicas' sets may each hold it once) merged by the order of the
// siblings — convergent only where every replica happens to see them in one order. fast-check prints its seed on
// failure; SEED=<n> replays it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddWins, addWinsType, type AddWinsEntry } from '../../lib/merges/add-wins.js';
import { Counter, counterType } from '../../lib/merges/counter.js';
import { merges } from '../../lib/index.js';

const { counter } = merges;
const MAX = Number.MAX_VALUE;

describe('a counter whose counts sum past the doubles', () => {
  it('reads a finite value, saturated at ±Number.MAX_VALUE, never Infinity or NaN', () => {
    expect(counter.value(new Counter({ a: MAX, b: MAX }, {}))).toBe(MAX);
    expect(counter.value(new Counter({}, { a: MAX, b: MAX }))).toBe(-MAX);
    // Both sides past the doubles: their difference, not NaN.
    expect(counter.value(new Counter({ a: MAX, b: MAX }, { c: MAX, d: MAX }))).toBe(0);
    expect(counter.value(new Counter({ a: MAX, b: MAX }, { c: MAX }))).toBe(MAX);
    expect(counter.value(new Counter({ a: MAX, b: MAX, c: MAX }, { d: MAX / 2 }))).toBe(MAX);
    // Below the bound nothing changes: the plain sum.
    expect(counter.value(new Counter({ a: 0.1, b: 0.2 }, { c: 0.3 }))).toBe(0.1 + 0.2 - 0.3);
  });

  it('the merge of two replicas each at a finite count reads finite, whatever the order of the siblings', () => {
    const a = counter.increment(undefined, 'a', MAX);
    const b = counter.increment(undefined, 'b', MAX);
    const ab = counterType.merge!([a, b]);
    expect(counterType.decode(counterType.encode(ab))).toEqual(ab);
    expect(counter.value(ab)).toBe(MAX);
    expect(counter.value(counterType.merge!([b, a]))).toBe(MAX);
  });

  it('value() is finite for any finite counts, and the plain sum wherever that is finite (property)', () => {
    const count = fc.oneof(fc.constant(MAX), fc.double({ min: 0, max: MAX, noNaN: true }), fc.nat());
    const rec = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), count);
    fc.assert(
      fc.property(rec, rec, (p, n) => {
        const c = new Counter(p, n);
        const v = counter.value(c);
        expect(Number.isFinite(v)).toBe(true);
        const plain = Object.values(c.n).reduce((s, x) => s - x, Object.values(c.p).reduce((s, x) => s + x, 0)); // as before
        if (Number.isFinite(plain)) expect(v).toBe(plain);
        // Past the doubles on one side only, the sign is that side's.
        const past = (r: Record<string, number>) => !Number.isFinite(Object.values(r).reduce((s, x) => s + x, 0));
        if (past(p) && Object.values(n).every((x) => x === 0)) expect(v).toBe(MAX);
      }),
    );
  });
});

describe('add-wins sets holding one tag for different items', () => {
  it('merge to one set whatever the order of the siblings', () => {
    const a = new AddWins([['milk', 'zz', 1]], { zz: 1 });
    const b = new AddWins([['evil', 'zz', 1]], { zz: 1 });
    const ab = addWinsType.merge!([a, b]);
    const ba = addWinsType.merge!([b, a]);
    expect(addWinsType.encode(ab)).toEqual(addWinsType.encode(ba));
    // One entry under the tag (a set holding two would not decode).
    expect(addWinsType.decode(addWinsType.encode(ab)).e).toHaveLength(1);
  });

  it('the merge of any siblings, forged tags among them, is the same for every order (property)', () => {
    const replica = fc.constantFrom('x', 'y', 'z');
    // Small items and counters, so that tags collide often across sets, each set holding a tag at most once.
    const entry = fc.tuple(fc.constantFrom('milk', 'eggs', 'tea', { n: 1 }, 2), replica, fc.integer({ min: 1, max: 3 }));
    const set = fc.uniqueArray(entry, { selector: (x) => x[1] + ':' + x[2], maxLength: 6 }).chain((e) => {
      const cc: Record<string, number> = {};
      for (const [, r, n] of e) cc[r] = Math.max(cc[r] ?? 0, n);
      // The context may have seen more than it holds (removed tags).
      return fc.record({ x: fc.nat(3), y: fc.nat(3), z: fc.nat(3) }).map((extra) => {
        for (const r of ['x', 'y', 'z'] as const) if (extra[r] > 0 || cc[r] !== undefined) cc[r] = Math.max(cc[r] ?? 0, extra[r]);
        return new AddWins(e.map((x) => [...x] as AddWinsEntry), cc);
      });
    });
    fc.assert(
      fc.property(fc.array(set, { minLength: 2, maxLength: 4 }), fc.nat(), (sets, k) => {
        const out = addWinsType.merge!(sets);
        const shuffled = [...sets];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (k + i * 7) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        expect(addWinsType.encode(addWinsType.merge!(shuffled))).toEqual(addWinsType.encode(out));
        expect(addWinsType.encode(addWinsType.merge!([...sets].reverse()))).toEqual(addWinsType.encode(out));
        // A join: merging the result again with any input changes nothing; and what it gives decodes.
        expect(addWinsType.encode(addWinsType.merge!([out, sets[0]!]))).toEqual(addWinsType.encode(out));
        expect(() => addWinsType.decode(addWinsType.encode(out))).not.toThrow();
      }),
    );
  });
});
