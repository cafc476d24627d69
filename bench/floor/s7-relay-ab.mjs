/**
 * S7 A/B over real sockets: s7-relay-cpu.mjs run in alternating child processes for build A (`--a DIST`), build B
 * (`--b DIST`) and, with `--yjs`, y-websocket's server beside them (A, B, Y, then B, A, Y, ...), one round per process,
 * and the medians of each at the end: per write, the CPU of the relay's thread (relay and writer: all, user, sys), of
 * the clients' threads, the frames the relay's thread received, and write-to-all-delivered p50/p99. CPU time, not
 * wall-clock, is what to compare on a loaded machine; the latencies are beside it for what they are worth there.
 * Copy each build's dist directory into this checkout (e.g. `data/dist-a`: it must sit beside node_modules).
 * `--clients N` is passed on to s7-relay-cpu.mjs (few clients: the main thread's fixed cost a write).
 * Run: `node bench/floor/s7-relay-ab.mjs --a DIST --b DIST [--rounds N] [--writes N] [--clients N] [--yjs]`.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const script = fileURLToPath(new URL('./s7-relay-cpu.mjs', import.meta.url));
const ROUNDS = Number(arg('--rounds', 4));
const WRITES = String(arg('--writes', 300));
const CLIENTS = arg('--clients') ? ['--clients', arg('--clients')] : [];
const runs = { A: ['--dist', arg('--a'), ...CLIENTS], B: ['--dist', arg('--b'), ...CLIENTS] };
if (process.argv.includes('--yjs')) runs.Y = ['--yjs', ...CLIENTS];
const FIELDS = {
  cpu: /CPU ([\d.]+) ms \(user/,
  user: /user ([\d.]+),/,
  sys: /sys ([\d.]+)\)/,
  clients: /clients ([\d.]+)\)/,
  received: /received ([\d.]+) frames/,
  p50: /p50 ([\d.]+)/,
  p99: /p99 ([\d.]+)/,
};
const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? Object.keys(runs) : Object.keys(runs).reverse();
  for (const name of order) {
    const out = execFileSync(process.execPath, [script, WRITES, '1', ...runs[name]], { encoding: 'utf8' });
    const line = out.split('\n').find((l) => l.startsWith('round 0:'));
    if (!line) throw new Error(`no result from ${name}: ${out}`);
    const x = Object.fromEntries(Object.entries(FIELDS).map(([k, re]) => [k, Number(re.exec(line)?.[1])]));
    results[name].push(x);
    console.log(`round ${r} ${name}: ${Object.entries(x).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
}
const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name} medians per write: ${Object.keys(FIELDS).map((k) => `${k} ${median(xs.map((x) => x[k])).toFixed(2)}`).join(', ')}`);
}
