/**
 * `checkMerge(fn, samples)`: fuzzes a merge function for the laws a join must obey. A merge that breaks
 * them makes replicas disagree or write merges back and forth forever.
 *
 * Each sample gets a synthetic version (replicaId, counter, HLC from a seeded PRNG); a merged result
 * carries the newest version of its inputs. Results are compared by structure (deepEqual: Map, Set, Date,
 * BigInt understood), never by JSON. Laws checked on random triples:
 *   idempotence    merge(a, a) = a
 *   commutativity  merge(a, b) = merge(b, a)
 *   associativity  merge(merge(a, b), c) = merge(a, merge(b, c))
 *   determinism    merge(a, b) = merge(a, b) again (catches Math.random, Date.now, insertion order)
 */
import { deepEqual } from './equal.js';
import { ConcordError } from './errors.js';
import type { MergeFn, VersionInfo } from './types.js';

export type MergeLaw = 'idempotence' | 'commutativity' | 'associativity' | 'determinism' | 'error';

export type CheckMergeResult =
  | { ok: true; runs: number; seed: number }
  | { ok: false; law: MergeLaw; counterexample: { inputs: unknown[]; results: unknown[]; error?: unknown }; seed: number };

export interface CheckMergeOptions {
  /** Random triples to try (default 200). */
  runs?: number;
  /** Seed for the sample draws; a failing result reports the seed that replays it. */
  seed?: number;
}

interface Arbitrary {
  generate: unknown;
  filter: unknown;
}

function isArbitrary(x: unknown): x is Arbitrary {
  return !!x && typeof x === 'object' && typeof (x as Arbitrary).generate === 'function' && typeof (x as Arbitrary).filter === 'function';
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FastCheck {
  sample(arbitrary: Arbitrary, options: { numRuns: number; seed: number }): unknown[];
}

/**
 * fast-check is an optional peer dependency, loaded only when `samples` is one of its arbitraries (whoever
 * built the arbitrary has it installed). The specifier is a variable so that bundlers leave the import
 * alone: an app that bundles 'concord' never needs fast-check to resolve.
 */
const FAST_CHECK = 'fast-check';

async function loadFastCheck(): Promise<FastCheck> {
  try {
    return (await import(/* @vite-ignore */ FAST_CHECK)) as FastCheck;
  } catch (cause) {
    throw new ConcordError('MISSING_DEPENDENCY', 'checkMerge(fn, arbitrary) needs the optional peer dependency fast-check: npm install --save-dev fast-check (or pass an array of sample values)', { cause });
  }
}

interface Sample {
  value: unknown;
  version: VersionInfo;
}

function newest(a: VersionInfo, b: VersionInfo): VersionInfo {
  if (a.hlc.ms !== b.hlc.ms) return a.hlc.ms > b.hlc.ms ? a : b;
  if (a.hlc.logical !== b.hlc.logical) return a.hlc.logical > b.hlc.logical ? a : b;
  return a.replicaId >= b.replicaId ? a : b;
}

class LawBroken extends Error {
  constructor(
    readonly law: MergeLaw,
    readonly inputs: unknown[],
    readonly results: unknown[],
    readonly error?: unknown,
  ) {
    super(law);
  }
}

export async function checkMerge(fn: MergeFn, samples: unknown[] | Arbitrary, options: CheckMergeOptions = {}): Promise<CheckMergeResult> {
  const runs = options.runs ?? 200;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = prng(seed);
  let values: unknown[];
  if (isArbitrary(samples)) {
    const fc = await loadFastCheck();
    values = fc.sample(samples, { numRuns: Math.max(3, runs), seed });
  } else if (Array.isArray(samples)) {
    values = samples;
  } else {
    throw new TypeError('checkMerge(fn, samples): samples is an array of values or a fast-check arbitrary');
  }
  if (values.length === 0) throw new TypeError('checkMerge needs at least one sample');
  const pool: Sample[] = values.map((value, i) => ({
    value,
    version: {
      replicaId: 'r' + i.toString(36).padStart(4, '0'),
      counter: i + 1,
      hlc: { ms: 1_700_000_000_000 + Math.floor(random() * 1000), logical: Math.floor(random() * 4) },
      deleted: false,
    },
  }));

  // Every merge runs twice: a merge whose two runs disagree is reported as non-deterministic, never
  // mislabelled as breaking another law.
  const merge = (a: Sample, b: Sample): Sample => {
    const inputs = [a.value, b.value];
    const call = () => fn([a.value, b.value], { key: 'checkMerge', space: 'checkMerge', versions: [a.version, b.version] });
    let value: unknown;
    let again: unknown;
    try {
      value = call();
      again = call();
    } catch (error) {
      throw new LawBroken('error', inputs, [], error);
    }
    if (!deepEqual(value, again)) throw new LawBroken('determinism', inputs, [value, again]);
    return { value, version: newest(a.version, b.version) };
  };
  const pick = () => pool[Math.floor(random() * pool.length)]!;

  try {
    for (let run = 0; run < runs; run++) {
      const a = pick();
      const b = pick();
      const c = pick();
      const aa = merge(a, { value: a.value, version: a.version });
      if (!deepEqual(aa.value, a.value)) throw new LawBroken('idempotence', [a.value], [aa.value]);
      const ab = merge(a, b);
      const ba = merge(b, a);
      if (!deepEqual(ab.value, ba.value)) throw new LawBroken('commutativity', [a.value, b.value], [ab.value, ba.value]);
      const left = merge(ab, c);
      const right = merge(a, merge(b, c));
      if (!deepEqual(left.value, right.value)) throw new LawBroken('associativity', [a.value, b.value, c.value], [left.value, right.value]);
    }
  } catch (e) {
    if (!(e instanceof LawBroken)) throw e;
    const counterexample = { inputs: e.inputs, results: e.results, ...(e.error !== undefined ? { error: e.error } : {}) };
    return { ok: false, law: e.law, counterexample, seed };
  }
  return { ok: true, runs, seed };
}
