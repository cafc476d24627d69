/**
 * Two relay builds compared on a loaded machine: s7-engine.mjs (relay, writer and clients in one thread, no sockets)
 * under `perf record` (cpu-clock: samples only while the thread runs, so time it waits for a core counts for nothing),
 * alternating build A (`--a DIST`) and build B (`--b DIST`), the clients and writer always the build `--clients DIST`
 * (a copy of the base's dist). Each sample goes to the innermost JavaScript frame of its stack (a Map lookup or write
 * barrier to the function that called it), and that frame's file tells whose it is: the relay's build, the clients',
 * or neither (Node's own, and native frames with no JavaScript under them). The figure per round is the relay's samples
 * over the clients' — the clients run the same code in every round, so the ratio stands still where the load moves both
 * (a neighbour's cache traffic, a core shared). Set-up (100 handshakes) is in both: it is the same work in A and B.
 * `--top N`: the relay's N hottest call sites of the last round of each build (function and offset in its code).
 * `--side clients`: the other way round — A and B are the clients' and writer's build, `--clients DIST` the relay's (fixed),
 * and the figure is the clients' samples over the relay's (a client-side change: lower is better, as for the relay).
 * Needs `perf` (Linux) and may need perf_event_paranoid <= 2. Run:
 * `node bench/floor/s7-engine-ab.mjs --a DIST --b DIST --clients DIST [--rounds N] [--writes N] [--top N]`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const script = fileURLToPath(new URL('./s7-engine.mjs', import.meta.url));
const ROUNDS = Number(arg('--rounds', 4));
const WRITES = String(arg('--writes', 400));
const TOP = Number(arg('--top', 0));
const clients = path.resolve(arg('--clients'));
const builds = { A: path.resolve(arg('--a')), B: path.resolve(arg('--b')) };
const CLIENT_SIDE = arg('--side', 'relay') === 'clients';
/** Whose samples the builds compared are (the figure's numerator), and whose the fixed build's. */
const [VAR, FIXED] = CLIENT_SIDE ? ['clients', 'relay'] : ['relay', 'clients'];
const tmp = mkdtempSync(path.join(os.tmpdir(), 's7-engine-ab-'));

/** Samples of one run by owner, and the relay's by call site. */
function run(dist) {
  const data = path.join(tmp, 'perf.data');
  const [relayDist, clientDist] = CLIENT_SIDE ? [clients, dist] : [dist, clients];
  const rec = spawnSync('perf', ['record', '-F', '1999', '-e', 'cpu-clock', '-g', '-o', data, '--', process.execPath, '--perf-basic-prof', script, '--relay', relayDist, '--clients-dist', clientDist, '--writes', WRITES], { encoding: 'utf8' });
  if (rec.status !== 0) throw new Error(`perf record failed: ${rec.stderr}`);
  const text = execFileSync('perf', ['script', '-i', data], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const count = { relay: 0, clients: 0, other: 0 };
  const sites = new Map();
  for (const sample of text.split('\n\n')) {
    const js = sample.split('\n').find((l) => l.includes(' JS:'));
    const frame = js?.slice(js.indexOf(' JS:') + 4).replace(/ \(.*$/, '');
    if (frame?.includes(`${dist}/`)) {
      count.relay++;
      const site = frame.replace(`file://${dist}/`, '');
      sites.set(site, (sites.get(site) ?? 0) + 1);
    } else if (frame?.includes(`${clients}/`)) count.clients++;
    else count.other++;
  }
  return { ...count, ratio: count.relay / count.clients, sites };
}

const results = { A: [], B: [] };
const last = {};
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
      const x = run(builds[name]);
      results[name].push(x.ratio);
      last[name] = x.sites;
      console.log(`round ${r} ${name}: ${VAR} ${x.relay} samples, ${FIXED} ${x.clients}, other ${x.other}; ${VAR} / ${FIXED} ${x.ratio.toFixed(4)}`);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const name of ['A', 'B']) console.log(`${name} median ${VAR} / ${FIXED} ${median(results[name]).toFixed(4)}`);
console.log(`B / A ${(median(results.B) / median(results.A)).toFixed(3)}; rounds where B is lower: ${results.A.filter((a, i) => results.B[i] < a).length} of ${ROUNDS}`);
if (TOP > 0) {
  for (const name of ['A', 'B']) {
    console.log(`${name}, the ${VAR}' hottest call sites (last round):`);
    for (const [site, n] of [...last[name]].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${String(n).padStart(5)}  ${site}`);
  }
}
