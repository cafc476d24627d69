/**
 * Reachable dotted-version-vector states for property tests: replicas of one key write (with their current
 * context or an older read's), read (keeping the context for later), and exchange states by join. Only the
 * pure functions of lib/dvv.ts are used; every state any replica ever held is collected.
 *
 * Beside the states, a model of causal history: for each write, the dots it had seen (its context);
 * for each replica, every dot it has seen. The exact specification of the surviving versions is then
 * "every dot ever written, minus the dots some write had seen".
 */
import fc from 'fast-check';
import { EMPTY_STATE, join, update, type KeyState, type StoredVersion, type VersionVector } from '../../lib/dvv.js';

export type Op =
  | { t: 'write'; i: number; ctx: number | null; del: boolean; skip: number }
  | { t: 'read'; i: number }
  | { t: 'sync'; i: number; j: number }
  /** The replica's storage goes back to an earlier copy of itself (`back` snapshots ago): it mints its lost dots again. */
  | { t: 'restore'; i: number; back: number };

export const REPLICAS = ['a', 'b', 'c'] as const;

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('write' as const), i: fc.nat(2), ctx: fc.option(fc.nat(5)), del: fc.boolean(), skip: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('read' as const), i: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sync' as const), i: fc.nat(2), j: fc.nat(2) }) },
);

export const opsArb = fc.array(opArb, { minLength: 1, maxLength: 40 });

/** Schedules with restores from older copies (the causal specification no longer holds; the lattice laws must). */
export const opsWithRestoresArb = fc.array(
  fc.oneof({ weight: 6, arbitrary: opArb }, { weight: 1, arbitrary: fc.record({ t: fc.constant('restore' as const), i: fc.nat(2), back: fc.nat(6) }) }),
  { minLength: 1, maxLength: 50 },
);

interface Read {
  cc: VersionVector;
  hist: Set<string>;
}

interface SimReplica {
  r: string;
  seq: number;
  state: KeyState;
  /** Dots this replica has seen (its causal history for the key). */
  hist: Set<string>;
  reads: Read[];
  /** Copies of itself after each change, for restores. */
  copies?: Array<{ seq: number; state: KeyState; hist: Set<string> }>;
}

export interface SimResult {
  replicas: SimReplica[];
  /** Every state any replica held, in order. */
  pool: KeyState[];
  /** Every dot written. */
  written: Set<string>;
  /** Dots seen by some write (superseded by it). */
  superseded: Set<string>;
  /** Each write's dot and the dots it had seen. */
  writes: Map<string, Set<string>>;
  /** Counters a write skipped (`skip`: taken by other keys' writes), as dots: a restored replica may mint one again for this key. */
  otherKeys: Set<string>;
}

export const dot = (v: { r: string; n: number }) => `${v.r}:${v.n}`;

export function simulate(ops: readonly Op[]): SimResult {
  const replicas: SimReplica[] = REPLICAS.map((r) => ({ r, seq: 0, state: EMPTY_STATE, hist: new Set(), reads: [] }));
  const pool: KeyState[] = [EMPTY_STATE];
  const written = new Set<string>();
  const superseded = new Set<string>();
  const writes = new Map<string, Set<string>>();
  const otherKeys = new Set<string>();
  let step = 0;
  for (const op of ops) {
    if (op.t === 'read') {
      const x = replicas[op.i]!;
      x.reads.push({ cc: x.state.cc, hist: new Set(x.hist) });
    } else if (op.t === 'write') {
      const x = replicas[op.i]!;
      // Other keys' writes take counters from the same sequence: a replica's dots for one key are sparse.
      for (let k = 1; k <= op.skip; k++) otherKeys.add(dot({ r: x.r, n: x.seq + k }));
      x.seq += 1 + op.skip;
      const read = op.ctx !== null && x.reads.length > 0 ? x.reads[op.ctx % x.reads.length]! : { cc: x.state.cc, hist: x.hist };
      // Time goes on through restores: a dot minted again carries a later HLC and another value.
      step++;
      const version: StoredVersion = op.del ? { r: x.r, n: x.seq, t: step, c: 0, d: 1 } : { r: x.r, n: x.seq, t: step, c: 0, v: JSON.stringify(`${x.r}${x.seq}@${step}`) };
      for (const d of read.hist) superseded.add(d);
      writes.set(dot(version), new Set(read.hist));
      x.state = update(x.state, read.cc, version);
      x.hist = new Set([...x.hist, dot(version)]);
      written.add(dot(version));
      pool.push(x.state);
      (x.copies ??= []).push({ seq: x.seq, state: x.state, hist: x.hist });
    } else if (op.t === 'restore') {
      const x = replicas[op.i]!;
      const copies = x.copies ?? [];
      const copy = copies.length > op.back ? copies[copies.length - 1 - op.back]! : { seq: 0, state: EMPTY_STATE, hist: new Set<string>() };
      x.seq = copy.seq;
      x.state = copy.state;
      x.hist = copy.hist;
      x.reads = [];
    } else {
      const from = replicas[op.i]!;
      const to = replicas[op.j]!;
      to.state = join(to.state, from.state);
      to.hist = new Set([...to.hist, ...from.hist]);
      pool.push(to.state);
      (to.copies ??= []).push({ seq: to.seq, state: to.state, hist: to.hist });
    }
  }
  return { replicas, pool, written, superseded, writes, otherKeys };
}

/** A state as plain data, for equality: versions (with values) in canonical order and the vector with sorted keys. */
export function normal(s: KeyState): unknown {
  return { vs: s.vs.map((v) => ({ ...v })), cc: Object.fromEntries(Object.entries(s.cc).sort(([a], [b]) => (a < b ? -1 : 1))) };
}
