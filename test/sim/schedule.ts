/**
 * A schedule is a pure function of its seed: how many replicas, how they are linked, which operations
 * run where and when (virtual ms), and which faults strike. `describeSchedule` prints the gist for a
 * failure message; the seed alone replays it.
 */
import { prng, Rng } from './clock.js';

export type Topology = 'star' | 'chain' | 'ring' | 'mesh';

export type Op =
  | { kind: 'put'; key: string }
  | { kind: 'get'; key: string }
  | { kind: 'putCtx'; key: string }
  | { kind: 'delete'; key: string; withCtx: boolean }
  | { kind: 'incr'; key: string }
  | { kind: 'add'; key: string; item: string }
  | { kind: 'remove'; key: string; item: string };

export type Fault =
  | { kind: 'drop'; a: string; b: string }
  | { kind: 'partition'; side: string[]; heal: number }
  | { kind: 'restart'; node: string; down: number };

export interface Timed<T> {
  at: number;
  node: string;
  what: T;
}

/**
 * An edit of the Yjs document key: a marker inserted at a fraction of the text, written as a delta against the key's
 * live versions (what concord/yjs's openDoc writes), so documents exercise deltas on the wire (held forms, NEED,
 * composition) under every fault.
 */
export interface Edit {
  key: string;
  /** Where the marker goes, as a fraction of the text's length. */
  at: number;
}

export const DOCS = ['doc0'];

export interface Schedule {
  seed: number;
  nodes: string[];
  topology: Topology;
  edges: Array<[string, string]>;
  latency: { min: number; max: number };
  /** In a star, whether the hub is a relay that accepts connections (else it dials like its peers). */
  relay: string | undefined;
  /** The transport's frame limit, small in some schedules so catch-up and anti-entropy must split. */
  maxFrameBytes: number | undefined;
  antiEntropyInterval: number;
  /** Virtual ms during which operations and faults happen; then everything heals. */
  duration: number;
  ops: Array<Timed<Op>>;
  faults: Array<Timed<Fault>>;
  /** Document edits (drawn from their own generator, so every other draw stays what it was for a seed). */
  edits: Array<Timed<Edit>>;
}

export const COUNTERS = ['c0', 'c1'];
export const SETS = ['set0'];
const ITEMS = ['apple', 'pear', 'fig', 'kiwi', 'lime'];

export interface Sizes {
  minOps: number;
  maxOps: number;
  maxFaults: number;
}

/** CI's schedule sizes; SIM_OPS=min-max and SIM_FAULTS=max make harsher ones for exploration. */
export function sizesFromEnv(env: Record<string, string | undefined> = process.env): Sizes {
  const [minOps, maxOps] = (env.SIM_OPS ?? '20-60').split('-').map(Number);
  return { minOps: minOps ?? 20, maxOps: maxOps ?? minOps ?? 60, maxFaults: Number(env.SIM_FAULTS ?? 6) };
}

export function makeSchedule(seed: number, sizes: Sizes = sizesFromEnv()): Schedule {
  const rng = new Rng(prng(seed));
  const n = rng.int(2, 8);
  const nodes = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
  const topology = rng.pick<Topology>(['star', 'chain', 'ring', 'mesh']);
  const edges = link(nodes, topology, rng);
  const maxLatency = rng.pick([2, 20, 200]);
  const duration = rng.int(1000, 6000);
  const plainKeys = Array.from({ length: rng.int(1, 5) }, (_, i) => `k${i}`);
  const ops: Array<Timed<Op>> = [];
  for (let i = 0, count = rng.int(sizes.minOps, sizes.maxOps); i < count; i++) {
    const x = rng.next();
    const key = rng.pick(plainKeys);
    const what: Op =
      x < 0.3 ? { kind: 'put', key }
      : x < 0.45 ? { kind: 'get', key: rng.chance(0.3) ? rng.pick([...COUNTERS, ...SETS]) : key } // merged keys: read repair
      : x < 0.6 ? { kind: 'putCtx', key }
      : x < 0.68 ? { kind: 'delete', key, withCtx: rng.chance(0.5) }
      : x < 0.83 ? { kind: 'incr', key: rng.pick(COUNTERS) }
      : x < 0.93 ? { kind: 'add', key: rng.pick(SETS), item: rng.pick(ITEMS) }
      : { kind: 'remove', key: rng.pick(SETS), item: rng.pick(ITEMS) };
    ops.push({ at: rng.int(0, duration), node: rng.pick(nodes), what });
  }
  const faults: Array<Timed<Fault>> = [];
  for (let i = 0, count = rng.int(0, sizes.maxFaults); i < count; i++) {
    const at = rng.int(0, duration);
    const x = rng.next();
    if (x < 0.45) {
      const [a, b] = rng.pick(edges);
      faults.push({ at, node: a, what: { kind: 'drop', a, b } });
    } else if (x < 0.75) {
      const side = nodes.filter(() => rng.chance(0.4));
      if (side.length === 0 || side.length === n) side.splice(0, side.length, rng.pick(nodes));
      faults.push({ at, node: side[0]!, what: { kind: 'partition', side, heal: rng.int(50, 3000) } });
    } else {
      const node = rng.pick(nodes);
      faults.push({ at, node, what: { kind: 'restart', node, down: rng.int(0, 2000) } });
    }
  }
  const byTime = <T>(a: Timed<T>, b: Timed<T>) => a.at - b.at;
  // Drawn last, so that the draws above stay as they were when the seeds in commit messages were found.
  const maxFrameBytes = rng.pick([undefined, undefined, 2048]);
  const relay = topology === 'star' && rng.chance(0.5) ? nodes[0] : undefined;
  // Document edits in half the schedules, from a generator of their own.
  const docRng = new Rng(prng(seed ^ 0x5eed0c));
  const edits: Array<Timed<Edit>> = [];
  if (docRng.chance(0.5)) {
    for (let i = 0, count = docRng.int(3, 25); i < count; i++) edits.push({ at: docRng.int(0, duration), node: docRng.pick(nodes), what: { key: DOCS[0]!, at: docRng.next() } });
  }
  return {
    relay,
    maxFrameBytes,
    seed,
    nodes,
    topology,
    edges,
    latency: { min: 1, max: maxLatency },
    antiEntropyInterval: rng.pick([0, 0, 500, 5000]),
    duration,
    ops: ops.sort(byTime),
    faults: faults.sort(byTime),
    edits: edits.sort(byTime),
  };
}

function link(nodes: string[], topology: Topology, rng: Rng): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  const has = (a: string, b: string) => edges.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
  if (topology === 'star') for (const n of nodes.slice(1)) edges.push([nodes[0]!, n]);
  else if (topology === 'chain' || topology === 'ring') {
    for (let i = 1; i < nodes.length; i++) edges.push([nodes[i - 1]!, nodes[i]!]);
    if (topology === 'ring' && nodes.length > 2) edges.push([nodes[nodes.length - 1]!, nodes[0]!]);
  } else {
    // A random spanning tree (connected), plus a few random extra edges.
    for (let i = 1; i < nodes.length; i++) edges.push([nodes[rng.int(0, i - 1)]!, nodes[i]!]);
    for (let extra = rng.int(0, nodes.length); extra > 0; extra--) {
      const a = rng.pick(nodes);
      const b = rng.pick(nodes);
      if (a !== b && !has(a, b)) edges.push([a, b]);
    }
  }
  return edges;
}

export function describeSchedule(s: Schedule): string {
  const faults = s.faults.map((f) => {
    const w = f.what;
    return `@${f.at} ${w.kind === 'drop' ? `drop ${w.a}-${w.b}` : w.kind === 'partition' ? `partition [${w.side.join('')}] for ${w.heal}` : `restart ${w.node} down ${w.down}`}`;
  });
  return [
    `${s.nodes.length} replicas, ${s.topology}${s.relay ? ` through relay ${s.relay}` : ''} [${s.edges.map((e) => e.join('-')).join(' ')}], latency ≤${s.latency.max} ms, frames ≤${s.maxFrameBytes ?? 'default'} bytes, anti-entropy every ${s.antiEntropyInterval || 'never'}`,
    `${s.ops.length} ops${s.edits.length ? ` and ${s.edits.length} document edits` : ''} over ${s.duration} ms; faults: ${faults.join(', ') || 'none'}`,
  ].join('\n');
}
