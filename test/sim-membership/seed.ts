/**
 * Seeds for the membership simulation. `SEED=<n>` replaces every test's seeds with n, to replay a
 * failure; without it each test runs its fixed seeds (CI stays deterministic). A failing run names its
 * seed in the error and on stderr.
 */
export function seeds(defaults: number[]): number[] {
  const env = process.env.SEED;
  if (env === undefined || env === '') return defaults;
  const n = Number(env);
  if (!Number.isSafeInteger(n)) throw new Error(`SEED must be an integer, got ${env}`);
  return [n];
}

export function withSeed<T>(seed: number, run: () => T): T {
  try {
    return run();
  } catch (e) {
    const hint = `membership simulation failed with seed ${seed}; replay: SEED=${seed} npx vitest run test/sim-membership`;
    console.error(hint);
    if (e instanceof Error) e.message = `${e.message}\n${hint}`;
    throw e;
  }
}
