/** Small measuring helpers shared by scenarios. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Collects garbage when the process runs with --expose-gc (the runner starts scenarios that way). */
export function collect() {
  globalThis.gc?.();
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs `fn(n)` (sync or async) after a collection; returns operations per second of wall-clock time and
 * per second of this process's CPU time (user + system). For in-memory work with no I/O the two agree on
 * an idle machine; on a shared, loaded one the CPU figure is far steadier (time the process spends
 * waiting for a core is not counted), so scenarios without I/O report it.
 */
export async function rate(n, fn) {
  collect();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn(n);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall: (n / ms) * 1000, cpu: n / ((c.user + c.system) / 1e6) };
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

/** Bytes of every file under `dir` (a store's size on disk). */
export async function dirSize(dir) {
  let n = 0;
  for (const f of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, f));
    if (s.isFile()) n += s.size;
  }
  return n;
}
