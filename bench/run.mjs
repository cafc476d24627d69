#!/usr/bin/env node
/**
 * The benchmark runner: `npm run bench [-- S3 S9] [--quick] [--out DIR] [--no-build]`.
 *
 * Discovers scenario modules `bench/scenarios/*.mjs`, each exporting
 *   `id` ('S3'), `title`, and `async run({ quick })` → `{ rows: [{ case, metric, higherIsBetter,
 *   concord, peers: { yjs, automerge, tinybase, … }, note? }] }`.
 * Each scenario runs in its own child process (fresh heap and JIT state); the peers of a scenario run
 * in that same child beside Concord, so a ratio compares figures measured side by side on the same
 * (noisy, shared) machine. Absolute figures are hints; the ratios are the result.
 *
 * Output: a table on stdout; JSON per scenario in `<out>/<date>-<id>.json`; `<out>/latest.json` holds
 * the latest full (non-quick) result of every scenario run so far, and `<out>/latest.svg` charts it.
 * Quick runs (`--quick`, smaller sizes, a smoke test) write `<date>-<id>-quick.json` only.
 */
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, ratio } from './lib/table.mjs';
import { renderChart } from './lib/chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const scenarioDir = path.join(here, 'scenarios');

if (process.argv[2] === '--child') {
  await runChild(process.argv[3], process.argv.includes('--quick'));
} else {
  await main(process.argv.slice(2));
}

// ---- parent ----------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { ids: [], quick: false, out: path.join(here, 'results'), build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--no-build') opts.build = false;
    else if (a === '--out') opts.out = path.resolve(argv[++i] ?? usage('--out needs a directory'));
    else if (a.startsWith('--out=')) opts.out = path.resolve(a.slice(6));
    else if (a === '--help' || a === '-h') usage();
    else if (/^s\d+$/i.test(a)) opts.ids.push(a.toUpperCase());
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

function usage(message) {
  if (message) console.error(message);
  console.error('usage: npm run bench [-- S3 S9 …] [--quick] [--out DIR] [--no-build]');
  process.exit(message ? 2 : 0);
}

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.build) ensureBuilt();
  const available = await discover();
  const chosen = opts.ids.length ? opts.ids.map((id) => available.get(id) ?? usage(`no scenario ${id} (have: ${[...available.keys()].join(', ')})`)) : [...available.values()];
  const env = environment(opts.quick);
  console.log(`Concord benchmarks — node ${env.node}, ${env.cpu} (${env.cores} cores), ${env.date}${opts.quick ? ', QUICK sizes (smoke test; figures mean little)' : ''}`);
  console.log('Ratios are Concord vs peer, oriented so that > 1 means Concord is better (for "lower is better" metrics: peer / Concord).\n');
  mkdirSync(opts.out, { recursive: true });
  const stamp = env.date.replace(/[:]/g, '-').replace(/\..*$/, '');
  let failed = 0;
  const results = [];
  for (const s of chosen) {
    const started = Date.now();
    let result;
    try {
      result = await runInChild(s.file, opts.quick);
    } catch (e) {
      failed++;
      console.error(`${s.id} failed: ${e.message}\n`);
      continue;
    }
    const { rows, ...extra } = result;
    const entry = { id: s.id, title: s.title, quick: opts.quick, env, seconds: (Date.now() - started) / 1000, rows: rows.map(withRatios), ...(Object.keys(extra).length ? { extra } : {}) };
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
    latest.scenarios = Object.fromEntries(Object.entries(latest.scenarios).sort(([a], [b]) => idNumber(a) - idNumber(b)));
    writeJson(latestFile, latest);
    const svgFile = path.join(opts.out, 'latest.svg');
    writeAtomic(svgFile, renderChart(Object.values(latest.scenarios)));
    console.log(`wrote ${shown(latestFile)} and ${shown(svgFile)}`);
  }
  if (failed) process.exitCode = 1;
}

function withRatios(row) {
  const ratios = {};
  for (const [peer, value] of Object.entries(row.peers ?? {})) ratios[peer] = ratio(row, value);
  return { ...row, ratios };
}

function idNumber(id) {
  return Number(id.replace(/\D/g, '')) || 0;
}

async function discover() {
  const out = new Map();
  if (!existsSync(scenarioDir)) return out;
  for (const name of readdirSync(scenarioDir).filter((f) => f.endsWith('.mjs')).sort()) {
    const file = path.join(scenarioDir, name);
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod.id !== 'string' || typeof mod.run !== 'function') {
      console.error(`skipping ${name}: it must export id and run()`);
      continue;
    }
    if (out.has(mod.id.toUpperCase())) usage(`two scenario files declare id ${mod.id}`);
    out.set(mod.id.toUpperCase(), { id: mod.id.toUpperCase(), title: mod.title ?? mod.id, file });
  }
  return new Map([...out].sort(([a], [b]) => idNumber(a) - idNumber(b)));
}

/** Runs one scenario in a fresh Node process (with --expose-gc, so scenarios may collect between rounds). */
function runInChild(file, quick) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', file, ...(quick ? ['--quick'] : [])], {
      cwd: root,
      execArgv: ['--expose-gc', ...process.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    child.on('message', (m) => {
      if (m && m.error) reject(new Error(m.error));
      else result = m;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result && code === 0) resolve(result);
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

function writeAtomic(file, text) {
  writeFileSync(file + '.tmp', text);
  renameSync(file + '.tmp', file);
}

// ---- child -----------------------------------------------------------------------------------

async function runChild(file, quick) {
  try {
    const mod = await import(pathToFileURL(file).href);
    const result = await mod.run({ quick });
    validate(result);
    await new Promise((resolve) => process.send(result, resolve));
    process.exit(0);
  } catch (e) {
    console.error(e);
    await new Promise((resolve) => process.send({ error: String(e?.message ?? e) }, resolve));
    process.exit(1);
  }
}

function validate(result) {
  if (!result || !Array.isArray(result.rows)) throw new Error('run() must resolve { rows: [...] }');
  for (const r of result.rows) {
    if (typeof r.case !== 'string' || typeof r.metric !== 'string' || typeof r.higherIsBetter !== 'boolean') {
      throw new Error(`row ${JSON.stringify(r)}: needs case, metric, higherIsBetter`);
    }
    if (r.concord !== null && !Number.isFinite(r.concord)) throw new Error(`row "${r.case}": concord must be a number`);
    for (const [peer, v] of Object.entries(r.peers ?? {})) {
      if (v !== null && !Number.isFinite(v)) throw new Error(`row "${r.case}": peers.${peer} must be a number or null`);
    }
  }
}
