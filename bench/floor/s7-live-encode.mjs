/**
 * S7's relay send path alone, without sockets or clients: LINKS server-side wires of one relay (protocol 11, tables
 * started as a session starts them) each sent the same live log entry per write, as the relay's streams hand them
 * (outgoing.ts: one entry object for every link), WRITES writes after WARM. Prints the CPU per write (process.cpuUsage,
 * this thread alone: nothing else runs) and the bytes sent per write. Compare builds in alternating processes:
 * `for i in 1 2 3 4 5 6; do for d in A B; do node bench/floor/s7-live-encode.mjs --dist $d; done; done`.
 * `--old K`: every K-th link is of an earlier release (protocol 10: the writes, which name an epoch, go to it as their
 * context alone in a CHANGES frame), in the fan-out's order among the others — a relay serving both (rev46).
 * Run: `node bench/floor/s7-live-encode.mjs [--dist DIST] [--links N] [--writes N] [--old K]`.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(arg('--dist', path.join(here, '../../dist')));
const LINKS = Number(arg('--links', 100));
const WRITES = Number(arg('--writes', 3000));
const OLD = Number(arg('--old', 0));
const WARM = 300;
const load = (sub) => import(pathToFileURL(path.join(DIST, sub)).href);
const { Wire } = await load('lib/sync/wire.js');
const { Epochs } = await load('lib/epoch-points.js');
const { randomId } = await load('lib/ids.js');

const relay = randomId();
const writer = randomId();
const reg = new Epochs();
reg.add(writer, 'Ep00001', '', 0);
/** What a relay's session shares its peer model with: its hub (sent-notes.ts; a build before it has no `share`). */
const hub = {};
const wires = Array.from({ length: LINKS }, (_, i) => {
  const w = new Wire(() => {}, () => {}, () => reg);
  w.model.share?.(hub);
  w.start(relay, randomId(), 0, OLD > 0 && i % OLD === OLD - 1 ? undefined : { mine: [], theirs: [], teaches: true });
  return w;
});
let bytes = 0;
const transmit = (frame) => void (bytes += frame.byteLength);
const CHANGES = 3;
function write(i) {
  const value = JSON.stringify({ title: `item ${i}`, done: i % 2 === 0, n: i });
  const v = { r: writer, n: i, t: 1_700_000_000_000 + i, c: 0, v: value, ep: 'Ep00001' };
  const entry = [`k${i}`, { vs: [v], cc: { [writer]: i } }];
  for (const w of wires) w.send({ type: CHANGES, space: 's', upTo: i, entries: [entry] }, 1 << 20, transmit);
}
for (let i = 1; i <= WARM; i++) write(i);
bytes = 0;
const t0 = process.cpuUsage();
for (let i = WARM + 1; i <= WARM + WRITES; i++) write(i);
const t = process.cpuUsage(t0);
console.log(`${path.basename(DIST)}: ${LINKS} links${OLD > 0 ? ` (every ${OLD}th at 10)` : ''}, ${WRITES} writes: CPU per write ${((t.user + t.system) / 1000 / WRITES).toFixed(3)} ms, ${(bytes / WRITES).toFixed(0)} B sent per write`);
