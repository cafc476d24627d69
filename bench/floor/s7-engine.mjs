/**
 * S7's fan-out without sockets: one relay replica serving CLIENTS client replicas and a writer over in-memory
 * connections (frames handed over in a microtask), all in this thread, WRITES sequential writes of S7's values.
 * What it shows: the engine's own CPU per write, free of the kernel's send cost and of the scheduling noise of
 * worker threads. With `--profile`, a V8 CPU profile of the run is split by where the code came from: the relay's
 * build (`--relay DIST`, default this checkout's dist) and the clients' and writer's (`--clients DIST`, default the
 * same; give a copy of a dist directory to tell the two apart), and the relay's top functions are listed.
 * Run: `node bench/floor/s7-engine.mjs [--writes N] [--clients N] [--relay DIST] [--clients-dist DIST] [--profile]`.
 */
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryTransport } from '../lib/memory-link.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const relayDist = path.resolve(arg('--relay', path.join(here, '../../dist')));
const clientDist = path.resolve(arg('--clients-dist', relayDist));
const CLIENTS = Number(arg('--clients', 100));
const WRITES = Number(arg('--writes', 400));
const WARM = 50;
const PROFILE = process.argv.includes('--profile');
/** List the clients' functions instead of the relay's. */
const SHOW_CLIENTS = process.argv.includes('--show-clients');
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

const R = await import(pathToFileURL(path.join(relayDist, 'lib/index.js')).href);
const C = await import(pathToFileURL(path.join(clientDist, 'lib/index.js')).href);


const relay = await R.openReplica({ storage: R.memoryStorage() });
const space = 'engine';
let waiting;
let seen = 0;
const clients = [];
for (let c = 0; c < CLIENTS; c++) {
  const r = await C.openReplica({ storage: C.memoryStorage() });
  r.space(space).subscribe('*', () => {
    if (++seen === CLIENTS) waiting?.();
  });
  r.connect(memoryTransport(relay));
  clients.push(r);
}
const writer = await C.openReplica({ storage: C.memoryStorage() });
const s = writer.space(space);
writer.connect(memoryTransport(relay));
const until = async (cond) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};
await until(() => writer.status === 'synced' && clients.every((r) => r.status === 'synced'));

async function one(i) {
  seen = 0;
  const all = new Promise((r) => (waiting = r));
  await s.put(`k${i}`, value(i));
  await all;
}
for (let i = 0; i < WARM; i++) await one(i);
let inspector;
if (PROFILE) {
  inspector = new Session();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
  await inspector.post('Profiler.start');
}
const cpu0 = process.cpuUsage();
for (let i = WARM; i < WARM + WRITES; i++) await one(i);
const cpu = process.cpuUsage(cpu0);
// every client and the writer synced again: the ACKs of the last writes are in
await until(() => writer.status === 'synced' && clients.every((r) => r.status === 'synced'));
console.log(`${CLIENTS} clients, ${WRITES} writes: CPU per write ${((cpu.user + cpu.system) / 1000 / WRITES).toFixed(3)} ms (relay, clients and writer)`);
if (inspector) {
  const { profile } = await inspector.post('Profiler.stop');
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const relayUrl = pathToFileURL(relayDist).href + '/';
  const clientUrl = pathToFileURL(clientDist).href + '/';
  const byOwner = new Map();
  const relayFns = new Map();
  // A node's time goes to the nearest frame of ours on its stack (a Map.set called by the relay's code is the relay's).
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const owner = (n) => {
    for (let m = n; m; m = parent.get(m.id)) {
      if (m.callFrame.url.startsWith(relayUrl)) return ['relay', m];
      if (m.callFrame.url.startsWith(clientUrl)) return ['clients', m];
    }
    return [n.callFrame.functionName === '(idle)' ? 'idle' : n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'other', n];
  };
  for (const n of profile.nodes) {
    const t = dt.get(n.id) ?? 0;
    if (!t) continue;
    const [who, frame] = owner(n);
    byOwner.set(who, (byOwner.get(who) ?? 0) + t);
    if (who === (SHOW_CLIENTS ? 'clients' : 'relay')) {
      const k = `${frame.callFrame.functionName || '(anon)'} ${frame.callFrame.url.split('/dist/').pop()}:${frame.callFrame.lineNumber + 1}`;
      relayFns.set(k, (relayFns.get(k) ?? 0) + t);
    }
  }
  const per = (us) => `${(us / 1000 / WRITES).toFixed(3)} ms/write`;
  for (const [k, v] of [...byOwner].sort((a, b) => b[1] - a[1])) console.log(`${k.padEnd(24)} ${per(v)}`);
  console.log(`${SHOW_CLIENTS ? 'clients' : 'relay'}, by function (time of what it calls outside our code included):`);
  for (const [k, v] of [...relayFns].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${per(v)}  ${k}`);
}
await Promise.all([...clients, writer].map((r) => r.close()));
await relay.close();
process.exit(0);
