/**
 * Allocation of two paths the epochs work (docs/design/epochs-build.md) touched, per call, on the build in dist/:
 * `chainForm` (how IndexedDB and file storage store a record after the key's previous one: IndexedDB on every put of
 * a key it holds) and decoding a CHANGES frame (per key state received). Bytes, not time, so two builds compare on a
 * shared machine; run it on each (after `npx tsc -p tsconfig.build.json`):
 *   node --max-semi-space-size=1024 --min-semi-space-size=1024 --expose-gc bench/floor/epochs-alloc.mjs
 */
import v8 from 'node:v8';
import { chainForm } from '../../dist/lib/chain.js';
import { decodeMessage, encodeMessage, MsgType } from '../../dist/lib/sync/messages.js';

if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc and a large young generation (see the header)');
const used = () => v8.getHeapStatistics().used_heap_size;

function perCall(fn, warm, n) {
  for (let i = 0; i < warm; i++) fn(i);
  globalThis.gc();
  globalThis.gc();
  const u0 = used();
  for (let i = 0; i < n; i++) fn(i);
  return (used() - u0) / n;
}

const ID = 'AbCdEfGhIjKlMnOp';
const prev = { vs: [{ r: ID, n: 5, t: 1, c: 0, v: 'old' }], cc: { [ID]: 5 }, seq: 5, h: 'x' };
const recs = [];
for (let i = 0; i < 64; i++) recs.push({ vs: [{ r: ID, n: 6 + i, t: 2, c: 0, v: 'new' }], cc: { [ID]: 6 + i }, seq: 6 + i, h: 'y' });
let sink = 0;
const chain = perCall((i) => (sink += chainForm(recs[i & 63], prev).vs.length), 200_000, 1_000_000);

const K = 200;
const entries = [];
for (let i = 0; i < K; i++) entries.push(['key' + i, { vs: [{ r: ID, n: 10 + i, t: 1790000000000 + i, c: 0, v: '"value' + i + '"' }], cc: { [ID]: 10 + i } }]);
const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 500, entries });
const decode = perCall(() => (sink += decodeMessage(frame, { maxValueBytes: 1 << 20 }).entries.length), 3000, 5000) / K;

console.log(`chainForm, one version after its previous record: ${chain.toFixed(1)} B per call`);
console.log(`CHANGES decode, one-version key states: ${decode.toFixed(1)} B per entry${sink > 0 ? '' : ' '}`);
