/**
 * A model of dotted version vectors whose dots name the writer's epoch — the design issue 10's residual points at —
 * checked against the same reachable-states simulator as lib/dvv.ts, restores included. Not used by the library.
 *
 * Every open of a replica's storage starts an epoch: a fresh tag, with the epoch open before it and the last
 * counter that history minted (its fork point) as parent. A dot is (replica, epoch, counter); counters go on
 * across epochs. A restore from an older copy opens a new epoch under the copy's, at the copy's counter: the lost
 * history and the new one are two branches of the replica's tree of epochs, and their dots never collide.
 *
 * A context holds, per replica, points (epoch, counter): "every dot of this replica for the key, in that epoch's
 * history up to that counter, was seen". The history of (e, n) is e's own dots up to n, then its parent's up to
 * the fork point, and so on up the tree. Points are ordered by inclusion of their histories; a context keeps its
 * maximal points only. While a replica is never restored its epochs form one chain, its points are totally
 * ordered, and a context holds one point per replica — what a vector holds today. A restore costs a second point
 * only in the contexts of keys both branches wrote.
 *
 * The epoch records (tag → parent, fork point) are global knowledge here; a real design would carry them with the
 * replica's identity (a few bytes per open) so a receiver can order points it has not seen before.
 */
import fc from 'fast-check';
import { EMPTY_STATE, joinWith, updateWith, type Causal, type KeyState } from '../../lib/dvv.js';
import type { EpochRegistry } from '../../lib/epoch-points.js';

export interface Epoch {
  readonly r: string;
  readonly parent?: string;
  /** The last counter the parent's history minted before this epoch opened. */
  readonly fork: number;
}

export type Registry = Map<string, Epoch>;

/** The model's registry as lib/dvv.ts asks it (every tag is unique across replicas here). */
export function libRegistry(reg: Registry): EpochRegistry {
  return {
    parentOf: (r, e) => {
      const ep = reg.get(e);
      return ep !== undefined && ep.r === r && ep.parent !== undefined ? { parent: ep.parent, fork: ep.fork } : undefined;
    },
  };
}

export interface EVersion {
  readonly r: string;
  readonly e: string;
  readonly n: number;
  readonly t: number;
  readonly d?: 1;
  readonly v?: string;
}

export interface Point {
  readonly e: string;
  readonly n: number;
}

/** replica → maximal points, sorted by (epoch, counter). */
export type EContext = ReadonlyMap<string, readonly Point[]>;

export interface EState {
  /** Sorted by (replica, epoch, counter). */
  readonly vs: readonly EVersion[];
  readonly cc: EContext;
}

export const EMPTY: EState = { vs: [], cc: new Map() };

export const edot = (v: { r: string; e: string; n: number }) => `${v.r}:${v.e}:${v.n}`;

/** Whether the dot (epoch `e`, counter `n`) lies in the history of point `p`. */
export function inHistory(reg: Registry, e: string, n: number, p: Point): boolean {
  let tag: string | undefined = p.e;
  let limit = p.n;
  while (tag !== undefined) {
    if (tag === e) return n <= limit;
    const ep: Epoch = reg.get(tag)!;
    limit = Math.min(limit, ep.fork);
    tag = ep.parent;
  }
  return false;
}

export function ecovers(reg: Registry, cc: EContext, v: { r: string; e: string; n: number }): boolean {
  return (cc.get(v.r) ?? []).some((p) => inHistory(reg, v.e, v.n, p));
}

function maximal(reg: Registry, points: readonly Point[]): Point[] {
  const distinct = new Map(points.map((p) => [`${p.e}:${p.n}`, p]));
  const all = [...distinct.values()];
  const keep = all.filter((p) => !all.some((q) => q !== p && inHistory(reg, p.e, p.n, q)));
  return keep.sort((a, b) => (a.e < b.e ? -1 : a.e > b.e ? 1 : a.n - b.n));
}

export function mergeContexts(reg: Registry, ...ccs: EContext[]): EContext {
  const out = new Map<string, Point[]>();
  for (const cc of ccs) for (const [r, ps] of cc) out.set(r, [...(out.get(r) ?? []), ...ps]);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)).map(([r, ps]) => [r, maximal(reg, ps)]));
}

const byDot = (a: EVersion, b: EVersion) => (a.r !== b.r ? (a.r < b.r ? -1 : 1) : a.e !== b.e ? (a.e < b.e ? -1 : 1) : a.n - b.n);

/** A version survives unless the other side has seen its dot and no longer holds it (as lib/dvv.ts join). */
export function ejoin(reg: Registry, a: EState, b: EState): EState {
  const held = (s: EState) => new Set(s.vs.map(edot));
  const [ha, hb] = [held(a), held(b)];
  const vs = new Map<string, EVersion>();
  for (const v of a.vs) if (hb.has(edot(v)) || !ecovers(reg, b.cc, v)) vs.set(edot(v), v);
  for (const v of b.vs) if (ha.has(edot(v)) || !ecovers(reg, a.cc, v)) vs.set(edot(v), v);
  return { vs: [...vs.values()].sort(byDot), cc: mergeContexts(reg, a.cc, b.cc) };
}

/** A local write with context `ctx`: the versions it covers go, the new one joins, its point enters the context. */
export function eupdate(reg: Registry, s: EState, ctx: EContext, v: EVersion): EState {
  const vs = [...s.vs.filter((w) => !ecovers(reg, ctx, w)), v].sort(byDot);
  return { vs, cc: mergeContexts(reg, s.cc, ctx, new Map([[v.r, [{ e: v.e, n: v.n }]]])) };
}

export function enormal(s: EState): unknown {
  return { vs: s.vs.map((v) => ({ ...v })), cc: [...s.cc].map(([r, ps]) => [r, ps.map((p) => `${p.e}:${p.n}`)]) };
}

export type EOp =
  | { t: 'write'; i: number; ctx: number | null; del: boolean; skip: number }
  | { t: 'read'; i: number }
  | { t: 'sync'; i: number; j: number }
  /** The replica closes and opens again: a new epoch continuing the last. */
  | { t: 'reopen'; i: number }
  /** The replica's storage goes back to an earlier copy (`back` changes ago) and is opened: a new branch. */
  | { t: 'restore'; i: number; back: number };

const REPLICAS = ['a', 'b', 'c'] as const;

export const eopsArb = (restores: boolean): fc.Arbitrary<EOp[]> =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('write' as const), i: fc.nat(2), ctx: fc.option(fc.nat(5)), del: fc.boolean(), skip: fc.nat(3) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), i: fc.nat(2) }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('sync' as const), i: fc.nat(2), j: fc.nat(2) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), i: fc.nat(2) }) },
      { weight: restores ? 2 : 0, arbitrary: fc.record({ t: fc.constant('restore' as const), i: fc.nat(2), back: fc.nat(6) }) },
    ),
    { minLength: 1, maxLength: 60 },
  );

interface Copy {
  epoch: string;
  seq: number;
  state: EState;
  /** The same history through lib/dvv.ts, its dots naming their epochs (joinWith, updateWith with the registry). */
  vstate: KeyState;
  hist: Set<string>;
}

interface EReplica extends Copy {
  r: string;
  reads: Array<{ cc: EContext; vcc: Causal; hist: Set<string> }>;
  copies: Copy[];
}

export interface ESimResult {
  reg: Registry;
  /** `reg` as lib/dvv.ts asks it. */
  lib: EpochRegistry;
  replicas: EReplica[];
  pool: EState[];
  /** The same states through lib/dvv.ts, in the same order (vpool[i] is pool[i]). */
  vpool: KeyState[];
  written: Set<string>;
  superseded: Set<string>;
  /** Each write's dot and the dots it had seen. */
  writes: Map<string, Set<string>>;
  /** Each write's step (its HLC time in both models: unique per write, so it names the write in the vector model too). */
  steps: Map<string, number>;
}

/**
 * What must survive once every replica's state is joined: the writes some replica still knows of (a write only its
 * restored writer had held is gone from the world, as a disk lost is), less those a write still known had seen.
 */
export function survivors(sim: ESimResult): string[] {
  const known = new Set(sim.replicas.flatMap((x) => [...x.hist]));
  const seen = new Set([...known].flatMap((w) => [...sim.writes.get(w)!]));
  return [...known].filter((d) => !seen.has(d)).sort();
}

/** Runs the schedule; every state any replica held is in `pool`. */
export function esimulate(ops: readonly EOp[]): ESimResult {
  const reg: Registry = new Map();
  const lib = libRegistry(reg);
  let epochs = 0;
  const open = (r: string, parent: string | undefined, fork: number) => {
    const tag = `${r}${++epochs}`;
    reg.set(tag, parent === undefined ? { r, fork } : { r, parent, fork });
    return tag;
  };
  const replicas: EReplica[] = REPLICAS.map((r) => ({ r, epoch: open(r, undefined, 0), seq: 0, state: EMPTY, vstate: EMPTY_STATE, hist: new Set(), reads: [], copies: [] }));
  const steps = new Map<string, number>();
  const writes = new Map<string, Set<string>>();
  const pool: EState[] = [EMPTY];
  const vpool: KeyState[] = [EMPTY_STATE];
  const written = new Set<string>();
  const superseded = new Set<string>();
  const keep = (x: EReplica) => {
    pool.push(x.state);
    vpool.push(x.vstate);
    x.copies.push({ epoch: x.epoch, seq: x.seq, state: x.state, vstate: x.vstate, hist: x.hist });
  };
  let step = 0;
  for (const op of ops) {
    const x = replicas[op.i]!;
    if (op.t === 'read') x.reads.push({ cc: x.state.cc, vcc: x.vstate, hist: new Set(x.hist) });
    else if (op.t === 'reopen') {
      x.epoch = open(x.r, x.epoch, x.seq);
      x.reads = [];
    } else if (op.t === 'restore') {
      const copy = x.copies.length > op.back ? x.copies[x.copies.length - 1 - op.back]! : undefined;
      x.seq = copy?.seq ?? 0;
      x.state = copy?.state ?? EMPTY;
      x.vstate = copy?.vstate ?? EMPTY_STATE;
      x.hist = copy?.hist ?? new Set();
      // The copy opened: a branch under the epoch the copy was taken in, at the counter it holds (an empty
      // copy, from before the first write: a new root).
      x.epoch = open(x.r, copy?.epoch, x.seq);
      x.reads = [];
    } else if (op.t === 'write') {
      x.seq += 1 + op.skip;
      step++;
      const read = op.ctx !== null && x.reads.length > 0 ? x.reads[op.ctx % x.reads.length]! : { cc: x.state.cc, vcc: x.vstate, hist: x.hist };
      const v: EVersion = op.del ? { r: x.r, e: x.epoch, n: x.seq, t: step, d: 1 } : { r: x.r, e: x.epoch, n: x.seq, t: step, v: `${x.r}${x.seq}@${step}` };
      for (const d of read.hist) superseded.add(d);
      writes.set(edot(v), new Set(read.hist));
      x.state = eupdate(reg, x.state, read.cc, v);
      const { e, ...plain } = v;
      x.vstate = updateWith(lib, x.vstate, read.vcc, { ...plain, ep: e, c: 0, ...(v.v !== undefined ? { v: JSON.stringify(v.v) } : {}) });
      steps.set(edot(v), step);
      x.hist = new Set([...x.hist, edot(v)]);
      written.add(edot(v));
      keep(x);
    } else {
      const to = replicas[op.j]!;
      const from = x;
      to.state = ejoin(reg, to.state, from.state);
      to.vstate = joinWith(lib, to.vstate, from.vstate);
      to.hist = new Set([...to.hist, ...from.hist]);
      keep(to);
    }
  }
  return { reg, lib, replicas, pool, vpool, written, superseded, writes, steps };
}
