#!/usr/bin/env node
/**
 * The benchmark runner: `npm run bench [-- S3 S9] [--quick] [--out DIR] [--no-build] [--timeout SECONDS]`.
 *
 * Discovers scenario modules `bench/scenarios/*.mjs` (`--scenarios DIR` for another directory: the
 * runner's own tests), each exporting `id` ('S3'), `title`, and `async run({ quick })` → `{ rows, …extra }`,
 * rows made with `rowMaker(id)` from bench/lib/row.mjs (the schema is there).
 * Each scenario runs in its own child process (fresh heap and JIT state); the peers of a scenario run
 * in that same child beside Concord, so a ratio compares figures measured side by side on the same
 * (noisy, shared) machine. Absolute figures are hints; the ratios are the result.
 *
 * A scenario that throws, exits without a result, returns a row breaking the schema, or outlives
 * `--timeout` is reported FAILED (table line, JSON with `failed: true` and the error) and the runner goes
 * on with the next one; the exit code is 1 when any failed. One scenario never costs the others' results.
 *
 * Output: a table on stdout; JSON per scenario in `<out>/<date>-<id>.json`; `<out>/latest.json` holds
 * the latest full (non-quick) result of every scenario run so far (a failure replaces that scenario's
 * entry: it is what the current code does), and `<out>/latest.svg` charts it.
 * Quick runs (`--quick`, smaller sizes, a smoke test) write `<date>-<id>-quick.json` only.
 * Load: `env.loadAverage` is the 1/5/15-minute load average when the run started, each entry's
 * `loadAverage` when that scenario ended (the machine is shared: read figures with them).
 */
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, ratio } from './lib/table.mjs';
import { renderChart } from './lib/chart.mjs';
import { checkResult, targetMet } from './lib/row.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

if (process.argv[2] === '--child') {
  await runChild(process.argv[3], process.argv.includes('--quick'));
} else {
  await main(process.argv.slice(2));
}

// ---- parent ----------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { ids: [], quick: false, out: path.join(here, 'results'), build: true, timeout: 0, scenarios: path.join(here, 'scenarios') };
  const seconds = (v) => {
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? n : usage('--timeout needs a number of seconds');
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--no-build') opts.build = false;
    else if (a === '--out') opts.out = path.resolve(argv[++i] ?? usage('--out needs a directory'));
    else if (a.startsWith('--out=')) opts.out = path.resolve(a.slice(6));
    else if (a === '--timeout') opts.timeout = seconds(argv[++i]);
    else if (a.startsWith('--timeout=')) opts.timeout = seconds(a.slice(10));
    else if (a === '--scenarios') opts.scenarios = path.resolve(argv[++i] ?? usage('--scenarios needs a directory'));
    else if (a === '--help' || a === '-h') usage();
    else if (/^s\d+[a-z]?$/i.test(a)) opts.ids.push(a.toUpperCase());
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

function usage(message) {
  if (message) console.error(message);
  console.error('usage: npm run bench [-- S3 S9 …] [--quick] [--out DIR] [--no-build] [--timeout SECONDS per scenario] [--scenarios DIR]');
  process.exit(message ? 2 : 0);
}

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.build) ensureBuilt();
  const available = await discover(opts.scenarios);
  const chosen = opts.ids.length ? opts.ids.map((id) => available.get(id) ?? usage(`no scenario ${id} (have: ${[...available.values()].map((s) => s.id).join(', ')})`)) : [...available.values()];
  const env = environment(opts.quick);
  console.log(`Concord benchmarks — node ${env.node}, ${env.cpu} (${env.cores} cores, load average ${env.loadAverage.join(' ')}), ${env.date}${opts.quick ? ', QUICK sizes (smoke test; figures mean little)' : ''}`);
  console.log('Ratios are Concord vs peer, oriented so that > 1 means Concord is better (for "lower is better" metrics: peer / Concord).\n');
  mkdirSync(opts.out, { recursive: true });
  const stamp = env.date.replace(/[:]/g, '-').replace(/\..*$/, '');
  const results = [];
  for (const s of chosen) {
    const started = Date.now();
    let entry;
    try {
      if (s.error) throw new Error(s.error);
      const { rows, ...extra } = await runInChild(s.file, opts.quick, opts.timeout);
      entry = { id: s.id, title: s.title, quick: opts.quick, env, seconds: (Date.now() - started) / 1000, rows: rows.map(withRatios), ...(Object.keys(extra).length ? { extra } : {}) };
    } catch (e) {
      const error = String(e?.message ?? e);
      entry = { id: s.id, title: s.title, quick: opts.quick, env, seconds: (Date.now() - started) / 1000, failed: true, error, rows: [] };
    }
    entry.loadAverage = os.loadavg().map((x) => Number(x.toFixed(2)));
    results.push(entry);
    console.log(formatTable(entry));
    const file = path.join(opts.out, `${stamp}-${s.id}${opts.quick ? '-quick' : ''}.json`);
    writeJson(file, entry);
    console.log(`wrote ${shown(file)}\n`);
  }
  if (!opts.quick && results.length) {
    const latestFile = path.join(opts.out, 'latest.json');
    const latest = readLatest(latestFile);
    for (const r of results) latest.scenarios[r.id] = r;
    latest.updated = env.date;
    latest.scenarios = Object.fromEntries(Object.entries(latest.scenarios).sort(([a], [b]) => byId(a, b)));
    writeJson(latestFile, latest);
    const svgFile = path.join(opts.out, 'latest.svg');
    writeAtomic(svgFile, renderChart(Object.values(latest.scenarios)));
    console.log(`wrote ${shown(latestFile)} and ${shown(svgFile)}`);
  }
  const failed = results.filter((r) => r.failed);
  const ok = results.filter((r) => !r.failed);
  console.log(`\n${results.length} scenario${results.length === 1 ? '' : 's'}: ${ok.length} ran to the end${ok.length ? ` (${ok.map((r) => `${r.id} ${Math.round(r.seconds)} s`).join(', ')})` : ''}; ${failed.length} FAILED${failed.length ? ':' : ''}`);
  for (const r of failed) console.log(`  ${r.id} FAILED: ${r.error}`);
  if (failed.length) process.exitCode = 1;
}

function withRatios(row) {
  const ratios = {};
  for (const [peer, value] of Object.entries(row.peers ?? {})) ratios[peer] = ratio(row, value);
  return { ...row, ratios, ...(row.target !== undefined ? { met: targetMet(row) } : {}) };
}

/** S2 < S2v < S3 < S10: by number, then by the rest. */
function byId(a, b) {
  const n = (id) => Number(id.replace(/\D/g, '')) || 0;
  return n(a) - n(b) || (a.toUpperCase() < b.toUpperCase() ? -1 : a.toUpperCase() > b.toUpperCase() ? 1 : 0);
}

/**
 * The scenario modules of `dir` by id (upper case). A module that does not import or lacks id/run() is
 * kept as a failed entry (id from its file name, s4-… → S4), so a broken file is reported, not skipped.
 */
async function discover(dir) {
  const out = new Map();
  if (!existsSync(dir)) usage(`no scenario directory ${dir}`);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort()) {
    const file = path.join(dir, name);
    const fallbackId = (name.match(/^s\d+[a-z]?/i)?.[0] ?? name.replace(/\.mjs$/, '')).replace(/^s/, 'S');
    let mod;
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (e) {
      out.set(fallbackId.toUpperCase(), { id: fallbackId, title: name, file, error: `${name} does not import: ${e?.message ?? e}` });
      continue;
    }
    if (typeof mod.id !== 'string' || typeof mod.run !== 'function') {
      out.set(fallbackId.toUpperCase(), { id: fallbackId, title: name, file, error: `${name} must export id (a string) and run()` });
      continue;
    }
    if (out.has(mod.id.toUpperCase())) usage(`two scenario files declare id ${mod.id}`);
    out.set(mod.id.toUpperCase(), { id: mod.id, title: mod.title ?? mod.id, file });
  }
  return new Map([...out].sort(([a], [b]) => byId(a, b)));
}

/**
 * Runs one scenario in a fresh Node process (with --expose-gc, so scenarios may collect between rounds).
 * With a timeout, the child gets SIGTERM when it is over (playwright closes its browser on it), SIGKILL 10 s later.
 */
function runInChild(file, quick, timeoutSeconds) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', file, ...(quick ? ['--quick'] : [])], {
      cwd: root,
      execArgv: ['--expose-gc', ...process.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    let error;
    let timedOut = false;
    const timers = [];
    if (timeoutSeconds) {
      timers.push(setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        timers.push(setTimeout(() => child.kill('SIGKILL'), 10_000));
      }, timeoutSeconds * 1000));
    }
    child.on('message', (m) => {
      if (m && m.error) error = m.error;
      else result = m;
    });
    child.on('error', (e) => (error ??= e.message));
    child.on('exit', (code, signal) => {
      timers.forEach(clearTimeout);
      if (timedOut) reject(new Error(`timed out after ${timeoutSeconds} s`));
      else if (error) reject(new Error(error));
      else if (result && code === 0) resolve(result);
      else reject(new Error(`child exited with ${signal ?? code}${result ? '' : ' without a result'}`));
    });
  });
}

function ensureBuilt() {
  const built = path.join(root, 'dist', 'lib', 'index.js');
  const stale = !existsSync(built) || newestSource() > statSync(built).mtimeMs;
  if (!stale) return;
  console.error(existsSync(built) ? 'dist/ is older than lib/: npm run build' : 'dist/ missing: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error('build failed');
    process.exit(1);
  }
}

function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'lib'));
  walk(path.join(root, 'adapters'));
  return newest;
}

function environment(quick) {
  const cpus = os.cpus();
  const version = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib', 'adapters', 'bench/scenarios'], { cwd: root, encoding: 'utf8' });
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    commit: git.status === 0 ? git.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '') : null,
    quick,
    versions: {
      concord: JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version,
      yjs: version('yjs'),
      automerge: version('@automerge/automerge'),
      tinybase: version('tinybase'),
    },
  };
}

function readLatest(file) {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    if (data && typeof data.scenarios === 'object') return data;
  } catch {}
  return { about: 'Latest full result of each scenario (each measured side by side in its own run). Ratios: > 1 means Concord is better.', scenarios: {} };
}

function shown(file) {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

function writeJson(file, data) {
  writeAtomic(file, JSON.stringify(data, null, 2) + '\n');
}

/** Write then rename (a reader never sees half a file); the temporary name is per process, so two runners do not mix. */
function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

// ---- child -----------------------------------------------------------------------------------

async function runChild(file, quick) {
  let id = path.basename(file);
  try {
    const mod = await import(pathToFileURL(file).href);
    id = mod.id ?? id;
    const result = await mod.run({ quick });
    checkResult(id, result);
    await new Promise((resolve) => process.send(result, resolve));
    process.exit(0);
  } catch (e) {
    console.error(e);
    const message = String(e?.message ?? e);
    await new Promise((resolve) => process.send({ error: message.startsWith(id) ? message : `${id}: ${message}` }, resolve));
    process.exit(1);
  }
}
