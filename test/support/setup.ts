// Every randomized test runs from a seed: fast-check prints it on failure, and SEED=<n> replays it.
import fc from 'fast-check';

const seed = process.env.SEED ? Number(process.env.SEED) : undefined;
fc.configureGlobal({
  ...(seed !== undefined ? { seed } : {}),
  ...(process.env.NUM_RUNS ? { numRuns: Number(process.env.NUM_RUNS) } : {}),
});
