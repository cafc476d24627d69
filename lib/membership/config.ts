/**
 * SWIM configuration and presets. `lanConfig()` suits relays on one network (probe every second);
 * `localConfig()` is ten times faster, for tests on loopback or in simulation. All durations are in
 * milliseconds of whatever clock the driver passes as `now`.
 *
 * Invariants the constructor checks: probeTimeout < probeInterval (a probe round has room for the
 * indirect probes), every duration positive, every count a positive integer.
 */
import { defaultLimits, type MessageLimits } from './messages.js';

export interface SwimConfig {
  /** Length of one protocol period: a member probes one other member per period. */
  probeInterval: number;
  /** Wait for a direct ack before asking `indirectChecks` others to probe for us. */
  probeTimeout: number;
  /** k: members asked to probe indirectly when the direct ping goes unanswered. */
  indirectChecks: number;
  /** Suspicion timeout = suspicionMult × max(1, log10 N) × probeInterval (see timeouts.ts). */
  suspicionMult: number;
  /** Piggyback each update retransmitMult × ceil(log10(N + 1)) times. */
  retransmitMult: number;
  /** Most updates piggybacked on one outgoing message. */
  maxPiggyback: number;
  /** Full state exchange with one random member this often (anti-entropy; heals partitions). */
  pushPullInterval: number;
  /** Dead and left members stay as tombstones this long, so stale gossip cannot resurrect them. */
  tombstoneRetention: number;
  /** A leaving member sends its departure to this many members per period while it still has news. */
  gossipFanout: number;
  limits: MessageLimits;
}

export function lanConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return {
    probeInterval: 1000,
    probeTimeout: 500,
    indirectChecks: 3,
    suspicionMult: 4,
    retransmitMult: 4,
    maxPiggyback: 16,
    pushPullInterval: 30_000,
    tombstoneRetention: 5 * 60_000,
    gossipFanout: 3,
    limits: defaultLimits,
    ...overrides,
  };
}

export function localConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return lanConfig({
    probeInterval: 100,
    probeTimeout: 50,
    suspicionMult: 3,
    pushPullInterval: 3_000,
    tombstoneRetention: 60_000,
    ...overrides,
  });
}

export function checkConfig(c: SwimConfig): void {
  const positive = ['probeInterval', 'probeTimeout', 'suspicionMult', 'pushPullInterval', 'tombstoneRetention'] as const;
  for (const k of positive) {
    if (!(typeof c[k] === 'number' && c[k] > 0 && Number.isFinite(c[k]))) throw new RangeError(`SwimConfig.${k} must be a positive number`);
  }
  const counts = ['indirectChecks', 'retransmitMult', 'maxPiggyback', 'gossipFanout'] as const;
  for (const k of counts) {
    if (!(Number.isSafeInteger(c[k]) && c[k] > 0)) throw new RangeError(`SwimConfig.${k} must be a positive integer`);
  }
  if (c.probeTimeout >= c.probeInterval) throw new RangeError('SwimConfig.probeTimeout must be shorter than probeInterval');
  if (c.maxPiggyback > c.limits.maxUpdates) throw new RangeError('SwimConfig.maxPiggyback exceeds limits.maxUpdates (peers would reject our messages)');
}
