/**
 * The convergence property of the sync engine over seeded schedules on the simulated network (see
 * run-schedule.ts for what is checked). Schedules come in seed families (schedule.ts): 'mixed' draws every
 * fault class now and then, and each other family forces one. CI runs a fixed number per family from a fixed
 * base seed (SIM_RUNS mixed ones, default 500, and SIM_FAMILY_RUNS of each other family, default 100; disk-full,
 * relink and typed-delete 50: 1 850 in all once no fix is pending; at 25 a revert of some issue-10 fixes was caught by
 * a single schedule), split over `parts` test files so they run in parallel; `npm run soak` runs about 10 000 (750
 * mixed, 750 a family) from a random base.
 * Families and checks whose engine fix is pending (pending.ts) are left out unless SIM_PENDING=1 (all) or
 * SIM_PENDING=<entry>,<entry> (just those).
 * A failure prints its seed and family; replay one with
 *
 *   SEED=<n> SIM_FAMILY=<family> npx vitest run test/sim/convergence.test.ts
 *
 * SIM_FAMILY=<family> alone runs only that family (SIM_FAMILY_RUNS of them). A jittered schedule's line says
 * SIM_JITTER=1 (storage-timing jitter, see JITTER_SHARE below); without SIM_JITTER a SEED replays unjittered.
 */
import { describe, expect, it } from 'vitest';
import { isPending, pendingFeatures, pendingLabel } from './pending.js';
import { describeSchedule, FAMILIES, makeSchedule, type Family } from './schedule.js';
import { runSchedule } from './run-schedule.js';

const one = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined;
const onlyFamily = process.env.SIM_FAMILY as Family | undefined;
if (onlyFamily !== undefined && !FAMILIES.includes(onlyFamily)) throw new Error(`SIM_FAMILY=${onlyFamily}: not one of ${FAMILIES.join(', ')}`);
const soak = process.env.SOAK === '1';
// The soak: 750 mixed and 750 of each other family (disk-full at its share), about 10 000 schedules — 31–35 min at load
// ~10 on this project's 2-core machine (stop 45), so under the hour issue 10 allows; SIM_RUNS / SIM_FAMILY_RUNS for more.
const mixedRuns = Number(process.env.SIM_RUNS ?? (soak ? 750 : 500));
const familyRuns = Number(process.env.SIM_FAMILY_RUNS ?? (soak ? 750 : 100));
const base = Number(process.env.SIM_BASE_SEED ?? (soak ? Math.floor(Math.random() * 2 ** 31) : 1));
/**
 * Families run at a share of SIM_FAMILY_RUNS when all run (CI's time budget): disk-full, relink and typed-delete at
 * half — 50 each in CI, one plain chunk and one jittered (about 20 s of schedules, one chunk per part).
 * SIM_FAMILY=<family> runs SIM_FAMILY_RUNS.
 */
const FAMILY_SHARE: Partial<Record<Family, number>> = { 'disk-full': 0.5, relink: 0.5, 'typed-delete': 0.5 };
/** Schedules per test case: a case stays well under the test timeout and a failure names a small range. */
const CHUNK = 25;
/**
 * Storage-timing jitter (run-schedule.ts `jitter`): the last fifth of each family's seeds (whole chunks: 100 of the
 * mixed ones, 25 of each other family) run with it, in place of their plain run, so CI time stays the same.
 * SIM_JITTER=1 runs every schedule jittered, SIM_JITTER=0 none (with SEED: that one schedule so or not); a 'jitter'
 * entry in pending.ts runs the share plain.
 */
const jitterEnv = process.env.SIM_JITTER;
const JITTER_SHARE = 0.2;
function jitteredCount(count: number): number {
  if (jitterEnv === '1') return count;
  if (jitterEnv === '0' || isPending('jitter')) return 0;
  return Math.min(count, Math.max(1, Math.round((count * JITTER_SHARE) / CHUNK)) * CHUNK);
}

export function replayCommand(seed: number, family: Family, jitter = false): string {
  const env = ['SIM_PENDING', 'SIM_OPS', 'SIM_FAULTS', 'SIM_SPEAKS'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]} `).join('');
  return `${env}SEED=${seed} SIM_FAMILY=${family} SIM_JITTER=${jitter ? 1 : 0} npx vitest run test/sim/convergence.test.ts`;
}

export async function check(seed: number, family: Family, jitter = false): Promise<string | undefined> {
  const schedule = makeSchedule(seed, { family, disabled: pendingFeatures() });
  if (process.env.SIM_VERBOSE) process.stderr.write(`seed ${seed} ${family}${jitter ? ' jitter' : ''}\n`);
  const { problems } = await runSchedule(schedule, { jitter });
  if (problems.length === 0) return undefined;
  const how = jitter ? ' with storage jitter' : '';
  return `seed ${seed} family ${family}${how} failed (replay: ${replayCommand(seed, family, jitter)})\n${describeSchedule(schedule)}\n${problems.slice(0, 12).join('\n')}`;
}

async function checkAll(seeds: readonly number[], family: Family, jitter = false): Promise<void> {
  const failures: string[] = [];
  for (const seed of seeds) {
    const failure = await check(seed, family, jitter);
    if (failure) failures.push(failure);
  }
  const how = jitter ? ' jittered' : '';
  if (failures.length) expect.fail(`${failures.length} of ${seeds.length}${how} ${family} schedules failed\n\n${failures.join('\n\n')}`);
}

/** Defines part `part` (0-based) of `parts` of the schedule run. */
export function defineConvergence(part: number, parts: number): void {
  describe(`convergence under seeded fault schedules (part ${part + 1} of ${parts})`, () => {
    if (one !== undefined) {
      const family = onlyFamily ?? 'mixed';
      const jitter = jitterEnv === '1';
      if (part === 0) it(`seed ${one} (${family}${jitter ? ', jittered' : ''})`, () => checkAll([one], family, jitter), 300_000);
      else it.skip(`seed ${one} runs in part 1`, () => {});
      return;
    }
    if (soak && part === 0) console.log(`soak: ${mixedRuns} mixed schedules and ${familyRuns} per family from base seed ${base} (SIM_BASE_SEED=${base} replays the run)`);
    const families = onlyFamily ? [onlyFamily] : FAMILIES;
    let slot = 0;
    for (const family of families) {
      const count = family === 'mixed' && !onlyFamily ? mixedRuns : onlyFamily ? familyRuns : Math.round(familyRuns * (FAMILY_SHARE[family] ?? 1));
      const seeds = Array.from({ length: count }, (_, i) => base + i);
      const plain = count - jitteredCount(count);
      // Chunks never straddle the jitter boundary, and each part starts its own (a count that is not a whole number of
      // chunks skipped the seeds between the plain part's end and the next multiple of CHUNK).
      const starts: number[] = [];
      for (let i = 0; i < plain; i += CHUNK) starts.push(i);
      for (let i = plain; i < seeds.length; i += CHUNK) starts.push(i);
      for (const i of starts) {
        const chunk = seeds.slice(i, Math.min(i + CHUNK, i < plain ? plain : seeds.length));
        const jitter = i >= plain;
        if (slot++ % parts !== part) continue;
        const name = `${family}${jitter ? ' jittered' : ''}: ${chunk.length} schedules, seeds ${chunk[0]}…${chunk[chunk.length - 1]}`;
        if (family !== 'mixed' && isPending(family)) it.skip(`${name} — ${pendingLabel(family)}`, () => {});
        else it(name, () => checkAll(chunk, family, jitter), 600_000);
      }
    }
  });
}
