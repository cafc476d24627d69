/**
 * One moment of a simulated disk (power-loss-io.ts) crashed in many seeded ways: each crash must open, and pass `check`.
 * `<PREFIX>_SEED=<n> <PREFIX>_RUNS=1` replays the crash a failure names.
 */
import { fileStorage } from '../../adapters/fs/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { prng } from './helpers.js';
import type { PowerLossFs } from './power-loss-io.js';

export interface Ways {
  prefix: string;
  runs: number;
  first: number;
}

/** The runs and first seed for `prefix`, from <PREFIX>_RUNS and <PREFIX>_SEED (else `runs`, and a seed from the clock). */
export function ways(prefix: string, runs: number): Ways {
  const env = process.env;
  return { prefix, runs: Number(env[`${prefix}_RUNS`] ?? runs), first: env[`${prefix}_SEED`] ? Number(env[`${prefix}_SEED`]) : Date.now() % 1_000_000_000 };
}

export async function crashWays(disk: PowerLossFs, tag: string, w: Ways, check: (s: StorageAdapter) => Promise<void>): Promise<void> {
  for (let i = 0; i < w.runs; i++) {
    const seed = w.first + i;
    const copy = disk.fork(`${tag}-${seed}`);
    copy.crash(prng(seed));
    const s = fileStorage(`${copy.root()}/data`, { io: copy.io(), compactOnClose: false });
    try {
      await s.open();
      await check(s);
    } catch (e) {
      throw new Error(`crash of ${tag} failed: replay with ${w.prefix}_SEED=${seed} ${w.prefix}_RUNS=1\n${e instanceof Error ? e.message : String(e)}`, { cause: e });
    } finally {
      await s.close().catch(() => {});
    }
  }
}
