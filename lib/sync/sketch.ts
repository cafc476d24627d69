/**
 * A rateless set-difference sketch of a space's key states, for anti-entropy's fast path (antientropy.ts).
 *
 * Each key is one item: its key hash K (30 bits: the Merkle bucket, then 14 bits of FNV-1a of the key) with a
 * weight g, a run-salted 31-bit slice of its state hash (never 0). Cell i of the sketch holds three sums over the
 * items mapped to it, modulo the prime P = 2^31 − 1:
 *
 *     Σ g        Σ K·g        Σ h(K)·g            (h: a run-salted hash of K)
 *
 * Subtracting the peer's cells from ours leaves, for every key whose state differs, the weight δ = g_ours − g_theirs
 * (a key one side lacks has g 0 there), and nothing for a key both hold alike. So a key rewritten on one side is ONE
 * item of the difference, not two (a sketch of (key, state) pairs would hold the old and the new pair). A cell
 * left with one key gives it back: K = (Σ K·δ) / (Σ δ), confirmed by Σ h(K)·δ and by the cell lying on K's
 * index sequence; it is then subtracted from its other cells (peeling), which frees more cells.
 *
 * Rateless: item K lies in cell 0 and then in each cell i with probability 2 / (i + 2), independently, so any
 * prefix of the cells is a sketch; a difference of d keys peels, on average, from about 1.4·d cells (the
 * overhead is larger for small d; bench and test/sync/sketch.test.ts measure it). The next cell after i is drawn
 * in one step: P(none of i+1 … j) = (i+1)(i+2) / ((j+1)(j+2)), inverted for a uniform draw.
 *
 * All arithmetic is exact on doubles (products below 2^53 by splitting), so both peers compute the same cells.
 */

export const P = 0x7fffffff;
/** Cells a sketch may have (a peer's, or one a peer makes us build). */
export const MAX_CELLS = 1 << 16;
/** Bytes a cell takes on the wire: its three sums, 4 bytes each. */
export const CELL_BYTES = 12;
/** Bits of a key hash: 16 of the Merkle bucket, then 14 of FNV-1a over the key's UTF-16 code units. */
export const KEY_BITS = 30;
const SUFFIX_BITS = 14;

/** a·b mod P, for a, b in [0, P). */
export function mulmod(a: number, b: number): number {
  const hi = Math.floor(b / 65536);
  const lo = b - hi * 65536;
  return (((a * hi) % P) * 65536 + a * lo) % P;
}

function powmod(a: number, e: number): number {
  let r = 1;
  let x = a % P;
  while (e > 0) {
    if (e & 1) r = mulmod(r, x);
    x = mulmod(x, x);
    e = Math.floor(e / 2);
  }
  return r;
}

export const invmod = (a: number): number => powmod(a, P - 2);

/** FNV-1a of a string's UTF-16 code units, 32 bits. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A key's 30-bit hash, from its Merkle bucket: the keys of one hash are found in that bucket. */
export function keyHash(key: string, bucket: number): number {
  return bucket * (1 << SUFFIX_BITS) + (fnv1a(key) & ((1 << SUFFIX_BITS) - 1));
}

/** The Merkle bucket a key hash names. */
export const bucketOfKeyHash = (k: number): number => Math.floor(k / (1 << SUFFIX_BITS));

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A key's weight in a run: 31 bits of its state hash (hex), at an offset and salt that depend on the run. */
export function weight(stateHash: string, run: number, salt = mix32(run)): number {
  const at = run % 9;
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = stateHash.charCodeAt(i);
    v = v * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  const g = (v ^ salt) >>> 1;
  return g === 0 || g === P ? 1 : g;
}

/** The run's salt of weights (pass it to `weight` when weighing many keys). */
export const weightSalt = (run: number): number => mix32(run);

const checkSalt = (run: number): number => mix32(run + 0x9e3779b9);

function check(k: number, salt: number): number {
  return 1 + (mix32(k ^ salt) % (P - 1));
}

/** The generator's first state for item K. */
const seedOf = (k: number, salt: number): number => mix32(k ^ salt) || 1;

/** xorshift32: the generator's next state (a non-zero 32-bit integer, as a signed one). */
function step(state: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  return state ^ (state << 5);
}

/** The cell after cell i, for the generator's new state: the smallest j > i with (j+1)(j+2) > (i+1)(i+2) / u. */
function after(i: number, state: number): number {
  const bound = ((i + 1) * (i + 2)) / (((state >>> 0) + 1) / 4294967296);
  let j = Math.floor((Math.sqrt(1 + 4 * bound) - 3) / 2);
  if (j <= i) j = i + 1;
  while ((j + 1) * (j + 2) <= bound) j++;
  while (j > i + 1 && j * (j + 1) > bound) j--;
  return j;
}

/** Item K's cells below `m`, in order: 0, then each next one drawn from a generator seeded by K and the run. */
export function cellsOf(k: number, run: number, m: number, out: number[] = []): number[] {
  out.length = 0;
  let state = seedOf(k, mix32(run));
  for (let i = 0; i < m; i = after(i, state)) {
    out.push(i);
    state = step(state);
  }
  return out;
}

/** A sketch of m cells: three sums per cell, as above. */
export class Sketch {
  readonly cells: Uint32Array;
  private readonly seedSalt: number;
  private readonly checkSalt: number;

  constructor(
    readonly m: number,
    readonly run: number,
    cells?: Uint32Array,
  ) {
    this.cells = cells ?? new Uint32Array(3 * m);
    this.seedSalt = mix32(run);
    this.checkSalt = checkSalt(run);
    if (this.cells.length !== 3 * m) throw new Error('sketch: cell array of the wrong size');
  }

  /** Adds item (k, g) with the given sign (+1 add, −1 remove). */
  add(k: number, g: number, sign = 1): void {
    const w = sign > 0 ? g : P - g;
    const kw = mulmod(k, w);
    const hw = mulmod(check(k, this.checkSalt), w);
    const c = this.cells;
    let state = seedOf(k, this.seedSalt);
    for (let i = 0; i < this.m; i = after(i, state)) {
      const b = 3 * i;
      c[b] = (c[b]! + w) % P;
      c[b + 1] = (c[b + 1]! + kw) % P;
      c[b + 2] = (c[b + 2]! + hw) % P;
      state = step(state);
    }
  }

  /** This sketch minus the peer's (same m and run): the cells of the difference. */
  minus(other: Sketch): Sketch {
    if (other.m !== this.m || other.run !== this.run) throw new Error('sketch: different shapes');
    const out = new Uint32Array(this.cells.length);
    for (let i = 0; i < out.length; i++) out[i] = (this.cells[i]! + P - other.cells[i]!) % P;
    return new Sketch(this.m, this.run, out);
  }

  /**
   * Peels a difference sketch: the key hash of every differing key with its weight difference (ours − theirs), or
   * undefined when the cells do not suffice (some stay non-zero). Consumes the cells.
   */
  decode(limit = Infinity): Array<{ k: number; d: number }> | undefined {
    const c = this.cells;
    const found: Array<{ k: number; d: number }> = [];
    const queue: number[] = [];
    for (let i = 0; i < this.m; i++) if (c[3 * i] !== 0) queue.push(i);
    const seq: number[] = [];
    while (queue.length > 0) {
      const i = queue.pop()!;
      const b = 3 * i;
      const d = c[b]!;
      if (d === 0) continue;
      const k = mulmod(c[b + 1]!, invmod(d));
      const hd = mulmod(check(k, this.checkSalt), d);
      if (k >= 2 ** KEY_BITS || c[b + 2] !== hd) continue;
      cellsOf(k, this.run, this.m, seq);
      if (!seq.includes(i)) continue;
      found.push({ k, d });
      if (found.length > limit) return undefined;
      const kd = mulmod(k, d);
      for (const j of seq) {
        const e = 3 * j;
        c[e] = (c[e]! + P - d) % P;
        c[e + 1] = (c[e + 1]! + P - kd) % P;
        c[e + 2] = (c[e + 2]! + P - hd) % P;
        if (c[e] !== 0) queue.push(j);
      }
    }
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) return undefined;
    return found;
  }
}
