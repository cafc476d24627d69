/** Small measuring helpers shared by scenarios. */

/** Collects garbage when the process runs with --expose-gc (the runner starts scenarios that way). */
export function collect() {
  globalThis.gc?.();
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn(n)` (sync or async) after a collection and returns operations per second. */
export async function rate(n, fn) {
  collect();
  const t0 = performance.now();
  await fn(n);
  const ms = performance.now() - t0;
  return (n / ms) * 1000;
}

/** Progress lines go to stderr, so a scenario's stdout stays the runner's table. */
export function progress(...args) {
  if (!process.env.BENCH_SILENT) console.error('  ·', ...args);
}

/** The data every scenario writes: key `k<i>`, value `{ title: 'item <i>', done: i % 2 === 0, n: i }`. */
export function dataset(n) {
  const keys = new Array(n);
  const values = new Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = `k${i}`;
    values[i] = { title: `item ${i}`, done: i % 2 === 0, n: i };
  }
  return { keys, values };
}

/** A positive integer from an environment variable, or the default. */
export function envInt(name, fallback) {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}
