/**
 * S4's floor: what the primitives under a durable put cost alone, on this machine, beside the scenario's figures.
 * - append + fdatasync: 100 000 records of the size S4 writes (a record's stored text and its head op, ≈ 260 B),
 *   appended in groups of G with one positioned write and one fdatasync per group, awaited in turn (no other work);
 * - encoding: JSON.stringify of each record and its CRC-32, as the frame encoder does, no I/O;
 * - memory storage, the same 100 000 puts in flight (the ratio's denominator), measured in the same run.
 * Run: `node bench/floor/s4-floor.mjs` (after `npm run build`).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { memoryStorage, openReplica } from 'concord';

const N = 100_000;
const rec = (i) => ({ vs: [{ r: 'AbCdEfGhIjKlMnOp', n: i + 1, t: 1796226728424, c: i % 7, v: JSON.stringify({ title: `item ${i}`, done: i % 2 === 0, n: i }) }], cc: { AbCdEfGhIjKlMnOp: i + 1 }, seq: i + 1, h: '0123456789abcdef' });

async function appendFloor(group) {
  const dir = await mkdtemp(join(tmpdir(), 'concord-floor-'));
  const texts = [];
  for (let i = 0; i < N; i++) texts.push(JSON.stringify(rec(i)) + JSON.stringify(['bench', `k${i}`, i + 1, '0123456789abcdef', 200, 123456789]));
  const f = await open(join(dir, 'log'), 'wx+');
  let pos = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i += group) {
    const buf = Buffer.from(texts.slice(i, i + group).join(''));
    await f.write(buf, 0, buf.length, pos);
    pos += buf.length;
    await f.datasync();
  }
  const s = (performance.now() - t0) / 1000;
  await f.close();
  await rm(dir, { recursive: true, force: true });
  return { perSec: N / s, bytesPerRecord: pos / N };
}

async function syncLatency(n) {
  const dir = await mkdtemp(join(tmpdir(), 'concord-floor-'));
  const f = await open(join(dir, 'log'), 'wx+');
  const buf = Buffer.alloc(300, 1);
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f.write(buf, 0, buf.length, i * buf.length);
    await f.datasync();
    lat.push(performance.now() - t0);
  }
  await f.close();
  await rm(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  return { p50: lat[Math.floor(n / 2)], p99: lat[Math.floor(n * 0.99)] };
}

function encodeFloor() {
  const recs = [];
  for (let i = 0; i < N; i++) recs.push(rec(i));
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < N; i++) x ^= crc32(JSON.stringify(recs[i]));
  return N / ((performance.now() - t0) / 1000) + (x & 0);
}

async function memoryInFlight() {
  const replica = await openReplica({ storage: memoryStorage() });
  const space = replica.space('bench');
  const t0 = performance.now();
  const puts = new Array(N);
  for (let i = 0; i < N; i++) puts[i] = space.put(`k${i}`, { title: `item ${i}`, done: i % 2 === 0, n: i });
  await Promise.all(puts);
  const r = N / ((performance.now() - t0) / 1000);
  await replica.close();
  return r;
}

await memoryInFlight(); // warm-up
for (const g of [1000, 8192, N]) {
  const a = await appendFloor(g);
  console.log(`append ${N} records (${a.bytesPerRecord.toFixed(0)} B each), one write + fdatasync per ${g}: ${Math.round(a.perSec)} records/s`);
}
const l = await syncLatency(500);
console.log(`one 300 B write + fdatasync, awaited in turn: p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms`);
console.log(`encode (JSON.stringify + CRC-32) alone: ${Math.round(encodeFloor())} records/s`);
console.log(`memoryStorage, ${N} puts in flight: ${Math.round(await memoryInFlight())} writes/s`);
