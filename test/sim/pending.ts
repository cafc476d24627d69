/**
 * Engine fixes still pending (issue 10): the ONE list of what the simulator leaves out of CI until a fix lands.
 * Remove an entry when its fix is merged; nothing else needs to change. SIM_PENDING=1 runs everything as if
 * the list were empty (to see what still fails); SIM_PENDING=<entry>,<entry> releases just those (to check one
 * fix before removing its entry, e.g. SIM_PENDING=crash SIM_FAMILY=crash npx vitest run test/sim/convergence.test.ts).
 *
 * Entries are named by what they switch off:
 *   '<feature>'          a fault class of schedule.ts: CI schedules do not draw it, and its seed family is skipped
 *   'relays-collect'     relays run without tombstone collection (and so without its refusal) unless a gc
 *                        family asks for it
 *   'double-restore'     no schedule restores a relay and a client both (schedule.ts DOUBLE_RESTORE)
 *   'jitter'             no CI schedule runs with storage-timing jitter (convergence-suite.ts: its share runs plain)
 *   'check:<name>'       a check of run-schedule.ts that CI does not apply
 *   'scenario:<name>'    a named scenario test (scenarios*.test.ts) that CI skips
 * `defects` are the numbers of issue 10 the entry demonstrates (see each test/sim family's notes).
 */
import { DOUBLE_RESTORE, FEATURES, RELAYS_COLLECT, type Switch } from './schedule.js';

export interface Pending {
  /** Defects of issue 10 (numbers), or new ones the simulator found ('N1'…'N4': see the report of branch sim-faults). */
  defects: Array<number | string>;
  why: string;
}

/**
 * Remove an entry once every defect it names is fixed (run `SIM_PENDING=1 npx vitest run test/sim` first).
 * Families (fault classes) first, then checks, then named scenarios.
 */
export const PENDING_FIXES: Record<string, Pending> = {};

export type CheckName = 'periodic-anti-entropy' | 'hlc-drift' | 'synced-durable' | 'synced-durable-kept-disks' | 'held-claims' | 'held-claims-no-power-loss';

/** SIM_PENDING=1: nothing is pending; SIM_PENDING=crash,check:hlc-drift: those entries are not. */
const released = new Set((process.env.SIM_PENDING ?? '').split(',').filter(Boolean));

export function isPending(entry: string): boolean {
  return !released.has('1') && !released.has(entry) && entry in PENDING_FIXES;
}

/** Features (and RELAYS_COLLECT) CI leaves out of every schedule. */
export function pendingFeatures(): Set<Switch> {
  const all: Switch[] = [...FEATURES, RELAYS_COLLECT, DOUBLE_RESTORE];
  return new Set(all.filter((f) => isPending(f)));
}

export function checkEnabled(name: CheckName): boolean {
  return !isPending(`check:${name}`);
}

/** A label for a skipped test: what it waits for. */
export function pendingLabel(entry: string): string {
  const p = PENDING_FIXES[entry];
  return p ? `pending fix of defect ${p.defects.join(', ')} (issue 10): ${p.why}` : '';
}
