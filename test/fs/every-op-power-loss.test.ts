/**
 * The power lost before every file operation of a stretch of a store's life, each moment in several seeded ways
 * (power-loss-io.ts: unsynced bytes, sizes, truncates, creates, renames and removals may each survive or not): an
 * open that recovers a torn tail (and takes over the lock a crash left), puts awaited one by one, two compactions
 * (rotation, snapshot written and renamed, old files removed) with puts between, overwrites and removes, and a close.
 * After each crash the directory must open (nothing reported corrupt) and every key hold its last acknowledged write,
 * or the write in flight at that moment. Seeded: EVERY_OP_SEED=<n> replays (the failure names the operation too).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';
import { prng } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

beforeAll(loadHasher);

const SEED = process.env.EVERY_OP_SEED ? Number(process.env.EVERY_OP_SEED) : Date.now() % 1_000_000_000;
const WAYS = 3;

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

type Value = KeyRecord | undefined;

describe('file storage: the power lost before each file operation', () => {
  it(`of an open, puts, two compactions and a close: every moment opens and keeps what was acknowledged (seed ${SEED})`, async () => {
    const rng = prng(SEED);
    const disk = new PowerLossFs(`every-op-${SEED}`);
    const options = () => ({ io: disk.io(), compactOnClose: false, cacheRecords: 4, onError: () => {} });
    let seq = 0;
    const value = (key: string) => rec(++seq, `${key}.${seq}.${'x'.repeat(Math.floor(rng() * 300))}`);
    // A first life: some groups, then puts in flight when the power fails (a torn tail for the next open).
    const first = fileStorage(`${disk.root()}/data`, options());
    await first.open();
    const acked = new Map<string, Value>();
    for (let i = 0; i < 20; i++) {
      const k = `k${i % 12}`;
      const r = value(k);
      await first.transact((tx) => tx.put('sp', k, r));
      acked.set(k, r);
    }
    const lost = Array.from({ length: 8 }, (_, i) => first.transact((tx) => tx.put('sp', `k${i}`, value(`k${i}`))).catch(() => {}));
    await new Promise((res) => setImmediate(res));
    disk.crash(rng);
    void first.close().catch(() => {});
    await Promise.all(lost);

    // The second life, with the disk forked before each of its file operations.
    const moments: Array<{ disk: PowerLossFs; op: number; acked: Map<string, Value>; inFlight: Map<string, Value> }> = [];
    const inFlight = new Map<string, Value>();
    disk.onOp = () => moments.push({ disk: disk.fork(`every-op-${SEED}-${disk.ops}`), op: disk.ops, acked: new Map(acked), inFlight: new Map(inFlight) });
    cleanups.push(async () => void (disk.onOp = undefined));
    const s = fileStorage(`${disk.root()}/data`, options());
    await s.open();
    // what the first life acknowledged is there (or what was in flight)
    for (const [k, r] of acked) if ((await s.get('sp', k))?.seq !== r?.seq) acked.set(k, await s.get('sp', k));
    const write = async (k: string, r: Value) => {
      inFlight.set(k, r);
      await s.transact((tx) => (r ? tx.put('sp', k, r) : tx.remove('sp', k)));
      inFlight.delete(k);
      acked.set(k, r);
    };
    const some = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const k = `k${Math.floor(rng() * 16)}`;
        await write(k, rng() < 0.15 ? undefined : value(k));
      }
    };
    await some(10);
    const compacting = s.compactNow();
    await some(6);
    await compacting;
    await some(6);
    await s.compactNow();
    await some(4);
    await s.close();
    disk.onOp = undefined;

    expect(moments.length).toBeGreaterThan(40);
    for (const m of moments) {
      for (let way = 0; way < WAYS; way++) {
        const copy = m.disk.fork(`every-op-${SEED}-${m.op}-${way}`);
        copy.crash(prng(SEED * 31 + m.op * 7 + way));
        const after = fileStorage(`${copy.root()}/data`, { io: copy.io(), compactOnClose: false });
        try {
          await after.open();
          for (const [k, r] of m.acked) {
            const got = await after.get('sp', k);
            if (got?.seq === r?.seq) continue;
            if (m.inFlight.has(k) && got?.seq === m.inFlight.get(k)?.seq) continue;
            throw new Error(`${k} holds seq ${got?.seq}, acknowledged ${r?.seq}`);
          }
        } catch (e) {
          throw new Error(`power lost before operation ${m.op}, way ${way}: replay with EVERY_OP_SEED=${SEED}\n${e instanceof Error ? e.message : String(e)}`, { cause: e });
        } finally {
          await after.close().catch(() => {});
        }
      }
    }
  }, 120_000);
});
