// The set-difference sketch of anti-entropy's fast path (lib/sync/sketch.ts) and its items on the wire (ae-codec.ts):
// what a difference peels to, what a short sketch does (it fails, never lies), and what a hostile frame is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packSums, readAntiEntropy, unpackSums, writeAntiEntropy, type AntiEntropyBody } from '../../lib/sync/ae-codec.js';
import { ProtocolError, Reader, Writer } from '../../lib/sync/codec.js';
import { loadHasher } from '../../lib/hash.js';
import { buildSketch } from '../../lib/sync/fast-path.js';
import { MerkleTree } from '../../lib/sync/merkle.js';
import { prng } from '../sim/clock.js';
import { cellsOf, KEY_BITS, mulmod, invmod, P, Sketch } from '../../lib/sync/sketch.js';

type Item = readonly [k: number, g: number];

/** Two sides' items from a seed: `common` alike, `changed` with another weight on b, `onlyA`, `onlyB`. */
function sides(rnd: () => number, n: { common: number; changed: number; onlyA: number; onlyB: number }) {
  const used = new Set<number>();
  const key = () => {
    for (;;) {
      const k = Math.floor(rnd() * 2 ** KEY_BITS);
      if (!used.has(k)) return used.add(k), k;
    }
  };
  const weight = () => 1 + Math.floor(rnd() * (P - 1));
  const a: Item[] = [];
  const b: Item[] = [];
  const differing = new Map<number, number>();
  for (let i = 0; i < n.common; i++) {
    const it = [key(), weight()] as const;
    a.push(it);
    b.push(it);
  }
  for (let i = 0; i < n.changed; i++) {
    const k = key();
    const [ga, gb] = [weight(), weight()];
    a.push([k, ga]);
    b.push([k, gb]);
    differing.set(k, (ga - gb + P) % P);
  }
  for (let i = 0; i < n.onlyA; i++) {
    const it = [key(), weight()] as const;
    a.push(it);
    differing.set(it[0], it[1]);
  }
  for (let i = 0; i < n.onlyB; i++) {
    const it = [key(), weight()] as const;
    b.push(it);
    differing.set(it[0], (P - it[1]) % P);
  }
  return { a, b, differing };
}

function sketchOf(items: readonly Item[], m: number, run: number): Sketch {
  const s = new Sketch(m, run);
  for (const [k, g] of items) s.add(k, g);
  return s;
}


describe('the sketch', () => {
  it('field arithmetic is exact: a · a⁻¹ = 1 and products match BigInt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: P - 1 }), fc.integer({ min: 0, max: P - 1 }), (a, b) => {
        expect(mulmod(a, invmod(a))).toBe(1);
        expect(mulmod(a, b)).toBe(Number((BigInt(a) * BigInt(b)) % BigInt(P)));
      }),
    );
  });

  it('an item lies in cell 0 and then in cell i with probability about 2/(i+2), the same on every peer', () => {
    const hits = new Array<number>(64).fill(0);
    const n = 20_000;
    for (let k = 0; k < n; k++) for (const i of cellsOf(k * 7919, 42, 64)) hits[i]!++;
    expect(hits[0]).toBe(n);
    for (const i of [1, 4, 16, 63]) expect(Math.abs(hits[i]! / n - 2 / (i + 2))).toBeLessThan(0.02);
    expect(cellsOf(123456, 7, 1000)).toEqual(cellsOf(123456, 7, 1000));
    // A prefix of the cells is the sketch with fewer cells: the sketch is rateless.
    expect(cellsOf(123456, 7, 200)).toEqual(cellsOf(123456, 7, 1000).filter((i) => i < 200));
  });

  it('a difference peels to exactly the differing keys and their weight differences (a key rewritten on one side is one item)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), (seed, changed, onlyA, onlyB) => {
        const rnd = prng(seed);
        const { a, b, differing } = sides(rnd, { common: 300, changed, onlyA, onlyB });
        const d = differing.size;
        // Peeling needs about 1.4–1.9 cells a key on average, and more for a few keys (up to ~12 for two): room for all.
        const m = 4 * d + 32;
        const run = 1 + (seed % 1000);
        const found = sketchOf(a, m, run).minus(sketchOf(b, m, run)).decode();
        expect(found, `seed ${seed}`).toBeDefined();
        expect(new Map(found!.map(({ k, d: w }) => [k, w]))).toEqual(differing);
      }),
      { numRuns: 60, seed: 20261204 },
    );
  });

  it('too few cells: decoding fails (undefined), it never returns a partial or a wrong set', () => {
    let failed = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { a, b } = sides(prng(seed), { common: 100, changed: 200, onlyA: 0, onlyB: 0 });
      const found = sketchOf(a, 120, seed).minus(sketchOf(b, 120, seed)).decode();
      if (found === undefined) failed++;
      else expect(found).toHaveLength(200);
    }
    expect(failed).toBe(40);
  });

  it('equal sides leave every cell zero; the run salts the cells', () => {
    const { a } = sides(prng(5), { common: 500, changed: 0, onlyA: 0, onlyB: 0 });
    expect(sketchOf(a, 50, 1).minus(sketchOf(a, 50, 1)).decode()).toEqual([]);
    expect(sketchOf(a, 50, 1).cells).not.toEqual(sketchOf(a, 50, 2).cells);
  });
});

describe('building a sketch of a large space', () => {
  it('pauses between slices of keys and makes the same cells as in one go', async () => {
    await loadHasher();
    const tree = new MerkleTree();
    for (let i = 0; i < 120_000; i++) tree.set(`key-${i}`, (i * 2654435761).toString(16).padStart(16, '0').slice(-16));
    const nodes = Array.from({ length: 256 }, (_, i) => i);
    let pauses = 0;
    const sliced = await buildSketch(tree, 2, nodes, 64, 99, async () => void pauses++);
    const whole = await buildSketch(tree, 2, nodes, 64, 99);
    expect(pauses).toBe(2); // after 50 000 and 100 000 keys
    expect(sliced.cells).toEqual(whole.cells);
  });
});

describe('fast-path items on the wire', () => {
  const body = (items: AntiEntropyBody['items']): AntiEntropyBody => ({ space: 's', run: 9, top: 0, items, want: [], final: false });
  const roundTrip = (m: AntiEntropyBody) => {
    const w = new Writer();
    writeAntiEntropy(w, m);
    return readAntiEntropy(new Reader(w.finish()));
  };

  it('a sketch, claims, key hashes and wanted claims come back as sent', () => {
    const cells = new Uint32Array(3 * 5).map((_, i) => (i * 104_729) % P);
    const m = body([
      { kind: 'sketch', level: 2, nodes: [0, 3, 255], m: 5, cells },
      { kind: 'keys', keys: [['k1', { vs: [{ r: 'replica-a', n: 3, t: 0, c: 0 }], cc: { 'replica-a': 3 } }]] },
      { kind: 'hashes', hashes: [0, 12345, 2 ** KEY_BITS - 1] },
      { kind: 'wanted', bits: new Uint8Array([0b101, 0, 0x80]) },
    ]);
    expect(roundTrip(m)).toEqual(m);
  });

  it("protocol 8's compact forms: 24-bit node hashes and packed sums come back as sent, in fewer bytes", () => {
    const cells = new Uint32Array(3 * 7).map((_, i) => (i === 4 ? P - 1 : (i * 2_654_435_761) % P));
    const nodes = (hash: (i: number) => string) => Array.from({ length: 256 }, (_, i) => ({ kind: 'node' as const, level: 2, index: i, hash: hash(i) }));
    const long = body([...nodes((i) => (i * 40_503).toString(16).padStart(8, '0')), { kind: 'sketch', level: 2, nodes: [1, 9], m: 7, cells }]);
    const short = body([...nodes((i) => (i * 40_503).toString(16).padStart(8, '0').slice(2)), { kind: 'sketch', level: 2, nodes: [1, 9], m: 7, cells, packed: true }]);
    expect(roundTrip(long)).toEqual(long);
    expect(roundTrip(short)).toEqual(short);
    const size = (m: AntiEntropyBody) => {
      const w = new Writer();
      writeAntiEntropy(w, m);
      return w.finish().length;
    };
    // A byte less per node hash; 93 bits a cell instead of 96.
    expect(size(long) - size(short)).toBe(256 + (3 * 7 * 4 - Math.ceil((3 * 7 * 31) / 8)));
  });

  it('packed sums: any sums below the prime round-trip; a sum at the prime, a wrong length or stray last bits are refused', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: P - 1 }), { maxLength: 60 }), (xs) => {
        const sums = Uint32Array.from(xs);
        expect(unpackSums(packSums(sums), sums.length)).toEqual(sums);
      }),
    );
    expect(() => unpackSums(packSums(Uint32Array.of(1, P)), 2)).toThrow(ProtocolError);
    expect(() => unpackSums(packSums(Uint32Array.of(1, 2)), 3)).toThrow(ProtocolError);
    const stray = packSums(Uint32Array.of(5));
    stray[3]! |= 0x80; // bit 31 of a single 31-bit sum: past it
    expect(() => unpackSums(stray, 1)).toThrow(ProtocolError);
  });

  /** Writing then reading a turn of one item, which may be malformed. */
  const hostile = (item: Record<string, unknown>) => () => roundTrip(body([item as never]));

  it('refuses malformed sketches and hashes', () => {
    const ok = { kind: 'sketch', level: 2, nodes: [1], m: 2, cells: new Uint32Array(6) };
    expect(hostile(ok)).not.toThrow();
    expect(hostile({ ...ok, cells: new Uint32Array(6).fill(P) })).toThrow(ProtocolError);
    expect(hostile({ ...ok, level: 3, nodes: [1] })).toThrow(ProtocolError);
    expect(hostile({ ...ok, nodes: [256] })).toThrow(ProtocolError);
    expect(hostile({ ...ok, m: 1 << 17, cells: new Uint32Array(3 << 17) })).toThrow(ProtocolError);
    expect(hostile({ ...ok, m: 3 })).toThrow(ProtocolError); // 3 cells announced, 2 sent
    expect(hostile({ kind: 'hashes', hashes: [2 ** KEY_BITS] })).toThrow(ProtocolError);
  });
});
