/**
 * The convergence property of the sync engine, over seeded schedules on the simulated network (see
 * run-schedule.ts for what is checked). CI runs SIM_RUNS (default 500) schedules from a fixed base seed,
 * split over `parts` test files so they run in parallel; `npm run soak` runs 10 000 from a random base.
 * A failure prints its seed; replay one with
 *
 *   SEED=<n> npx vitest run test/sim/convergence.test.ts
 */
import { describe, expect, it } from 'vitest';
import { describeSchedule, makeSchedule } from './schedule.js';
import { runSchedule } from './run-schedule.js';

const one = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined;
const soak = process.env.SOAK === '1';
const runs = Number(process.env.SIM_RUNS ?? (soak ? 10_000 : 500));
const base = Number(process.env.SIM_BASE_SEED ?? (soak ? Math.floor(Math.random() * 2 ** 31) : 1));
/** Schedules per test case: a case stays well under the test timeout and a failure names a small range. */
const CHUNK = 25;
/**
 * Seeds that fail for a reason beyond a small fix, left out of the CI count; SIM_KNOWN=1 puts them back
 * (as it runs the known-issue cases of the other sim tests). None at the moment.
 */
export const KNOWN: number[] = [];
const skipKnown = process.env.SIM_KNOWN !== '1';

async function check(seed: number): Promise<string | undefined> {
  const schedule = makeSchedule(seed);
  if (process.env.SIM_VERBOSE) process.stderr.write(`seed ${seed}\n`);
  const { problems } = await runSchedule(schedule);
  if (problems.length === 0) return undefined;
  return `seed ${seed} failed (replay: SEED=${seed} npx vitest run test/sim/convergence.test.ts)\n${describeSchedule(schedule)}\n${problems.slice(0, 12).join('\n')}`;
}

async function checkAll(seeds: readonly number[]): Promise<void> {
  const failures: string[] = [];
  for (const seed of seeds) {
    const failure = await check(seed);
    if (failure) failures.push(failure);
  }
  if (failures.length) expect.fail(`${failures.length} of ${seeds.length} schedules failed\n\n${failures.join('\n\n')}`);
}

/** Defines part `part` (0-based) of `parts` of the schedule run. */
export function defineConvergence(part: number, parts: number): void {
  describe(`convergence under seeded fault schedules (part ${part + 1} of ${parts})`, () => {
    if (one !== undefined) {
      if (part === 0) it(`seed ${one}`, () => checkAll([one]), 300_000);
      else it.skip(`seed ${one} runs in part 1`, () => {});
      return;
    }
    const seeds = Array.from({ length: runs }, (_, i) => base + i).filter((s, i) => i % parts === part && !(skipKnown && KNOWN.includes(s)));
    if (soak && part === 0) console.log(`soak: ${runs} schedules from base seed ${base} (SIM_BASE_SEED=${base} replays the run)`);
    for (let i = 0; i < seeds.length; i += CHUNK) {
      const chunk = seeds.slice(i, i + CHUNK);
      it(`${chunk.length} schedules, seeds ${chunk[0]}…${chunk[chunk.length - 1]}`, () => checkAll(chunk), 600_000);
    }
  });
}
