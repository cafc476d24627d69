/**
 * Deoptimizations in a steady fan-out: what in the library V8 throws back to the interpreter after the code is warm.
 * S7's fan-out without sockets (a relay replica, CLIENTS clients and a writer in this thread over memory links,
 * lib/memory-link.mjs), WRITES sequential writes of S7's values; every deoptimization V8 reports (`--trace-deopt-verbose`)
 * is placed at the write it happened in, and those at or after WARM whose code is the library's (its dist) are listed.
 *
 * Why: a branch V8 never saw run when it optimized a hot function is compiled as a deoptimization. Where such a branch
 * first runs only later — a table's first growth at 64 slots, the send window first full, a timestamp first ahead —
 * every client of an isolate falls back to the interpreter at the same write, and recompiling (tens of ms for the
 * large join functions) follows some writes later, on cores the fan-out needs: S7's slowest writes were these.
 *
 * Tiering is made early and synchronous (`--interrupt-budget`, `--no-concurrent-recompilation`), so which function is
 * optimized by which write does not depend on the machine's timing: the hot paths are optimized within the first few
 * writes, and a path first run after WARM shows as a deoptimization there. The run passes 64 and 128 keys, fills each
 * link's send window (its ACKs come after 100 ms), and, with the default WRITES, clears the connections' string tables.
 *
 * Run: `node bench/floor/steady-deopts.mjs [--clients N] [--writes N] [--warm N] [--dist DIR] [--all]` (after
 * `npm run build`); `--all` lists every deoptimization after WARM, not only the library's. Prints one line a
 * deoptimization site and ends with `steady deopts: N`; test/steady-deopts.test.ts runs it (700 writes).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const here = fileURLToPath(import.meta.url);
const dist = path.resolve(arg('--dist', path.join(path.dirname(here), '../../dist')));
const CLIENTS = Number(arg('--clients', 20));
const WRITES = Number(arg('--writes', 1100));
const WARM = Number(arg('--warm', 30));
const MARK = '=== write ';
/** V8's flags for the child: deoptimizations traced, tiering early and in this thread. */
export const V8_FLAGS = ['--trace-deopt-verbose', '--interrupt-budget=8192', '--no-concurrent-recompilation', '--allow-natives-syntax'];

if (process.env.STEADY_DEOPTS_CHILD) {
  // ---- the child: the workload, a marker before each write ----
  // The markers go where V8's trace goes, through the same C stream (V8's DebugPrint of a string: with it on, under
  // --allow-natives-syntax), so they stay in order with it whatever its buffering; Node's own writes to stdout would not.
  const mark = new Function('s', '%DebugPrint(s)');
  const { memoryFanout } = await import('../lib/memory-link.mjs');
  const C = await import(pathToFileURL(path.join(dist, 'lib/index.js')).href);
  const relay = await C.openReplica({ storage: C.memoryStorage() });
  const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });
  const { one, synced, clients, writer } = await memoryFanout(C, relay, { space: 'steady', clients: CLIENTS, value });
  for (let i = 0; i < WRITES; i++) {
    mark(`${MARK}${i}`);
    await one(i);
  }
  mark(`${MARK}${WRITES}`); // the last ACKs
  await synced();
  mark('=== end');
  await Promise.all([...clients, writer, relay].map((r) => r.close()));
  process.exit(0);
}

/** Deoptimizations in `output` (the child's stdout) at or after write `warm`: { at, fn, reason, where }[]. */
export function steadyDeopts(output, { warm = WARM, lib = pathToFileURL(dist).href + '/', all = false } = {}) {
  const found = [];
  let write = -1;
  let last;
  for (const line of output.split('\n')) {
    const m = /^DebugPrint: .*?=== (?:write (\d+)|(end))/.exec(line);
    if (m) {
      write = m[2] ? Number.POSITIVE_INFINITY : Number(m[1]);
      continue;
    }
    const b = /^\[bailout \(kind: ([^,]+), reason: (.*?)\): begin\. deoptimizing .*?<JSFunction ?(\S*)/.exec(line);
    if (b) {
      last = { kind: b[1], reason: b[2], fn: b[3] || '(anonymous)' };
      continue;
    }
    const at = /;;; deoptimize at <([^>]*)>(.*)$/.exec(line.trim());
    if (!at || !last || write < warm || write === Number.POSITIVE_INFINITY) continue;
    const where = [at[1], ...[...at[2].matchAll(/inlined at <([^>]*)>/g)].map((m) => m[1])];
    if (all || where.some((w) => w.startsWith(lib))) found.push({ at: write, ...last, where: where.map((w) => w.replace(lib, 'dist/')) });
    last = undefined;
  }
  return found;
}

/**
 * Runs the workload in a child under V8_FLAGS; resolves with what it wrote to stdout. Its stdout is a file: a pipe the
 * reader drains late can refuse V8's writes (they are not retried) under load.
 */
export async function runChild({ clients = CLIENTS, writes = WRITES } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'steady-deopts-'));
  const file = path.join(dir, 'trace.txt');
  const out = await open(file, 'w');
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...V8_FLAGS, here, '--clients', String(clients), '--writes', String(writes), '--dist', dist], {
        env: { ...process.env, STEADY_DEOPTS_CHILD: '1' },
        stdio: ['ignore', out.fd, 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? signal));
    });
    const text = await readFile(file, 'utf8');
    if (code !== 0 || !/^DebugPrint: .*=== end/m.test(text)) throw new Error(`steady-deopts child ended with ${code} before its last write`);
    return text;
  } finally {
    await out.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const output = await runChild();
  const found = steadyDeopts(output, { all: process.argv.includes('--all') });
  const sites = new Map();
  for (const d of found) {
    const key = `${d.where[0]} — ${d.reason}`;
    const s = sites.get(key) ?? { writes: new Set(), fns: new Set(), via: d.where.slice(1) };
    s.writes.add(d.at);
    s.fns.add(d.fn);
    sites.set(key, s);
  }
  console.log(`${CLIENTS} clients, ${WRITES} writes, after write ${WARM}:`);
  for (const [key, s] of sites) console.log(`  ${key}\n      at writes ${[...s.writes].join(', ')}; deoptimized ${[...s.fns].join(', ')}${s.via.length ? `; inlined at ${s.via.join(' < ')}` : ''}`);
  console.log(`steady deopts: ${found.length}`);
}
