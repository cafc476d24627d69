/**
 * The file storage under power loss (test/fs/power-loss-io.ts: bytes durable as of their file's datasync, entries as
 * of their directory's fsync, torn tails): a replica writes keys, awaited one by one and in bursts in flight, with
 * compaction made frequent, and the machine crashes at a random file operation, several times a run; in some cycles
 * the disk is also full now and then (a log write fails with ENOSPC after writing part of its bytes: the group fails,
 * the segment is cut back), or a log's fsync fails once (the group fails, the segment is cut back as well, and the
 * storage refuses every write until it is reopened). After each crash the directory must open (nothing reported corrupt) under the same
 * replica id, and every key must hold its last acknowledged write, or a write of it issued later that failed when the
 * power went (it may have reached the disk) — not one reported failed before the power went (the disk full, a failed
 * fsync, the writes refused after it: nothing of it was kept); never an older value.
 * Seeded: POWER_LOSS_SEED=<n> replays a run; POWER_LOSS_RUNS sets how many (default 12; 1 000 in `npm run soak`).
 */
import { describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { openReplica, type Replica } from '../../lib/index.js';
import { errnoError, faultyIo, isLog, prng, type Faults } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

const RUNS = Number(process.env.POWER_LOSS_RUNS ?? (process.env.SOAK ? 1000 : 12));
const FIRST = process.env.POWER_LOSS_SEED ? Number(process.env.POWER_LOSS_SEED) : Date.now() % 1_000_000_000;
const KEYS = 40;
const CYCLES = 5;
const DELETED = Symbol('deleted');
type Val = string | typeof DELETED;

async function stateOf(r: Replica): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of r.space('s').scan('')) if (e.value !== undefined) out.set(e.key, e.value as string);
  return out;
}

/**
 * The first key `state` cannot explain, or undefined. A key holds the last acknowledged write of it (or, with none,
 * what it held at the start), or a write of it issued after that one and not acknowledged: a write that failed when
 * the power went may have reached the disk or not. Nothing else — no acknowledged write lost, no older value back.
 */
function unexplained(base: Map<string, string>, writes: Array<[string, Val]>, acked: boolean[], full: boolean[], state: Map<string, string>): string | undefined {
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < writes.length; i++) {
    const k = writes[i]![0];
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(i);
  }
  for (const k of new Set([...base.keys(), ...state.keys(), ...byKey.keys()])) {
    const mine = byKey.get(k) ?? [];
    let last = -1;
    for (const i of mine) if (acked[i]) last = i;
    const allowed = new Set<string | undefined>();
    const add = (v: Val | undefined) => allowed.add(v === DELETED ? undefined : v);
    if (last < 0) add(base.get(k));
    for (const i of mine) if (i >= last && !full[i]) add(writes[i]![1]);
    if (!allowed.has(state.get(k))) return `${k}: holds ${String(state.get(k)).slice(0, 12)}, writes of it ${mine.map((i) => `#${i}${acked[i] ? ' (acknowledged)' : ''} ${String(writes[i]![1]).slice(0, 12)}`).join(', ')}`;
  }
  return undefined;
}

async function run(seed: number): Promise<{ crashes: number; writes: number }> {
  const rng = prng(seed);
  const disk = new PowerLossFs(String(seed));
  // Background failures (compaction) are expected of an incarnation the power failed under, and of no other.
  const failures: unknown[] = [];
  const faults: Faults = {};
  // a log fsync failed in this cycle: the storage then refuses everything, compaction included, until reopened
  let syncFailed = false;
  const options = () => {
    const born = disk.crashes;
    // a compaction may fail with the disk full (its writes are not failed, but it may rotate around a failed group)
    const onError = (e: unknown) => void (disk.crashes === born && (e as { code?: string }).code !== 'STORAGE_FULL' && !syncFailed && failures.push(e));
    return { io: faultyIo(faults, disk.io()), compactMinBytes: 2048 + Math.floor(rng() * 8192), compactMinFrames: 20 + Math.floor(rng() * 60), compactRatio: 1.2, cacheRecords: 8 + Math.floor(rng() * 64), compactOnClose: rng() < 0.5, onError };
  };
  let base = new Map<string, string>();
  let total = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const r = await openReplica({ storage: fileStorage(`${disk.root()}/data`, options()) });
    const state = await stateOf(r);
    expect(state, 'the directory holds what it held before it was reopened').toEqual(base);
    const writes: Array<[string, Val]> = [];
    const acked: boolean[] = [];
    const full: boolean[] = [];
    const fullRate = rng() < 0.3 ? 0.02 + rng() * 0.1 : 0;
    faults.write = (path) => (fullRate > 0 && isLog(path) && rng() < fullRate ? errnoError('ENOSPC', 'write') : undefined);
    // in some cycles the n-th fsync of a log fails (EIO), once: the group is cut back (that cut fsynced), the writer broken
    let syncsLeft = rng() < 0.3 ? 1 + Math.floor(rng() * 40) : 0;
    syncFailed = false;
    faults.datasync = (path) => (isLog(path) && syncsLeft > 0 && --syncsLeft === 0 ? ((syncFailed = true), errnoError('EIO', 'fsync')) : undefined);
    const crashAt = 20 + Math.floor(rng() * 400);
    const clean = rng() < 0.2;
    // The power fails at a random file operation (mid-write, mid-compaction...), or after the last write was issued.
    const crashes = disk.crashes;
    if (!clean) disk.arm(1 + Math.floor(rng() * 3 * crashAt), rng);
    const inFlight: Promise<unknown>[] = [];
    const write = (): Promise<unknown> => {
      const i = writes.length;
      const key = `k${Math.floor(rng() * KEYS)}`;
      const v: Val = rng() < 0.15 ? DELETED : `${cycle}.${i}.${'x'.repeat(Math.floor(rng() * 200))}`;
      writes.push([key, v]);
      const p = v === DELETED ? r.space('s').delete(key) : r.space('s').put(key, v);
      return p.then(
        () => (acked[i] = true),
        // reported failed with the power on: nothing of it may come back (the disk full, a failed fsync and after it)
        (e: unknown) => void (((e as { code?: string }).code === 'STORAGE_FULL' || disk.crashes === crashes) && (full[i] = true)),
      );
    };
    while (writes.length < crashAt && disk.crashes === crashes) {
      if (rng() < 0.5) await write();
      else for (let n = 1 + Math.floor(rng() * 60); n > 0; n--) inFlight.push(write());
      if (rng() < 0.3) await new Promise((res) => setImmediate(res));
    }
    if (clean) {
      await Promise.all(inFlight);
      await r.close();
    } else {
      // Some of what is in flight may land first.
      for (let n = Math.floor(rng() * 4); n > 0 && disk.crashes === crashes; n--) await new Promise((res) => setImmediate(res));
      if (disk.crashes === crashes) disk.crash(rng);
      disk.disarm();
      void r.close().catch(() => {});
      await Promise.all(inFlight);
    }
    delete faults.write;
    delete faults.datasync;
    const after = await openReplica({ storage: fileStorage(`${disk.root()}/data`, options()) });
    const found = await stateOf(after);
    // PLACE (where the data lives) was made durable at the open: a crash is no copy, the replica keeps its id.
    expect(after.replicaId, 'the replica id after the crash').toBe(r.replicaId);
    await after.close();
    const what = `after ${clean ? 'a clean close' : 'power loss'} in cycle ${cycle} (${writes.length} writes, ${acked.filter(Boolean).length} acknowledged)`;
    expect(unexplained(base, writes, acked, full, found), what).toBeUndefined();
    if (clean) expect(acked.filter(Boolean).length, `${what}: every write acknowledged`).toBe(writes.length - full.filter(Boolean).length);
    expect(failures, 'background work that failed with the power on').toEqual([]);
    base = found;
    total += writes.length;
  }
  return { crashes: disk.crashes, writes: total };
}

describe('file storage under power loss', () => {
  it(`keeps every acknowledged write and brings back no older one (${RUNS} seeded runs of ${CYCLES} crashes or closes)`, async () => {
    let crashes = 0;
    for (let i = 0; i < RUNS; i++) {
      const seed = FIRST + i;
      try {
        crashes += (await run(seed)).crashes;
      } catch (e) {
        throw new Error(`power-loss run failed: replay with POWER_LOSS_SEED=${seed} POWER_LOSS_RUNS=1\n${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    expect(crashes).toBeGreaterThan(RUNS); // the runs did crash (a fifth of the cycles close cleanly)
  }, Math.max(120_000, RUNS * 2_000));
});
