// The delta hooks the sync engine will call (docs/deltas.md): a change to a large value encodes as about the change,
// applies back to the same value, and is refused where it cannot be exact.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { yjsValue } from '../../adapters/yjs/index.js';
import { applyEncoded, DeltaError, diffEncoded, sameValue } from '../../lib/deltas.js';
import { merges } from '../../lib/index.js';
import { encodeValue } from '../../lib/values.js';
import { prng, testSeed } from '../support/replicas.js';

const SEED = testSeed();
const { counter } = merges;

describe('counter deltas', () => {
  it('apply(base, diff(base, next)) is next, byte for byte, for any next that grew from base', () => {
    const ids = ['ra', 'rb', 'rc', 'rd', 're', 'rf', 'rg', 'rh'];
    const ops = fc.array(fc.tuple(fc.constantFrom(...ids), fc.integer({ min: -5, max: 5 })), { maxLength: 30 });
    fc.assert(
      fc.property(ops, ops, (before, after) => {
        let c = counter.zero();
        for (const [r, by] of before) c = counter.increment(c, r, by);
        const base = encodeValue(c);
        for (const [r, by] of after) c = counter.increment(c, r, by);
        const next = encodeValue(c);
        const delta = diffEncoded(base, next);
        if (delta === undefined) return; // nothing smaller than the whole value
        expect(applyEncoded(base, delta)).toEqual(next);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('no delta when next lacks some of base (a concurrent value): the full value is sent', () => {
    const a = counter.increment(counter.increment(undefined, 'ra', 5), 'rb', 1);
    const b = counter.increment(undefined, 'ra', 9);
    expect(diffEncoded(encodeValue(a), encodeValue(b))).toBeUndefined();
    expect(diffEncoded('"plain"', encodeValue(b))).toBeUndefined();
  });
});

/** A document edited by a seeded random typist: inserts and deletes, many of them (a long history of deletions). */
function typist(seed: number, keystrokes: number): Y.Doc {
  const rnd = prng(seed);
  const doc = new Y.Doc();
  const t = doc.getText('body');
  for (let i = 0; i < keystrokes; i++) {
    if (t.length > 10 && rnd() < 0.3) t.delete(Math.floor(rnd() * t.length), 1);
    else t.insert(Math.floor(rnd() * (t.length + 1)), String.fromCharCode(97 + Math.floor(rnd() * 26)));
  }
  return doc;
}

describe('Yjs document deltas', () => {
  it('a keystroke into a large, long-edited document costs about what y-websocket sends for it', () => {
    const doc = typist(SEED, 15_000);
    let base = encodeValue(yjsValue(Y.encodeStateAsUpdate(doc))) as Uint8Array;
    for (const edit of [(t: Y.Text) => t.insert(Math.floor(t.length / 2), 'x'), (t: Y.Text) => t.delete(Math.floor(t.length / 3), 1)]) {
      let update: Uint8Array | undefined;
      doc.once('update', (u: Uint8Array) => (update = u));
      edit(doc.getText('body'));
      const next = encodeValue(yjsValue(Y.encodeStateAsUpdate(doc))) as Uint8Array;
      const delta = diffEncoded(base, next)!;
      expect(base.length, `SEED=${SEED}`).toBeGreaterThan(8_000);
      expect(delta.length, `SEED=${SEED}: delta ${delta.length} B vs the keystroke's update ${update!.length} B`).toBeLessThanOrEqual(update!.length * 1.5 + 8);
      const applied = applyEncoded(base, delta);
      expect(sameValue(applied, next)).toBe(true);
      const d = new Y.Doc();
      Y.applyUpdate(d, (applied as Uint8Array).subarray(5)); // past the typed header: 0x01, 3, 'yjs'
      expect(d.getText('body').toString()).toBe(doc.getText('body').toString());
      base = next;
    }
  });

  it('applies to any base the next includes, over many random edit runs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 40 }), (seed, first, more) => {
        const doc = typist(seed, first);
        const base = encodeValue(yjsValue(Y.encodeStateAsUpdate(doc)));
        const rnd = prng(seed + 1);
        const t = doc.getText('body');
        for (let i = 0; i < more; i++) {
          if (t.length > 0 && rnd() < 0.4) t.delete(Math.floor(rnd() * t.length), 1 + Math.floor(rnd() * Math.min(3, t.length - 1)));
          else t.insert(Math.floor(rnd() * (t.length + 1)), 'yz');
        }
        const next = encodeValue(yjsValue(Y.encodeStateAsUpdate(doc)));
        const delta = diffEncoded(base, next);
        if (delta === undefined) return;
        expect(sameValue(applyEncoded(base, delta), next)).toBe(true);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('no delta against a base the next does not include; a delta that does not apply is a DeltaError', () => {
    const a = typist(1, 200);
    const b = typist(2, 200);
    const va = encodeValue(yjsValue(Y.encodeStateAsUpdate(a)));
    const vb = encodeValue(yjsValue(Y.encodeStateAsUpdate(b)));
    expect(diffEncoded(va, vb)).toBeUndefined();
    expect(sameValue(va, vb)).toBe(false);
    expect(() => applyEncoded(va, Uint8Array.of(200, 7, 7))).toThrow(DeltaError);
    expect(() => applyEncoded('"plain"', Uint8Array.of(0))).toThrow(DeltaError);
  });
});
