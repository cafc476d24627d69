/**
 * The S8 measurements on a simulated cluster (sim-network.ts), shared by the tests (which assert the
 * properties) and the benchmark (which reports the figures). Each is a pure function of its options:
 * the seed replays it exactly. All times are virtual milliseconds; "rounds" are probe intervals.
 *
 *   join        a new member joins through one seed: rounds until every member holds it alive
 *   detection   a member is killed: time to the first suspicion anywhere, to the first dead verdict,
 *               and until every member holds it dead
 *   healthy     nobody fails for `duration`: dead verdicts (false positives), suspicions, refutations
 *   partition   members are cut off for longer than the suspicion timeout, then the network heals:
 *               time until every member holds every other alive again
 */
import { type SwimConfig } from '../../lib/membership/config.js';
import { SimCluster } from './sim-network.js';
import { suspicionTimeout } from '../../lib/membership/timeouts.js';

export interface ScenarioOptions {
  seed: number;
  /** Cluster size, the new or failed member included. */
  n: number;
  config?: SwimConfig;
  loss?: number;
  latency?: { min: number; max: number };
  /** JSON round trip per message (default true; the benchmark turns it off for its largest runs). */
  serialize?: boolean;
}

function cluster(o: ScenarioOptions, n: number): SimCluster {
  return new SimCluster({ seed: o.seed, n, config: o.config, loss: o.loss ?? 0, latency: o.latency, serialize: o.serialize });
}

function firstAt(sim: SimCluster, type: string, member: string, after: number, observer?: (o: string) => boolean): number | undefined {
  for (const r of sim.log) {
    if (r.at < after || r.event.type !== type || !('member' in r.event) || r.event.member.id !== member) continue;
    if (observer && !observer(r.observer)) continue;
    return r.at;
  }
  return undefined;
}

export interface JoinResult {
  /** Every other member holds the newcomer alive. */
  reachedAll: boolean;
  ms: number;
  rounds: number;
}

export function measureJoin(o: ScenarioOptions & { limitRounds?: number }): JoinResult {
  const sim = cluster(o, o.n - 1);
  const interval = sim.config.probeInterval;
  sim.runFor(3 * interval);
  const t0 = sim.now;
  sim.add('newcomer', 'm0');
  const others = sim.ids.filter((id) => id !== 'newcomer');
  const reachedAll = sim.runUntilTrue(() => others.every((id) => sim.view(id, 'newcomer') === 'alive'), (o.limitRounds ?? 60) * interval);
  let last = t0;
  for (const id of others) last = Math.max(last, firstAt(sim, 'joined', 'newcomer', t0, (x) => x === id) ?? sim.now);
  return { reachedAll, ms: last - t0, rounds: (last - t0) / interval };
}

export interface DetectionResult {
  /** From the kill to the first suspicion by any member. */
  firstSuspicionMs: number | undefined;
  /** From the first suspicion to the first dead verdict. */
  suspicionToDeadMs: number | undefined;
  /** From the kill until every member holds the victim dead. */
  allDeadMs: number | undefined;
  /** suspicionTimeout(mult, n, interval) for this cluster. */
  timeoutMs: number;
  /** Members still up that some member declared dead (should stay 0). */
  collateralDead: number;
}

export function measureDetection(o: ScenarioOptions & { victim?: string; limitRounds?: number }): DetectionResult {
  const sim = cluster(o, o.n);
  const interval = sim.config.probeInterval;
  const victim = o.victim ?? `m${o.n - 1}`;
  sim.runFor(5 * interval);
  const t0 = sim.now;
  sim.kill(victim);
  const others = sim.ids.filter((id) => id !== victim);
  const timeoutMs = suspicionTimeout(sim.config.suspicionMult, o.n, interval);
  const allDead = sim.runUntilTrue(() => others.every((id) => sim.view(id, victim) === 'dead'), timeoutMs + (o.limitRounds ?? 60) * interval);
  const firstSuspicion = firstAt(sim, 'suspect', victim, t0);
  const firstDead = firstAt(sim, 'dead', victim, t0);
  let collateralDead = 0;
  for (const r of sim.log) if (r.event.type === 'dead' && r.event.member.id !== victim) collateralDead++;
  return {
    firstSuspicionMs: firstSuspicion === undefined ? undefined : firstSuspicion - t0,
    suspicionToDeadMs: firstDead === undefined || firstSuspicion === undefined ? undefined : firstDead - firstSuspicion,
    allDeadMs: allDead ? sim.now - t0 : undefined,
    timeoutMs,
    collateralDead,
  };
}

export interface HealthyResult {
  /** Dead verdicts about live members, counted per observer and member. */
  falseDead: number;
  falseSuspicions: number;
  refutations: number;
  /** Probe rounds simulated per member. */
  rounds: number;
  messages: number;
}

export function measureHealthy(o: ScenarioOptions & { durationMs: number }): HealthyResult {
  const sim = cluster(o, o.n);
  sim.runFor(o.durationMs);
  let falseDead = 0;
  let falseSuspicions = 0;
  let refutations = 0;
  for (const r of sim.log) {
    if (r.event.type === 'dead') falseDead++;
    else if (r.event.type === 'suspect') falseSuspicions++;
    else if (r.event.type === 'refuted') refutations++;
  }
  return { falseDead, falseSuspicions, refutations, rounds: o.durationMs / sim.config.probeInterval, messages: sim.counters.sent };
}

export interface PartitionResult {
  /** At the end of the cut: every member of the larger side held every isolated member dead. */
  restDeclaredIslandDead: boolean;
  /** At the end of the cut: members of the larger side that the first isolated member held dead. */
  islandDeadViews: number;
  /** From the heal until every member holds every other alive; undefined if not within the limit. */
  convergedMs: number | undefined;
}

export function measurePartition(o: ScenarioOptions & { isolated: number; cutMs: number; limitMs?: number }): PartitionResult {
  const sim = cluster(o, o.n);
  const ids = sim.ids;
  const island = ids.slice(0, o.isolated);
  const rest = ids.slice(o.isolated);
  sim.runFor(5 * sim.config.probeInterval);
  sim.partition([island, rest]);
  sim.runFor(o.cutMs);
  const restDeclaredIslandDead = rest.every((a) => island.every((b) => sim.view(a, b) === 'dead'));
  const first = island[0] as string;
  const islandDeadViews = rest.filter((b) => sim.view(first, b) === 'dead').length;
  sim.heal();
  const t0 = sim.now;
  const ok = sim.runUntilTrue(() => sim.converged(), o.limitMs ?? 600_000, sim.config.probeInterval);
  return { restDeclaredIslandDead, islandDeadViews, convergedMs: ok ? sim.now - t0 : undefined };
}
