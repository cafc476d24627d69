/**
 * A schedule is a pure function of its seed and family: how many replicas, how they are linked, which
 * operations run where and when (virtual ms), and which faults strike. `describeSchedule` prints the gist for
 * a failure message; the seed and family alone replay it.
 *
 * Fault classes ("features", FEATURES below), each drawn with a probability in the 'mixed' family and forced in
 * the family of its name (a family is 'mixed' with one feature always on):
 *
 *   restore-replica  a replica's disk is replaced by a copy taken earlier (backup, copied directory, VM
 *                    snapshot); half the time it stays cut off for a while after, writing before it reconnects
 *   restore-relay    the same for a relay
 *   crash            disks take a virtual fsync per group commit, and power losses drop what was not durable
 *   gc-relay         relays collect tombstones with a short grace, several times; peers stay away longer
 *   gc-peer          a mid-chain peer (not a relay, two links or more) collects tombstones likewise
 *   tabs             some nodes run 2–3 replica instances on one storage (tabs); the leader holds the links,
 *                    the others write with their own stale contexts; tabs close and reopen
 *   tiny-frames      a frame limit of a few hundred bytes to 2 KiB, and more keys
 *   relay-hub        one or two relays with clients on both sides of each relay's replicaId, and
 *                    peer-to-peer links between some clients
 *   clock-skew       wall clocks off by up to hundreds of ms … minutes
 *   far-future       one replica's clock is a day ahead
 *   restore-once     one client restored from an earlier copy, once (restore-replica draws one or two, which may
 *                    restore a replica's witness too): a peer that saw its lost writes directly is there to tell it
 *   withheld         one or two "narrow" nodes whose connections carry frames of a few KiB, and writes of values of
 *                    10–24 KB: such a key state cannot go over a narrow connection (VALUE_TOO_LARGE, withheld: acks.ts),
 *                    so a big write of a narrow node is held by no other node, and one of a wide node reaches only
 *                    the nodes wide links join (half the big writes are made beside a narrow node by a node with a
 *                    wide link too; some of their writers restart soon after). Most are written small again later; in
 *                    half the schedules every node holding a big version writes its key small after heal
 *                    (then everything must converge and nothing stay pending), in the others big versions stay
 *                    (checks.ts judges such keys per group of nodes wide links join). Drawn in its own family only
 *                    (so the seeds of 'mixed' and the other families keep their meaning), from its own stream (9);
 *                    never with tabs (see the feature draws).
 *   disk-full        disks take a virtual fsync per group commit (as crash), and three to six times a node's next
 *                    group commits fail (STORAGE_FULL, the replica lives on: SimDisk failNextCommit), at a writer
 *                    with writes in flight, or a relay while its clients write; half the time the node was cut
 *                    off and wrote keys meanwhile, and as it rejoins it writes them again while its disk is full
 *                    (its reconnection's anti-entropy runs meet the failures). Drawn in its own family only,
 *                    its faults last of the feature-fault stream (5): no other family's schedule changes.
 *   relink           the application closes links and opens them again while traffic flows (relink-faults.ts): a
 *                    link closed and re-linked (at once or later, again mid-catch-up), a second link to a peer it
 *                    is linked to already (one of the two closed, or both kept to the end), a relay client moving
 *                    to the other relay and back, relays restarting under a fresh id. Half its schedules are a
 *                    relay-hub (of five nodes or more), three in ten have the withheld feature's narrow nodes (lacks);
 *                    its checks include the withheld feature's (run-schedule.ts liveness). Drawn in its own family
 *                    only, from its own stream (10).
 *   typed-delete     counters and add-wins sets deleted and written again while a peer is away with an old copy
 *                    (typed-delete-ops.ts: a peer away at the delete writes its copy; the deleter, or another tab of
 *                    its storage, writes the key again; sometimes a second delete). The other families delete plain
 *                    keys only. Not with tiny-frames (typed values outgrow its frames); with gc features its typed
 *                    operations are kept unless the space is emptied. Checks: checks.ts / typed-delete-checks.ts.
 *                    Drawn in its own family only, from its own stream (11).
 *
 * Draw order (old seeds changed meaning when the fault classes came; these streams keep concerns apart, so
 * adding a draw to one does not shift another): the PRNG of the seed (xor a hash of the family's name, except
 * for 'mixed') forks, in this order, the streams of
 *   1. features (one roll per feature, in FEATURES order, always drawn, then applied)
 *   2. shape (size, topology, edges, relays and their clients' sides, latency, duration, keys, frame limit,
 *      anti-entropy interval, fsync delays, tabs, collectors, clock skews)
 *   3. operations
 *   4. base faults (drop, partition, restart)
 *   5. feature faults (feature-faults.ts: restore, crash, dead disks, collect, tab, and the absences and
 *      quiet tail of the gc features)
 *   6. document edits (Edit: half the schedules edit a Yjs document key, written as deltas)
 *   7. the fast path (half the schedules answer every anti-entropy opening with a sketch where one fits a frame,
 *      however few keys the space holds: spaces here are too small for the size rule to pick it)
 *   8. peers of earlier releases
 *   9. the withheld feature's narrow nodes and big writes
 *  10. the relink feature: whether a relay-hub and narrow nodes go with it, then its faults
 *  11. the typed-delete feature's operations and absences
 * A feature switched off (`disabled`, for fixes still pending: see pending.ts) is rolled all the same, and the
 * draws of a stream are made whatever the features, so switching one changes only what it shapes (features
 * that change the topology — relays, a mid-chain peer — do shift the draws that depend on it).
 */
import { prng, Rng } from './clock.js';
import { featureFaults } from './feature-faults.js';
import { relinkFaults } from './relink-faults.js';
import { typedDeleteOps } from './typed-delete-ops.js';

export const FEATURES = ['restore-replica', 'restore-relay', 'crash', 'gc-relay', 'gc-peer', 'tabs', 'tiny-frames', 'relay-hub', 'clock-skew', 'far-future', 'restore-once', 'withheld', 'disk-full', 'relink', 'typed-delete'] as const;
/** Features drawn only in their own family (rolled everywhere all the same). */
const OWN_FAMILY_ONLY: ReadonlySet<Feature> = new Set(['withheld', 'disk-full', 'relink', 'typed-delete']);
export type Feature = (typeof FEATURES)[number];
export type Family = 'mixed' | Feature;
/**
 * Not a family: relays run with tombstone collection on (and the default grace of a month, never reached in a
 * run) as real relays do, so their refusal of collected versions runs in every relay schedule. Listed beside
 * the features so a pending fix can switch it off (relays then do not collect, unless a gc family asks).
 */
export const RELAYS_COLLECT = 'relays-collect' as const;
/**
 * Not a family either: a relay restored from an older copy in the same run as a client restored from one. Listed so a
 * pending fix can switch the combination off (the client's restores are then left out; a restore-relay family keeps
 * its relay restore).
 */
export const DOUBLE_RESTORE = 'double-restore' as const;
export type Switch = Feature | typeof RELAYS_COLLECT | typeof DOUBLE_RESTORE;
export const FAMILIES: readonly Family[] = ['mixed', ...FEATURES];

/** How often the 'mixed' family draws each feature, and a family each feature beside its own. */
const P_FEATURE = 0.15;
const P_FEATURE_IN_FAMILY = 0.3;

export type Topology = 'star' | 'chain' | 'ring' | 'mesh' | 'hub';

export type Op =
  /** `bytes`: a big value of about that many bytes (the withheld feature); else a short one. */
  | { kind: 'put'; key: string; bytes?: number }
  | { kind: 'get'; key: string }
  | { kind: 'putCtx'; key: string }
  | { kind: 'delete'; key: string; withCtx: boolean }
  | { kind: 'incr'; key: string }
  | { kind: 'add'; key: string; item: string }
  | { kind: 'remove'; key: string; item: string };

export type Fault =
  | { kind: 'drop'; a: string; b: string }
  | { kind: 'partition'; side: string[]; heal: number }
  | { kind: 'restart'; node: string; down: number }
  /** Power loss: what the node's disk had not made durable is lost; back after `down`. */
  | { kind: 'crash'; node: string; down: number }
  /** The node's disk is replaced by its copy taken at `backupAt`; back after `down`, cut off for `isolate` more. */
  | { kind: 'restore'; node: string; backupAt: number; down: number; isolate: number }
  /** The node is cut off from every other for `for` ms (beside any partition). */
  | { kind: 'away'; node: string; for: number }
  /** The node runs tombstone collection. */
  | { kind: 'collect'; node: string }
  /** The node loses its disk and comes back after `down` on an empty one (data loss: a new replica), cut off for `isolate` more. */
  | { kind: 'wipe'; node: string; down: number; isolate?: number }
  /** One tab of the node closes, and reopens after `down`. */
  | { kind: 'tab'; node: string; tab: number; down: number }
  /** The node's disk is full for its next `commits` group commits (SimDisk failNextCommit). */
  | { kind: 'full'; node: string; commits: number }
  /** The node closes its link to `peer` (Link.close) and connects again after `gap` (relink-faults.ts). */
  | { kind: 'unlink'; node: string; peer: string; gap: number }
  /**
   * The node opens a second link to `peer` over spare edge `spare`; after `for`, it closes that one (unless `keep`: it
   * stays to the end), or with `closeFirst` the first one (connected again after `gap`; the second closes as much later).
   */
  | { kind: 'twin'; node: string; peer: string; spare: number; for: number; closeFirst: boolean; gap: number; keep: boolean }
  /** The client leaves relay `from` for relay `to` (spare edge `spare`), and comes back after `for` (absent: at heal). */
  | { kind: 'move'; node: string; from: string; to: string; spare: number; for?: number };

/**
 * An edit of a Yjs document key: a marker inserted at a fraction of the text, written as a delta against the
 * key's live versions (as concord/yjs's openDoc writes), so documents exercise deltas on the wire and in
 * storage (held forms, LIVE frames, NEED, composition) under every fault.
 */
export interface Edit {
  key: string;
  /** Where the marker goes, as a fraction of the text's length. */
  at: number;
}

export const DOCS = ['doc0'];

export interface Timed<T> {
  at: number;
  node: string;
  what: T;
  /** For operations: the tab (instance) of the node that runs it. */
  tab?: number;
}

export interface Schedule {
  seed: number;
  family: Family;
  /** The features this schedule has (after pending ones were switched off). */
  features: Feature[];
  /** Features rolled on but switched off because their fix is pending (and RELAYS_COLLECT when off). */
  disabled: Switch[];
  nodes: string[];
  topology: Topology;
  edges: Array<[string, string]>;
  latency: { min: number; max: number };
  /** Nodes that accept connections (relays); their clients dial them. */
  relays: string[];
  /** Per relay client: its replicaId sorts above or below its relay's. */
  sides: Record<string, 'above' | 'below'>;
  /** The transport's frame limit, small in some schedules so catch-up and anti-entropy must split. */
  maxFrameBytes: number | undefined;
  antiEntropyInterval: number;
  /** Virtual ms of one fsync per node (absent: durable at once). */
  fsync: Record<string, { min: number; max: number }>;
  /** Replica instances (tabs) per node, where more than one. */
  tabs: Record<string, number>;
  /** Nodes that collect tombstones, with their grace (virtual ms). */
  collect: Record<string, number>;
  /** Wall-clock skew per node (ms). */
  skew: Record<string, number>;
  /** The node whose clock is far ahead, if any. */
  farFuture: string | undefined;
  /** Virtual ms during which operations happen; faults go on for `tail` more (a quiet time for collection); then everything heals. */
  duration: number;
  tail: number;
  ops: Array<Timed<Op>>;
  faults: Array<Timed<Fault>>;
  /** Document edits (their own stream: drawing them shifts no other draw of the seed). */
  edits: Array<Timed<Edit>>;
  /** Every replica answers anti-entropy openings with a sketch where one fits (fast-path.ts), not only in large spaces. */
  sketches: boolean;
  /**
   * Nodes playing a peer of an earlier release: the protocol versions they announce (and read: an item of a later
   * version closes the link, as that release's decoder would). Its own stream.
   */
  speaks: Record<string, number[]>;
  /** The withheld feature's narrow nodes: the frame limit of every connection they have (absent: none). */
  narrow: Record<string, number>;
  /** The withheld feature: after heal, every node holding a big version writes its key small again (false: they stay). */
  shrinkAtEnd: boolean;
  /** The relink feature's spare edges (dialer first), by the index its faults name; the cluster links them on those faults only. */
  spares: Array<[string, string]>;
}

/** The withheld feature's sizes: narrow frame limits, and big values (each over every narrow limit). */
export const NARROW_LIMITS: readonly number[] = [4096, 6144, 8192];
export const BIG_VALUE = { min: 10_000, max: 24_000 } as const;

/** Earlier releases a node may play: what their hellos announced (messages.ts PROTOCOL_VERSIONS). */
const RELEASES: readonly number[][] = [[5, 6, 7, 8], [5, 6, 7], [5, 6], [5]];

export const COUNTERS = ['c0', 'c1'];
export const SETS = ['set0'];
const ITEMS = ['apple', 'pear', 'fig', 'kiwi', 'lime'];
export const DAY = 24 * 3600 * 1000;

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

export interface GenerateOptions {
  family?: Family;
  sizes?: Sizes;
  /** Features (and RELAYS_COLLECT) to switch off (fixes pending). */
  disabled?: ReadonlySet<Switch>;
}

export function makeSchedule(seed: number, options: GenerateOptions = {}): Schedule {
  const family = options.family ?? 'mixed';
  const sizes = options.sizes ?? sizesFromEnv();
  // A family's seeds are its own: seed n of two families share no draws (so a co-drawn feature does not make
  // the same seed fail in every family).
  const rng = new Rng(prng(family === 'mixed' ? seed : (seed ^ familySalt(family)) >>> 0));
  const featRng = rng.fork();
  const shape = rng.fork();
  const opsRng = rng.fork();
  const faultRng = rng.fork();
  const extraRng = rng.fork();
  const docRng = rng.fork();
  const sketchRng = rng.fork();
  const releaseRng = rng.fork();
  const withheldRng = rng.fork();
  const relinkRng = rng.fork();
  const typedRng = rng.fork();

  // 1. Features.
  const on = new Set<Feature>();
  const disabled: Switch[] = [];
  for (const f of FEATURES) {
    const roll = featRng.next();
    if (f !== family && (OWN_FAMILY_ONLY.has(f) || roll >= (family === 'mixed' ? P_FEATURE : P_FEATURE_IN_FAMILY))) continue;
    if (options.disabled?.has(f)) disabled.push(f);
    else on.add(f);
  }
  // 10. The relink feature brings a relay-hub in half its schedules and narrow nodes (lacks) in three in ten.
  const relinkHub = relinkRng.chance(0.5);
  const relinkNarrow = relinkRng.chance(0.3);
  if (on.has('relink') && relinkHub) on.add('relay-hub');
  if (on.has('relink') && relinkNarrow) on.add('withheld');
  // Not tabs beside narrow nodes: the simulated disk gives its instances no shared port, so a tab taking the network
  // role over would know nothing of the keys its predecessor's links withheld (the library tells them by tab messages,
  // lib/sync/tabs.ts, tested with a port in test/review/withheld-follower-*.test.ts): withheld 153 said pending 0 so.
  if (on.has('withheld')) on.delete('tabs');
  // Typed keys outgrow a tiny frame (VALUE_TOO_LARGE: see the operations below): not with the typed-delete feature.
  if (on.has('typed-delete')) on.delete('tiny-frames');
  const clientRestores = ['restore-replica', 'restore-once'] as const;
  if (options.disabled?.has(DOUBLE_RESTORE) && on.has('restore-relay') && clientRestores.some((f) => on.has(f))) {
    if (family === 'restore-relay') for (const f of clientRestores) on.delete(f);
    else on.delete('restore-relay');
    disabled.push(DOUBLE_RESTORE);
  }

  // 2. Shape.
  const needsRelay = on.has('relay-hub') || on.has('restore-relay') || on.has('gc-relay');
  // A relinking relay-hub has five nodes or more: room for two relays, whose clients move between them.
  const n = shape.int(on.has('relay-hub') ? (on.has('relink') ? 5 : 4) : on.has('gc-peer') ? 3 : 2, 8);
  const nodes = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
  const drawn = shape.pick<Topology>(['star', 'chain', 'ring', 'mesh', 'hub']);
  const topology: Topology = needsRelay ? 'hub' : drawn;
  const { edges, relays } = link(nodes, topology, shape, on.has('relay-hub'));
  const sides: Record<string, 'above' | 'below'> = {};
  if (relays.length > 0) {
    // Clients on both sides of their relay's replicaId (the relay-hub feature makes sure of both).
    const clients = nodes.filter((x) => !relays.includes(x) && edges.some(([a, b]) => (a === x && relays.includes(b)) || (b === x && relays.includes(a))));
    const forceBoth = on.has('relay-hub') && clients.length >= 2;
    clients.forEach((c, i) => {
      const side = shape.chance(0.5) ? 'above' : 'below';
      sides[c] = forceBoth && i < 2 ? (i === 0 ? 'above' : 'below') : side;
    });
  }
  const maxLatency = shape.pick([2, 20, 200]);
  const duration = shape.int(1000, 6000);
  const gcKeys = shape.pick([1, 2, 3, 6, 12]);
  const gcPlainOnly = shape.chance(0.5);
  // A third of the relay-collection schedules empty the relay's space: one or two plain keys, which the relay
  // itself deletes once the operations are over, and peers away until the end.
  const emptiesRoll = shape.chance(0.3);
  const gcEmpties = on.has('gc-relay') && emptiesRoll;
  const tinyKeys = shape.int(10, 40);
  const plainKeyCount = shape.int(1, 5);
  const keyCount = on.has('tiny-frames') ? tinyKeys : gcEmpties ? 1 + (gcKeys % 2) : on.has('gc-relay') || on.has('gc-peer') ? gcKeys : plainKeyCount;
  const plainKeys = Array.from({ length: keyCount }, (_, i) => `k${i}`);
  const plainLimit = shape.pick([undefined, undefined, 2048]);
  const tinyLimit = shape.pick([512, 640, 768, 1024, 1536, 2048]);
  // Narrow nodes (withheld) need wide links beside them: no frame limit for the whole schedule unless tiny-frames asks.
  const maxFrameBytes = on.has('tiny-frames') ? tinyLimit : on.has('withheld') ? undefined : plainLimit;
  const plainAe = shape.pick([0, 0, 500, 5000]);
  const fastAe = shape.pick([300, 600, 1200]);
  // Rounds far apart compared to a round trip (as in deployments: a minute by default), so the network falls
  // quiet between them and the checker can tell that a cluster settled.
  const drawnAe = on.has('crash') || on.has('relay-hub') || on.has('disk-full') ? fastAe : plainAe;
  const antiEntropyInterval = drawnAe > 0 ? Math.max(drawnAe, 8 * maxLatency) : 0;
  const tabs: Record<string, number> = {};
  const tabNodes = shape.int(1, 2);
  const candidates = nodes.filter((x) => !relays.includes(x));
  for (let i = 0; i < tabNodes; i++) {
    const x = shape.pick(candidates);
    const count = shape.int(2, 3);
    if (on.has('tabs')) tabs[x] = count;
  }
  const fsync: Record<string, { min: number; max: number }> = {};
  const fsyncMax = shape.pick([50, 300, 1000]);
  for (const x of nodes) if ((on.has('crash') || on.has('disk-full')) && !tabs[x]) fsync[x] = { min: Math.floor(fsyncMax / 2), max: fsyncMax };
  const collect: Record<string, number> = {};
  const grace = shape.int(100, 1500);
  const degree = (x: string) => edges.filter(([a, b]) => a === x || b === x).length;
  const linked = (x: string, y: string) => edges.some(([a, b]) => (a === x && b === y) || (a === y && b === x));
  const bridge = shape.pick(nodes.filter((x) => !relays.includes(x)));
  const partners = nodes.filter((x) => !relays.includes(x) && x !== bridge && !linked(x, bridge));
  const partner = partners.length ? shape.pick(partners) : undefined;
  if (on.has('gc-peer') && !nodes.some((x) => !relays.includes(x) && degree(x) >= 2) && partner) edges.push([bridge, partner]);
  const midChain = nodes.filter((x) => !relays.includes(x) && degree(x) >= 2);
  const peerCollector = midChain.length > 0 ? shape.pick(midChain) : undefined;
  if (on.has('gc-relay')) for (const r of relays) collect[r] = grace;
  if (on.has('gc-peer') && peerCollector) collect[peerCollector] = grace;
  // Relays collect tombstones as real ones do (with the default grace of a month: never within a run).
  if (options.disabled?.has(RELAYS_COLLECT)) {
    if (relays.length) disabled.push(RELAYS_COLLECT);
  } else for (const r of relays) collect[r] ??= 30 * DAY;
  const skew: Record<string, number> = {};
  const skewMax = on.has('clock-skew') ? shape.pick([500, 5000, 60_000, 300_000]) : 200;
  for (const x of nodes) skew[x] = shape.int(-skewMax, skewMax);
  const future = shape.pick(candidates);
  const farFuture = on.has('far-future') ? future : undefined;
  if (farFuture) skew[farFuture] = DAY;

  // 3. Operations. Where tombstones are collected, more deletes, and half the time only plain keys (counters
  // and sets are never deleted by these draws, only by the typed-delete feature's: a space can only be emptied by
  // collection without them).
  const gcOn = Object.values(collect).some((g) => g < DAY);
  // Tiny frames carry plain values only: a counter or add-wins set with several siblings outgrows a frame of a
  // few hundred bytes, which the engine rightly reports (VALUE_TOO_LARGE) instead of sending.
  // The typed-delete feature keeps typed keys where tombstones are collected too (not where the space is emptied).
  const plainOnly = on.has('tiny-frames') || (gcOn && ((gcPlainOnly && !on.has('typed-delete')) || gcEmpties));
  const ops: Array<Timed<Op>> = [];
  for (let i = 0, count = opsRng.int(sizes.minOps, sizes.maxOps); i < count; i++) {
    // Every draw is made for every operation, whatever its kind, so the kinds a feature allows do not shift
    // the times and nodes of the operations after it.
    const drawn = opsRng.next();
    const key = opsRng.pick(plainKeys);
    const merged = opsRng.pick([...COUNTERS, ...SETS]);
    const readMerged = opsRng.chance(0.3);
    const counter = opsRng.pick(COUNTERS);
    const set = opsRng.pick(SETS);
    const item = opsRng.pick(ITEMS);
    const withCtx = opsRng.chance(0.5);
    const x = plainOnly ? drawn * 0.68 : drawn;
    const delP = gcOn ? 0.25 : 0.08; // collection needs deletes
    const what: Op =
      x < 0.3 ? { kind: 'put', key }
      : x < 0.45 ? { kind: 'get', key: readMerged && !plainOnly ? merged : key } // merged keys: read repair
      : x < 0.68 - delP ? { kind: 'putCtx', key }
      : x < 0.68 ? { kind: 'delete', key, withCtx }
      : x < 0.83 ? { kind: 'incr', key: counter }
      : x < 0.93 ? { kind: 'add', key: set, item }
      : { kind: 'remove', key: set, item };
    const at = opsRng.int(0, duration);
    const node = opsRng.pick(nodes);
    ops.push({ at, node, what, tab: opsRng.int(0, 2) });
  }

  // 4. Base faults.
  const faults: Array<Timed<Fault>> = [];
  for (let i = 0, count = faultRng.int(0, sizes.maxFaults); i < count; i++) {
    const at = faultRng.int(0, duration);
    const x = faultRng.next();
    if (x < 0.45) {
      const [a, b] = faultRng.pick(edges);
      faults.push({ at, node: a, what: { kind: 'drop', a, b } });
    } else if (x < 0.75) {
      const side = nodes.filter(() => faultRng.chance(0.4));
      if (side.length === 0 || side.length === n) side.splice(0, side.length, faultRng.pick(nodes));
      // Where relays are, half the cuts take just the relays away: clients keep their peer-to-peer links.
      if (faultRng.chance(0.5) && relays.length) side.splice(0, side.length, ...relays);
      faults.push({ at, node: side[0]!, what: { kind: 'partition', side, heal: faultRng.int(50, 3000) } });
    } else {
      const node = faultRng.pick(nodes);
      faults.push({ at, node, what: { kind: 'restart', node, down: faultRng.int(0, 2000) } });
    }
  }

  // 5. Feature faults (feature-faults.ts).
  const { tail } = featureFaults({ rng: extraRng, on, nodes, relays, edges, plainKeys, duration, grace, collect, tabs, gcEmpties, ops, faults });

  // 6. Document edits, in half the schedules; not where only plain values go (a document outgrows a tiny frame,
  // and an emptied space holds no document). Every draw is made all the same.
  const edits: Array<Timed<Edit>> = [];
  const editing = docRng.chance(0.5);
  for (let i = 0, count = docRng.int(3, 25); i < count; i++) {
    const at = docRng.int(0, duration);
    const node = docRng.pick(nodes);
    const where = docRng.next();
    const tab = docRng.int(0, 2);
    if (editing && !plainOnly) edits.push({ at, node, what: { key: DOCS[0]!, at: where }, tab });
  }

  // 9. The withheld feature (its own stream: every draw made whether or not it is on).
  const narrowDrawn: Record<string, number> = {};
  const narrowCount = withheldRng.int(1, 2);
  for (let i = 0; i < narrowCount; i++) narrowDrawn[withheldRng.pick(nodes)] = withheldRng.pick(NARROW_LIMITS);
  const narrow = on.has('withheld') ? narrowDrawn : {};
  // Half the big writes are made beside a narrow node by a node with a wide link too: withheld from one peer, held by
  // another (the withhold is per peer).
  const near = (x: string) => edges.some(([a, b]) => (a === x && narrowDrawn[b] !== undefined) || (b === x && narrowDrawn[a] !== undefined));
  const wideToo = (x: string) => edges.some(([a, b]) => (a === x && narrowDrawn[b] === undefined) || (b === x && narrowDrawn[a] === undefined));
  const besideNarrow = nodes.filter((x) => narrowDrawn[x] === undefined && near(x) && wideToo(x));
  const bigWrites = withheldRng.int(2, 6);
  for (let i = 0; i < bigWrites; i++) {
    const at = withheldRng.int(0, duration);
    const node = withheldRng.chance(0.5) && besideNarrow.length ? withheldRng.pick(besideNarrow) : withheldRng.pick(nodes);
    const key = withheldRng.pick(plainKeys);
    const bytes = withheldRng.int(BIG_VALUE.min, BIG_VALUE.max);
    const tab = withheldRng.int(0, 2);
    // Most are written small again by their writer a while later (that state may go everywhere).
    const shrinks = withheldRng.chance(0.6);
    const later = withheldRng.int(50, 1500);
    // Some writers restart a while after (the withhold must outlive the process: stored, and restored at the open).
    const restarts = withheldRng.chance(0.3);
    const restartAt = at + withheldRng.int(100, 1200);
    const down = withheldRng.int(0, 600);
    if (!on.has('withheld')) continue;
    ops.push({ at, node, what: { kind: 'put', key, bytes }, tab });
    if (shrinks) ops.push({ at: at + later, node, what: { kind: 'put', key }, tab });
    if (restarts) faults.push({ at: restartAt, node, what: { kind: 'restart', node, down } });
  }
  const shrinkAtEnd = withheldRng.chance(1 / 2) && on.has('withheld');

  // 10. The relink feature's faults (relink-faults.ts).
  const spares = relinkFaults({ rng: relinkRng, on: on.has('relink'), nodes, relays, edges, duration, maxLatency, faults });

  // 11. The typed-delete feature's operations and absences (typed-delete-ops.ts).
  typedDeleteOps({ rng: typedRng, on: on.has('typed-delete') && !plainOnly, nodes, counters: COUNTERS, sets: SETS, items: ITEMS, duration, ops, faults });

  const byTime = <T>(a: Timed<T>, b: Timed<T>) => a.at - b.at;
  return {
    seed,
    family,
    features: FEATURES.filter((f) => on.has(f)),
    disabled,
    nodes,
    topology,
    edges,
    latency: { min: 1, max: maxLatency },
    relays,
    sides,
    maxFrameBytes,
    antiEntropyInterval,
    fsync,
    tabs,
    collect,
    skew,
    farFuture,
    duration,
    tail,
    ops: ops.sort(byTime),
    faults: faults.sort(byTime),
    edits: edits.sort(byTime),
    // 7. The fast path.
    sketches: sketchRng.chance(0.5),
    // 8. Peers of earlier releases, in a third of the schedules: one or two nodes, each announcing older versions.
    speaks: releaseRng.chance(1 / 3) ? Object.fromEntries(Array.from({ length: releaseRng.int(1, 2) }, () => [releaseRng.pick(nodes), [...releaseRng.pick(RELEASES)]])) : {},
    narrow,
    shrinkAtEnd,
    spares,
  };
}

function familySalt(family: string): number {
  let h = 2166136261;
  for (let i = 0; i < family.length; i++) h = Math.imul(h ^ family.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function link(nodes: string[], topology: Topology, rng: Rng, hub: boolean): { edges: Array<[string, string]>; relays: string[] } {
  const edges: Array<[string, string]> = [];
  const has = (a: string, b: string) => edges.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
  const relays: string[] = [];
  if (topology === 'star') for (const x of nodes.slice(1)) edges.push([nodes[0]!, x]);
  else if (topology === 'hub') {
    // A relay serving every client; with the relay-hub feature, sometimes a second relay linked to the first
    // with clients of its own, and peer-to-peer links between some clients.
    const two = rng.chance(0.3) && nodes.length >= 5;
    const p2p = rng.int(0, Math.floor(nodes.length / 2));
    relays.push(nodes[0]!);
    if (hub && two) relays.push(nodes[1]!);
    for (const x of nodes.slice(relays.length)) edges.push([rng.pick(relays), x]);
    if (relays.length === 2) edges.push([relays[0]!, relays[1]!]);
    const clients = nodes.slice(relays.length);
    for (let i = 0; i < p2p && hub; i++) {
      const a = rng.pick(clients);
      const b = rng.pick(clients);
      if (a !== b && !has(a, b)) edges.push([a, b]);
    }
  } else if (topology === 'chain' || topology === 'ring') {
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
  return { edges, relays };
}

export function describeSchedule(s: Schedule): string {
  const faults = s.faults.map((f) => {
    const w = f.what;
    const text =
      w.kind === 'drop' ? `drop ${w.a}-${w.b}`
      : w.kind === 'partition' ? `partition [${w.side.join('')}] for ${w.heal}`
      : w.kind === 'restart' ? `restart ${w.node} down ${w.down}`
      : w.kind === 'crash' ? `crash ${w.node} down ${w.down}`
      : w.kind === 'restore' ? `restore ${w.node} to its copy @${w.backupAt}, down ${w.down}${w.isolate ? `, cut off ${w.isolate} after` : ''}`
      : w.kind === 'collect' ? `collect on ${w.node}`
      : w.kind === 'away' ? `${w.node} away for ${w.for}`
      : w.kind === 'full' ? `${w.node}'s disk full for ${w.commits} commit${w.commits > 1 ? 's' : ''}`
      : w.kind === 'wipe' ? `${w.node} loses its disk, back empty after ${w.down}${w.isolate ? `, cut off ${w.isolate} more` : ''}`
      : w.kind === 'unlink' ? `${w.node} closes its link to ${w.peer}, links again after ${w.gap}`
      : w.kind === 'twin' ? `${w.node} opens a second link to ${w.peer} (spare ${w.spare}); after ${w.for} closes ${w.closeFirst ? `the first, links it again after ${w.gap}` : 'the second'}${w.keep ? ', the second kept to the end' : ''}`
      : w.kind === 'move' ? `${w.node} leaves relay ${w.from} for ${w.to} (spare ${w.spare}), back ${w.for !== undefined ? `after ${w.for}` : 'at heal'}`
      : `close tab ${w.node}/${w.tab} for ${w.down}`;
    return `@${f.at} ${text}`;
  });
  const dict = (r: Record<string, unknown>) => Object.entries(r).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
  return [
    `family ${s.family}; features [${s.features.join(' ')}]${s.disabled.length ? ` (pending, off: ${s.disabled.join(' ')})` : ''}`,
    `${s.nodes.length} replicas, ${s.topology}${s.relays.length ? ` through relay ${s.relays.join('+')}` : ''} [${s.edges.map((e) => e.join('-')).join(' ')}], latency ≤${s.latency.max} ms, frames ≤${s.maxFrameBytes ?? 'default'} bytes, anti-entropy every ${s.antiEntropyInterval || 'never'}`,
    [
      Object.keys(s.sides).length ? `client ids vs relay: ${dict(s.sides)}` : '',
      Object.keys(s.fsync).length ? `fsync ≤${Object.values(s.fsync)[0]!.max} ms` : '',
      Object.keys(s.tabs).length ? `tabs ${dict(s.tabs)}` : '',
      Object.keys(s.collect).length ? `collect grace ${dict(s.collect)}` : '',
      `skew ${dict(s.skew)}`,
      Object.keys(s.speaks).length ? `earlier releases ${dict(s.speaks)}` : '',
      Object.keys(s.narrow).length ? `narrow frames ${dict(s.narrow)}, ${s.ops.filter((o) => o.what.kind === 'put' && o.what.bytes).length} big writes${s.shrinkAtEnd ? ', written small after heal' : ', left big'}` : '',
    ].filter(Boolean).join('; '),
    `${s.ops.length} ops${s.edits.length ? ` and ${s.edits.length} document edits` : ''} over ${s.duration} ms${s.tail ? ` and a quiet tail of ${s.tail} ms` : ''}; faults: ${faults.join(', ') || 'none'}`,
  ].join('\n');
}
