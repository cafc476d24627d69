/**
 * S9 — bytes per key beyond the value, after 10 000 writes by 1 000 replicas; clock bytes must grow with
 * the writers of that key only (never with the number of replicas in the system).
 *
 * Workload (seeded): 1 000 replicas write 10 times each. The writes go to three groups of keys:
 *   A: 4 000 keys written by 1 replica each, B: 400 keys by 10 replicas each, C: 20 keys by 100 replicas each
 * (4 000 + 4 000 + 2 000 = 10 000 writes), shuffled. Writers are synced: before writing, the replica joins
 * the hub's state of the key (`core.join`), then puts (superseding it), then the hub joins the replica's
 * record, as clients do through a relay. The hub ends with one version per key and a clock entry per writer.
 *
 * Yjs does the same writes on one Y.Doc whose clientID is switched to the writer's before each `set`:
 * exactly the structs a synced client would create, merged (its state vector/clock per client included).
 *
 * Figures (bytes per key, lower is better):
 * - "record JSON": Concord: JSON of the stored KeyRecord minus the value as it appears in it (JSON-escaped),
 *   i.e. dots, HLC, context, seq and hash; the key itself is not counted. It is the record's form in memory, on
 *   the wire and in file storage's log (the writes since its last snapshot). Yjs: `Y.encodeStateAsUpdate` divided
 *   over keys, minus each live value's encoded bytes and the key string.
 * - "file storage on disk" (the target row): the final state joined into a fileStorage replica, closed (its
 *   snapshot written: compact binary records with replica ids as indices into one table, varints, the hash as 8
 *   bytes in the index columns), and the directory's bytes divided over keys, minus the values' own bytes and
 *   the keys: what the store really spends per key beyond them (record, its index row, the table of ids, the
 *   identity and the other metadata).
 * - "clock": Concord's context (`cc`) as JSON, per key, by number of writers; Yjs has no per-key clock.
 * - "heap": retained JS heap per key after loading the final state into a fresh replica / Y.Doc (key and
 *   value included on both sides), measured with gc between.
 * A last case has 10 writers of one key offline (concurrent, 10 siblings): Concord keeps every sibling
 * (values subtracted), Yjs keeps one value.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from 'concord';
import { fileStorage } from 'concord/fs';
import { collect, dirSize, progress } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';

export const id = 'S9';
export const title = 'bytes per key beyond the value, 10 000 writes by 1 000 replicas';
const row = rowMaker(id);

const SPACE = 'bench';
const enc = new TextEncoder();
const utf8 = (s) => enc.encode(s).length;
const valueOf = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

/** A small seeded PRNG (xorshift32), so every run does the same writes. */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Writes as [writer, keyIndex]; each key's writers are distinct and every replica writes `perReplica` times. */
function plan(groups, replicas, seed) {
  const writes = [];
  const writersOf = [];
  let slot = 0;
  let key = 0;
  for (const g of groups) {
    for (let i = 0; i < g.keys; i++, key++) {
      writersOf[key] = g.writers;
      for (let w = 0; w < g.writers; w++) writes.push([slot++ % replicas, key]);
    }
  }
  const rand = prng(seed);
  for (let i = writes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [writes[i], writes[j]] = [writes[j], writes[i]];
  }
  return { writes, writersOf, keys: key };
}

/** Bytes of a record beyond its values: JSON of the record minus each value as it appears in that JSON. */
function recordOverhead(rec) {
  let values = 0;
  for (const v of rec.vs) if (v.v !== undefined) values += utf8(JSON.stringify(v.v));
  return { total: utf8(JSON.stringify(rec)), values, clock: utf8(JSON.stringify(rec.cc)) };
}

/** The bytes Yjs spends on a value: a one-key doc with the value minus the same doc with null (1 byte). */
function yjsValueBytes(key, value) {
  const size = (v) => {
    const d = new Y.Doc();
    d.clientID = 1;
    d.getMap(SPACE).set(key, v);
    const n = Y.encodeStateAsUpdate(d).length;
    d.destroy();
    return n;
  };
  return size(value) - size(null) + 1;
}

async function concordWorkload({ writes, writersOf, keys }, replicas) {
  const hub = await openReplica({ storage: memoryStorage() });
  const hubSpace = hub.space(SPACE);
  const writers = [];
  for (let r = 0; r < replicas; r++) writers.push(await openReplica({ storage: memoryStorage() }));
  for (const [r, k] of writes) {
    const w = writers[r];
    const key = `k${k}`;
    const current = await hub.core.storage.get(SPACE, key);
    if (current) await w.core.join(SPACE, [[key, current]]);
    await w.space(SPACE).put(key, valueOf(k));
    await hub.core.join(SPACE, [[key, await w.core.storage.get(SPACE, key)]]);
  }
  for (const w of writers) await w.close();
  const records = [];
  for (let k = 0; k < keys; k++) records.push([`k${k}`, await hub.core.storage.get(SPACE, `k${k}`)]);
  // sanity: the hub holds one live version per key, with one clock entry per writer of the key
  for (let k = 0; k < keys; k++) {
    const rec = records[k][1];
    if (rec.vs.length !== 1 || Object.keys(rec.cc).length !== writersOf[k]) throw new Error(`S9: unexpected state of k${k}: ${JSON.stringify(rec)}`);
  }
  void hubSpace;
  await hub.close();
  return records;
}

function yjsWorkload({ writes, keys }) {
  const doc = new Y.Doc();
  const map = doc.getMap(SPACE);
  const own = doc.clientID;
  for (const [r, k] of writes) {
    doc.clientID = 1_000_000 + r; // the writer's client id: its items get the writer's id and clock
    map.set(`k${k}`, valueOf(k));
  }
  doc.clientID = own;
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  let valueAndKeyBytes = 0;
  for (let k = 0; k < keys; k++) valueAndKeyBytes += yjsValueBytes(`k${k}`, valueOf(k)) + 1 + utf8(`k${k}`);
  return { update, valueAndKeyBytes };
}

/** Average disk overhead of a set of keys given by index. */
function concordGroupFigures(records, indexes) {
  let over = 0;
  let clock = 0;
  for (const k of indexes) {
    const o = recordOverhead(records[k][1]);
    over += o.total - o.values;
    clock += o.clock;
  }
  return { overhead: over / indexes.length, clock: clock / indexes.length };
}

/** Yjs's encoding per key for a subset: the whole update of a doc holding just those keys' histories. */
function yjsGroupOverhead({ writes }, indexes) {
  const set = new Set(indexes);
  const sub = { writes: writes.filter(([, k]) => set.has(k)), keys: 0 };
  const doc = new Y.Doc();
  const map = doc.getMap(SPACE);
  for (const [r, k] of sub.writes) {
    doc.clientID = 1_000_000 + r;
    map.set(`k${k}`, valueOf(k));
  }
  const bytes = Y.encodeStateAsUpdate(doc).length;
  doc.destroy();
  let valueAndKeyBytes = 0;
  for (const k of indexes) valueAndKeyBytes += yjsValueBytes(`k${k}`, valueOf(k)) + 1 + utf8(`k${k}`);
  return (bytes - valueAndKeyBytes) / indexes.length;
}

/** The records joined into a file storage replica, closed: its bytes on disk per key beyond values and keys. */
async function fileBytesPerKey(records) {
  const dir = await mkdtemp(join(tmpdir(), 'concord-s9-'));
  try {
    const r = await openReplica({ storage: fileStorage(dir) });
    for (let i = 0; i < records.length; i += 500) await r.core.join(SPACE, records.slice(i, i + 500));
    await r.close();
    let valuesAndKeys = 0;
    for (const [key, rec] of records) {
      valuesAndKeys += utf8(key);
      // the value's own bytes (its encoded text), not the JSON-escaped copy a JSON record holds: escaping is overhead
      for (const v of rec.vs) if (v.v !== undefined) valuesAndKeys += typeof v.v === 'string' ? utf8(v.v) : v.v.length;
    }
    const bytes = await dirSize(dir);
    return { perKey: (bytes - valuesAndKeys) / records.length, bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The heap `load` keeps per key, over ten loads held at once: one load of these 4 420 keys is ~2 MB, within V8's own
 * swings between two heap readings (one load measured Yjs at 149–961 B a key from run to run); ten are not.
 */
const HEAP_COPIES = 10;
async function heapPerKey(load, keys) {
  collect();
  collect();
  const before = process.memoryUsage().heapUsed;
  const held = [];
  for (let i = 0; i < HEAP_COPIES; i++) held.push(await load());
  collect();
  collect();
  const after = process.memoryUsage().heapUsed;
  globalThis.__s9hold = held; // keep alive until measured
  globalThis.__s9hold = undefined;
  return (after - before) / (keys * HEAP_COPIES);
}

async function concordHeap(records) {
  const text = JSON.stringify(records); // parsed inside the measurement: the records must be allocated there
  return heapPerKey(async () => {
    const copy = JSON.parse(text);
    const r = await openReplica({ storage: memoryStorage() });
    for (let i = 0; i < copy.length; i += 500) await r.core.join(SPACE, copy.slice(i, i + 500));
    return r;
  }, records.length);
}

async function yjsHeap(update, keys) {
  return heapPerKey(async () => {
    const d = new Y.Doc();
    Y.applyUpdate(d, update);
    return d;
  }, keys);
}

/** `writers` replicas write one key while offline, then everything is joined: siblings. */
async function concurrentCase(writers) {
  const hub = await openReplica({ storage: memoryStorage() });
  const key = 'k0';
  for (let r = 0; r < writers; r++) {
    const w = await openReplica({ storage: memoryStorage() });
    await w.space(SPACE).put(key, valueOf(r));
    await hub.core.join(SPACE, [[key, await w.core.storage.get(SPACE, key)]]);
    await w.close();
  }
  const rec = await hub.core.storage.get(SPACE, key);
  await hub.close();
  if (rec.vs.length !== writers) throw new Error(`S9: expected ${writers} siblings, got ${rec.vs.length}`);
  const o = recordOverhead(rec);

  const doc = new Y.Doc();
  for (let r = 0; r < writers; r++) {
    const d = new Y.Doc();
    d.clientID = 1_000_000 + r;
    d.getMap(SPACE).set(key, valueOf(r));
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(d));
    d.destroy();
  }
  const live = doc.getMap(SPACE).get(key);
  const yBytes = Y.encodeStateAsUpdate(doc).length - (yjsValueBytes(key, live) + 1 + utf8(key));
  doc.destroy();
  return { concord: o.total - o.values, yjs: yBytes };
}

export async function run({ quick }) {
  const replicas = quick ? 100 : 1000;
  const groups = quick
    ? [{ keys: 400, writers: 1 }, { keys: 40, writers: 10 }, { keys: 2, writers: 100 }]
    : [{ keys: 4000, writers: 1 }, { keys: 400, writers: 10 }, { keys: 20, writers: 100 }];
  const p = plan(groups, replicas, 9);
  progress(`S9: ${p.writes.length} writes by ${replicas} replicas to ${p.keys} keys`);

  const records = await concordWorkload(p, replicas);
  const { update, valueAndKeyBytes } = yjsWorkload(p);

  const all = concordGroupFigures(records, records.map((_, k) => k));
  const rows = [
    row({
      case: `record JSON: all ${p.keys} keys`,
      metric: 'bytes/key beyond value',
      higherIsBetter: false,
      concord: all.overhead,
      peers: { yjs: (update.length - valueAndKeyBytes) / p.keys },
      note: `Concord: JSON of the KeyRecord (its form in memory, in the log and on the wire) minus the JSON-escaped value (key not counted); Yjs: encodeStateAsUpdate (${update.length} B) minus values and keys, per key`,
    }),
  ];
  const file = await fileBytesPerKey(records);
  rows.push(row({
    case: `file storage on disk: all ${p.keys} keys`,
    metric: 'bytes/key beyond value',
    higherIsBetter: false,
    concord: file.perKey,
    peers: { yjs: (update.length - valueAndKeyBytes) / p.keys },
    note: `the final state joined into fileStorage and closed (its snapshot written: compact records, a table of replica ids, index columns): ${file.bytes} B on disk, minus values (their encoded bytes) and keys, per key; Yjs as above; target ≤ 2 × Yjs`,
    target: { atMost: 2, of: 'yjs' },
  }));
  let start = 0;
  const byWriters = [];
  for (const g of groups) {
    const idx = Array.from({ length: g.keys }, (_, i) => start + i);
    start += g.keys;
    const f = concordGroupFigures(records, idx);
    byWriters.push({ writers: g.writers, ...f });
    rows.push(row({
      case: `record JSON: keys with ${g.writers} writer${g.writers > 1 ? 's' : ''}`,
      metric: 'bytes/key beyond value',
      higherIsBetter: false,
      concord: f.overhead,
      peers: { yjs: yjsGroupOverhead(p, idx) },
      note: `${g.keys} keys, ${g.writers} synced write${g.writers > 1 ? 's' : ''} each by distinct replicas; Yjs figure from a doc holding only these keys' writes`,
    }));
  }
  for (const b of byWriters) {
    rows.push(row({
      case: `clock (cc): keys with ${b.writers} writer${b.writers > 1 ? 's' : ''}`,
      metric: 'bytes/key',
      higherIsBetter: false,
      concord: b.clock,
      peers: {},
      note: 'one entry per replica that wrote the key; none for the other replicas',
    }));
  }
  const perWriter = (byWriters.at(-1).clock - byWriters[0].clock) / (byWriters.at(-1).writers - byWriters[0].writers);
  progress(`S9: clock bytes per additional writer ≈ ${perWriter.toFixed(1)}; with ${replicas} replicas in all`);

  const heapConcord = await concordHeap(records);
  const heapYjs = await yjsHeap(update, p.keys);
  rows.push(row({
    case: 'memory: heap per key, key and value included',
    metric: 'bytes/key',
    higherIsBetter: false,
    concord: heapConcord,
    peers: { yjs: heapYjs },
    note: 'heapUsed delta (after gc) of loading the final state into a fresh memoryStorage replica / Y.Doc',
  }));

  const conc = await concurrentCase(10);
  rows.push(row({
    case: 'record JSON: 1 key, 10 offline writers',
    metric: 'bytes/key beyond values',
    higherIsBetter: false,
    concord: conc.concord,
    peers: { yjs: conc.yjs },
    note: 'Concord keeps the 10 siblings (all values subtracted); Yjs keeps one value and drops the other 9',
  }));
  return { rows, clockBytesPerWriter: perWriter };
}
