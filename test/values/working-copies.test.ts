/**
 * Working copies (lib/working-copies.ts): a chain of deltas over a large value is materialized every so many deltas
 * (deltas.ts chainBound); the copy made the last time takes the next deltas in place instead of decoding the whole
 * value again, and follows the chain as each version is stored (settle), so materializing is one encode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { yjsValue } from '../../adapters/yjs/index.js';
import { chainBound, derive, MAX_CHAIN, MAX_LONG_CHAIN, settle, valueOf } from '../../lib/deltas.js';
import type { StoredVersion } from '../../lib/dvv.js';
import { registerValueType, typedBytes, TypedBytes, type ValueType } from '../../lib/typed.js';
import { decodeValue, encodeValue } from '../../lib/values.js';
import { dropWorkingCopies, keptCopies, MAX_COPIES, MIN_BYTES } from '../../lib/working-copies.js';
import { bytesType } from '../support/bytes-type.js';

/** A text type whose delta appends its bytes ('!' refuses to apply); counts what its working copies do. */
const counts = { opened: 0, disposed: 0, applied: 0, stepped: 0, encoded: 0 };
const text = (p: Uint8Array) => new TextDecoder().decode(p);
const bytes = (s: string) => new TextEncoder().encode(s);
const appendType: ValueType<TypedBytes> = {
  ...bytesType('test-append'),
  apply: (base, d) => {
    counts.applied++;
    if (d[0] === 33) throw new Error('refused');
    return typedBytes('test-append', bytes(text(base) + text(d)));
  },
  checkDelta: () => {},
  applySize: (size, d) => size + d.length,
  working: {
    open(p: Uint8Array) {
      counts.opened++;
      return { s: text(p) };
    },
    step(c: { s: string }, d: Uint8Array) {
      if (d[0] === 33) throw new Error('refused');
      counts.stepped++;
      c.s += text(d);
    },
    encode: (c: { s: string }) => (counts.encoded++, bytes(c.s)),
    dispose: () => void counts.disposed++,
  },
};
registerValueType(appendType);

afterEach(() => {
  dropWorkingCopies();
  counts.opened = counts.disposed = counts.applied = counts.stepped = counts.encoded = 0;
});

/** A version holding `payload` whole, then `n` versions each derived from the one before by `delta(i)`. */
function chain(payload: Uint8Array, n: number, delta: (i: number) => Uint8Array, wrap = (p: Uint8Array) => typedBytes('test-append', p)): StoredVersion[] {
  const out: StoredVersion[] = [{ r: 'w', n: 1, t: 1, c: 0, v: encodeValue(wrap(payload)) }];
  for (let i = 1; i <= n; i++) out.push(derive({ r: 'w', n: i + 1, t: i + 1, c: 0 }, [out[i - 1]!], delta(i), i));
  return out;
}

const valueText = (v: StoredVersion) => text(decodeValue(valueOf(v)) as TypedBytes);

describe('working copies', () => {
  it('a chain materialized again takes only its new deltas into the copy made last time', () => {
    const base = 'x'.repeat(MIN_BYTES);
    const vs = chain(bytes(base), 2 * MAX_CHAIN, (i) => bytes(`<${i}>`));
    expect(valueText(vs[MAX_CHAIN]!)).toBe(base + Array.from({ length: MAX_CHAIN }, (_, i) => `<${i + 1}>`).join(''));
    expect(counts.opened).toBe(1);
    expect(keptCopies()).toBe(1);
    expect(valueText(vs[2 * MAX_CHAIN]!)).toBe(base + Array.from({ length: 2 * MAX_CHAIN }, (_, i) => `<${i + 1}>`).join(''));
    expect(counts.opened).toBe(1); // the copy of vs[MAX_CHAIN]'s value took the next deltas
    expect(counts.applied).toBe(0); // `apply` (a decode of the base each time) is not used at all
  });

  it('a value taken twice (two versions derived from one base) finds the copy once and opens its own the second time', () => {
    const vs = chain(bytes('y'.repeat(MIN_BYTES)), 1, () => bytes('a'));
    valueOf(vs[1]!);
    const mid = vs[1]!;
    const left = derive({ r: 'w', n: 10, t: 10, c: 0 }, [mid], bytes('L'), 2);
    const right = derive({ r: 'v', n: 1, t: 11, c: 0 }, [mid], bytes('R'), 2);
    expect(valueText(left).endsWith('aL')).toBe(true);
    expect(valueText(right).endsWith('aR')).toBe(true); // not 'aLR': the copy moved to left's value
    expect(counts.opened).toBe(2);
  });

  it('a delta that fails drops the copy (never kept half-applied) and reports the failure', () => {
    const vs = chain(bytes('z'.repeat(MIN_BYTES)), 3, (i) => bytes(i === 3 ? '!' : `${i}`));
    expect(valueText(vs[1]!).endsWith('1')).toBe(true);
    expect(keptCopies()).toBe(1);
    expect(() => valueOf(vs[3]!)).toThrow(/does not apply/);
    expect(keptCopies()).toBe(0);
    expect(counts.disposed).toBe(1);
    // The good prefix still reads, from a fresh copy.
    expect(valueText(vs[2]!).endsWith('12')).toBe(true);
    expect(counts.opened).toBe(2);
  });

  it('keeps the most recent few large values only, and none small', () => {
    for (let i = 0; i < MAX_COPIES + 3; i++) valueOf(chain(bytes(`${i}`.repeat(MIN_BYTES)), 1, () => bytes('+'))[1]!);
    expect(keptCopies()).toBe(MAX_COPIES);
    expect(counts.disposed).toBe(3);
    dropWorkingCopies();
    valueOf(chain(bytes('small'), 1, () => bytes('+'))[1]!);
    expect(keptCopies()).toBe(0);
  });

  it('a copy follows its chain as each version is stored: materializing the head is one encode, no step', () => {
    const base = 'f'.repeat(MIN_BYTES);
    const vs = chain(bytes(base), 1, () => bytes('<1>'));
    valueOf(vs[1]!); // a copy now stands for vs[1]'s value
    for (let i = 2; i <= 40; i++) {
      vs.push(derive({ r: 'w', n: i + 1, t: i + 1, c: 0 }, [vs[i - 1]!], bytes(`<${i}>`), i));
      settle(vs[i]!, 1 << 30); // what storing it does (record.ts, the sync engine's joins)
      expect(counts.stepped).toBe(i); // taken now, one delta a write
      expect(vs[i]!.v).toBeUndefined(); // still held as its chain
    }
    const encodes = counts.encoded;
    expect(valueText(vs[40]!)).toBe(base + Array.from({ length: 40 }, (_, i) => `<${i + 1}>`).join(''));
    expect(counts.encoded).toBe(encodes + 1);
    expect(counts.stepped).toBe(40);
    expect(counts.opened).toBe(1);
    expect(counts.applied).toBe(0);
    // A version derived from a base the copy moved past (a sibling of vs[40]) reads right from a copy of its own.
    const sibling = derive({ r: 'v', n: 1, t: 99, c: 0 }, [vs[39]!], bytes('S'), 39);
    settle(sibling, 1 << 30);
    expect(valueText(sibling)).toBe(base + Array.from({ length: 39 }, (_, i) => `<${i + 1}>`).join('') + 'S');
    expect(counts.opened).toBe(2);
  });

  it('a delta that fails while the copy follows drops the copy; the chain then reads (or fails) as without one', () => {
    const vs = chain(bytes('g'.repeat(MIN_BYTES)), 1, () => bytes('1'));
    valueOf(vs[1]!);
    vs.push(derive({ r: 'w', n: 3, t: 3, c: 0 }, [vs[1]!], bytes('!'), 2));
    settle(vs[2]!, 1 << 30);
    expect(keptCopies()).toBe(0);
    expect(counts.disposed).toBe(1);
    expect(() => valueOf(vs[2]!)).toThrow(/does not apply/);
    expect(valueText(vs[1]!).endsWith('1')).toBe(true);
  });

  it('a chain over a large value may grow longer before it is materialized: one derivation per KiB of the value', () => {
    expect(chainBound(1000)).toBe(MAX_CHAIN);
    expect(chainBound(300 << 10)).toBe(300);
    expect(chainBound(100 << 20)).toBe(MAX_LONG_CHAIN);
    const grow = (size: number, n: number) => {
      const vs = chain(bytes('h'.repeat(size)), 0, () => bytes(''));
      for (let i = 1; i <= n; i++) {
        vs.push(derive({ r: 'w', n: i + 1, t: i + 1, c: 0 }, [vs[i - 1]!], bytes('.'), i));
        settle(vs[i]!, 1 << 30);
      }
      return vs.findIndex((v, i) => i > 0 && v.v !== undefined); // the first version materialized by settle
    };
    expect(grow(MIN_BYTES, 100)).toBe(MAX_CHAIN + 1);
    expect(grow(300 << 10, 400)).toBe(301);
  });

  it('a Yjs document: the same text as loading the base and applying every delta, from one load for two materializations', () => {
    const doc = new Y.Doc();
    const t = doc.getText('body');
    t.insert(0, 'lorem ipsum '.repeat(3000));
    const base = Y.encodeStateAsUpdate(doc);
    const deltas: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => deltas.push(u));
    for (let i = 0; i < 2 * MAX_CHAIN; i++) i % 5 === 4 ? t.delete(i * 7, 3) : t.insert(i * 11, `k${i}`);
    const vs = chain(base, deltas.length, (i) => deltas[i - 1]!, yjsValue);
    const read = (v: StoredVersion) => {
      const d = new Y.Doc();
      Y.applyUpdate(d, decodeValue(valueOf(v)) as Uint8Array);
      return d.getText('body').toString();
    };
    const reference = (upTo: number) => {
      const d = new Y.Doc();
      Y.applyUpdate(d, base);
      for (const u of deltas.slice(0, upTo)) Y.applyUpdate(d, u);
      return d.getText('body').toString();
    };
    expect(read(vs[MAX_CHAIN]!)).toBe(reference(MAX_CHAIN));
    expect(keptCopies()).toBe(1);
    expect(read(vs[deltas.length]!)).toBe(t.toString());
    expect(read(vs[deltas.length]!)).toBe(reference(deltas.length));
  });
});
