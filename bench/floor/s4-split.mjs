/**
 * S4's gap to memory storage, split by layer and item, in one process (CPU time of this process, user + system: on a
 * loaded machine it moves far less than wall time, and leaves out the wait for the fsync).
 *
 * Layers — 100 000 puts in flight through a replica on
 *   mem   memoryStorage (S4's denominator: every commit durable at once),
 *   held  memoryStorage whose commits run at once become durable only at the next macrotask, one promise per 8 192
 *         commits (as a file storage group resolves after its fsync): the library keeps every put waiting as it does on
 *         files (its record, its settlement, its promise reaction), with no file work,
 *   file  fileStorage (each put acknowledged after its group's fsync).
 * held − mem is what waiting for durability costs the library; file − held is the file storage's own work.
 *
 * Items of the file storage's own work, each measured alone on the records S4's puts make (taken from a held run):
 *   hash    the record's state hash (lib/dvv.ts stateHash: the frame head and the stored record carry it)
 *   encode  the record's stored form written into a record area, CRC-32 included, with its hash already known: the
 *           log's binary record (log-record.ts, RecordArea.appendBytes) in a build that has it, else its JSON
 *           (frame.ts RecordArea.appendJson)
 *   crc     the CRC-32 of those bytes alone (crc32.ts crc32Range), part of `encode`
 *   index   an Entry per put, swapped into a space index (keyspace.ts: the map, the change log's arrays)
 *   head    the frame heads of the batches (frame.ts encodeHead), 8 192 puts a batch
 *   fsync   the records' bytes appended and fdatasync'ed, 8 192 a group (node:fs only: the primitive's floor)
 * What file − held leaves beyond the items is the rest: the batch's arrays, the transaction object, the writer, and the
 * garbage collector's work on what a put keeps alive until its fsync (an Entry, the batch's slots, the record's
 * hash text).
 * And the wall time after the last put was issued, on files (separate runs, fdatasync timed through the `io` option):
 * until the group's fdatasync began, the fdatasync itself, and from its end to the last acknowledgement.
 *
 *   node --expose-gc bench/floor/s4-split.mjs [build dir]       (env R: rounds, default 5; N: puts)
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { collect, dataset, median } from '../lib/measure.mjs';

const dir = path.resolve(process.argv[2] ?? '.');
const load = (p) => import(pathToFileURL(path.join(dir, 'dist', p)).href);
const lib = await load('lib/index.js');
const fs = await load('adapters/fs/index.js');
const { stateHash } = await load('lib/dvv.js');
const { WrittenRecord } = await load('lib/record.js');
const { RecordArea, encodeHead } = await load('adapters/fs/frame.js');
const { crc32Range } = await load('adapters/fs/crc32.js');
const { Entry, SpaceIndex } = await load('adapters/fs/keyspace.js');
const { nodeIo } = await load('adapters/fs/io.js');
/** The stored form's writer of this build: the log's binary record where it has one and holds the record, else JSON. */
const logRecord = await load('adapters/fs/log-record.js').catch(() => undefined);
function appendRecord(area, rec) {
  const w = logRecord?.encodeLogRecord(rec);
  return w !== undefined ? area.appendBytes(w.buf, w.at) : area.appendJson(rec);
}
const n = +(process.env.N ?? 100_000), R = +(process.env.R ?? 5);
const { keys, values } = dataset(n);
const GROUP = 8192;

/** A memory storage whose commits run at once are durable only at the next macrotask, GROUP commits a promise. */
function heldMemory(seen) {
  const s = lib.memoryStorage();
  const now = s.transactNow.bind(s);
  let group, left = 0;
  s.transactNow = (fn) => {
    const r = now(fn);
    if (r === undefined) return r;
    if (seen && r.value) seen.push(r.value);
    if (left === 0) {
      group = new Promise((resolve) => setImmediate(resolve));
      left = GROUP;
    }
    left--;
    return { value: r.value, durable: group };
  };
  return s;
}

async function layer(kind, seen) {
  const data = kind === 'file' ? await mkdtemp(path.join(tmpdir(), 'concord-s4split-')) : undefined;
  try {
    const storage = kind === 'file' ? fs.fileStorage(data) : kind === 'held' ? heldMemory(seen) : lib.memoryStorage();
    const replica = await lib.openReplica({ storage });
    const space = replica.space('bench');
    collect();
    const c0 = process.cpuUsage();
    const puts = new Array(n);
    for (let i = 0; i < n; i++) puts[i] = space.put(keys[i], values[i]);
    await Promise.all(puts);
    const c = process.cpuUsage(c0);
    await replica.close();
    return (c.user + c.system) / 1000;
  } finally {
    if (data) await rm(data, { recursive: true, force: true });
  }
}

// The records S4's puts store (as the library hands them to storage), their states and keys.
const made = [];
await layer('held', made);
const states = made.map((r) => ({ vs: r.vs, cc: r.cc, ...(r.pts ? { pts: r.pts } : {}) }));
const fresh = () => made.map((r, i) => new WrittenRecord(keys[i], states[i], r.seq));
/** Fresh records whose hash was read already (as a put's is by the time its record is stored). */
function hashed() {
  const recs = fresh();
  for (const r of recs) void r.h;
  return recs;
}

function cpu(fn) {
  collect();
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const items = {
  hash: () => {
    let x = 0;
    return cpu(() => {
      for (let i = 0; i < n; i++) x += stateHash(keys[i], states[i]).length;
    });
  },
  encode: () => {
    const recs = hashed();
    return cpu(() => {
      let a = new RecordArea();
      for (let i = 0; i < n; i++) {
        if (i % GROUP === 0) a = new RecordArea();
        appendRecord(a, recs[i]);
      }
    });
  },
  crc: () => {
    const a = new RecordArea();
    const lens = new Array(n);
    const recs = fresh();
    for (let i = 0; i < n; i++) lens[i] = appendRecord(a, recs[i]);
    const bytes = Buffer.concat(a.parts());
    let x = 0;
    return cpu(() => {
      for (let i = 0, at = 0; i < n; at += lens[i++]) x ^= crc32Range(bytes, at, at + lens[i]);
    });
  },
  index: () => {
    const recs = hashed();
    return cpu(() => {
      const s = new SpaceIndex();
      for (let i = 0; i < n; i++) {
        const r = recs[i];
        s.swap(keys[i], new Entry(r.seq, r.h, 200, i, r), s.entry(keys[i]));
      }
    });
  },
  head: () => {
    const recs = hashed();
    const puts = recs.map((r, i) => ({ seq: r.seq, h: r.h, len: 200, crc: i * 40503, chained: false }));
    const spaces = keys.map(() => 'bench');
    return cpu(() => {
      for (let i = 0; i < n; i += GROUP) encodeHead(spaces.slice(i, i + GROUP), keys.slice(i, i + GROUP), puts.slice(i, i + GROUP), new Map([['seq', i]]), []);
    });
  },
};

async function fsyncFloor() {
  const recs = fresh();
  const a = new RecordArea();
  const groups = [];
  for (let i = 0; i < n; i++) {
    appendRecord(a, recs[i]);
    if ((i + 1) % GROUP === 0 || i === n - 1) groups.push(Buffer.concat(a.parts().splice(0)));
  }
  const d = await mkdtemp(path.join(tmpdir(), 'concord-s4split-'));
  const f = await open(path.join(d, 'log'), 'wx+');
  try {
    collect();
    const c0 = process.cpuUsage();
    let pos = 0;
    for (const g of groups) {
      await f.write(g, 0, g.length, pos);
      pos += g.length;
      await f.datasync();
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  } finally {
    await f.close();
    await rm(d, { recursive: true, force: true });
  }
}

/**
 * The wall time after the last put was issued, on files: until the group's fdatasync began (the last frames written),
 * the fdatasync, and from its end to the last acknowledgement (the group's entries pointed at the file, every put
 * settled and its change reported). A file storage whose fdatasync calls are timed (its `io` option).
 */
async function tail() {
  const syncs = [];
  const io = {
    ...nodeIo,
    async open(p, flags) {
      const f = await nodeIo.open(p, flags);
      const datasync = f.datasync.bind(f);
      f.datasync = async () => {
        const t = performance.now();
        await datasync();
        syncs.push([t, performance.now()]);
      };
      return f;
    },
  };
  const data = await mkdtemp(path.join(tmpdir(), 'concord-s4split-'));
  try {
    const replica = await lib.openReplica({ storage: fs.fileStorage(data, { io }) });
    const space = replica.space('bench');
    collect();
    syncs.length = 0;
    const puts = new Array(n);
    for (let i = 0; i < n; i++) puts[i] = space.put(keys[i], values[i]);
    const issued = performance.now();
    await Promise.all(puts);
    const acked = performance.now();
    const [start, end] = syncs[syncs.length - 1];
    await replica.close();
    return { toSync: start - issued, sync: end - start, settle: acked - end };
  } finally {
    await rm(data, { recursive: true, force: true });
  }
}

const kinds = ['mem', 'held', 'file'];
for (const k of kinds) await layer(k); // warm-up
for (const f of Object.values(items)) f();
const out = Object.fromEntries([...kinds, ...Object.keys(items), 'fsync'].map((k) => [k, []]));
const tails = {};
for (let r = 0; r < R; r++) {
  const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
  for (const k of order) out[k].push(await layer(k));
  for (const [k, f] of Object.entries(items)) out[k].push(f());
  out.fsync.push(await fsyncFloor());
  const t = await tail();
  for (const k of Object.keys(t)) (tails[k] ??= []).push(t[k]);
  console.error(`  round ${r + 1}: ${Object.keys(out).map((k) => `${k} ${out[k][r].toFixed(0)}`).join(', ')} (ms CPU)`);
}
const m = (k) => median(out[k]);
const f1 = (x) => x.toFixed(0).padStart(6);
console.log(`S4 split, ${n} puts in flight, ${R} rounds, medians of CPU time (ms):`);
console.log(`  memoryStorage ${f1(m('mem'))}   held until a later durability ${f1(m('held'))}   fileStorage ${f1(m('file'))}`);
console.log(`  the library waiting for durability (held − mem): ${f1(m('held') - m('mem'))}`);
console.log(`  the file storage's own work (file − held):         ${f1(m('file') - m('held'))}, of which measured alone:`);
let sum = 0;
for (const k of [...Object.keys(items), 'fsync']) {
  if (k !== 'crc') sum += m(k);
  console.log(`    ${k.padEnd(7)} ${f1(m(k))}${k === 'crc' ? '   (part of encode)' : ''}`);
}
console.log(`    rest    ${f1(m('file') - m('held') - sum)}   (batches, transactions, the writer, and the collector's work on what waits for the fsync)`);
console.log(`  wall time after the last put was issued (ms): to the group's fdatasync ${f1(median(tails.toSync))}, the fdatasync ${f1(median(tails.sync))}, then to the last acknowledgement ${f1(median(tails.settle))}`);
console.log(`  ratio by CPU: file/memory ${(m('mem') / m('file')).toFixed(3)} (the ratio's target 0.5: file at most ${f1(2 * m('mem'))})`);
