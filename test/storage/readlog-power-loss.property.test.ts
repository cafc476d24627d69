/**
 * StorageAdapter readLog is the log a power loss right now would leave (4441f93), checked at every point of random
 * group commits: puts, rewrites and removals of a few keys, several batches in flight, groups made durable one at a
 * time, and log reads from random cursors in pages of random limits (ending anywhere, a held seq included). The state a
 * power loss leaves is every transaction whose transact() resolved (they resolve in commit order, a group at a time).
 * At each check: every record read is that durable state's record of its key, and every key of the durable state with
 * a seq in (cursor, last seq read] was read — so no cursor a frame carries passes a record a power loss would bring
 * back. Once every group is durable the log is the whole durable state, in seq order. File storage and the simulated
 * disk; seeded (SEED=<n> replays one), the seed is printed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadHasher } from '../../lib/hash.js';
import { prng } from '../../lib/check-merge.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';
import { faultyStorages, isLog } from '../fs/helpers.js';
import { SimDisk } from '../support/sim-disk.js';
import { rec } from './contract.js';

beforeAll(loadHasher);

const storages = faultyStorages('power-loss-prop', { compactOnClose: false });
const releases: Array<() => void> = [];
afterEach(async () => {
  for (const r of releases.splice(0)) r();
  await storages.cleanup();
});

/** A storage whose every group commit waits until `releaseOne` lets the oldest waiting one through. */
interface Gated {
  s: StorageAdapter;
  releaseOne(): boolean;
}

async function fileGated(): Promise<Gated> {
  const waiting: Array<() => void> = [];
  let done = false;
  const { s } = await storages.setup({ beforeSync: (p) => (isLog(p) && !done ? new Promise<void>((r) => waiting.push(r)) : Promise.resolve()) });
  releases.push(() => {
    done = true;
    for (const r of waiting.splice(0)) r();
  });
  return { s, releaseOne: () => (waiting.length > 0 ? (waiting.shift()!(), true) : false) };
}

async function simGated(): Promise<Gated> {
  const HELD = 1_000_000;
  const waiting: Array<() => void> = [];
  const disk = new SimDisk({
    timers: {
      setTimeout: (fn: () => void, ms: number) => (ms === HELD ? void waiting.push(fn) : setTimeout(fn, ms)),
      clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    },
    fsyncDelay: () => HELD,
  });
  const s = disk.instance();
  await s.open();
  releases.push(() => {
    for (const fn of waiting.splice(0)) fn();
  });
  return { s, releaseOne: () => (waiting.length > 0 ? (waiting.shift()!(), true) : false) };
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const settle = () => new Promise((r) => setTimeout(r, 5));

async function run(make: () => Promise<Gated>, seed: number, steps: number): Promise<void> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const { s, releaseOne } = await make();
  /** Every transaction in commit order: its write, and whether transact() resolved (durable). */
  const ops: Array<{ key: string; rec: KeyRecord | null; durable: boolean }> = [];
  let seq = 0;
  const durableState = () => {
    const d = new Map<string, KeyRecord>();
    for (const op of ops) {
      if (!op.durable) break;
      if (op.rec) d.set(op.key, op.rec);
      else d.delete(op.key);
    }
    return d;
  };
  const readAll = async (after: number, limit: number) => {
    const out: Array<[string, KeyRecord]> = [];
    for (let from = after; ; ) {
      const page = await s.readLog('sp', from, limit);
      out.push(...page);
      if (page.length < limit) return out;
      from = page[page.length - 1]![1].seq;
    }
  };
  const check = async (step: number) => {
    await settle();
    const d = durableState();
    const cursor = Math.floor(rand() * (seq + 1));
    const limit = 1 + Math.floor(rand() * 4);
    const read = await readAll(cursor, limit);
    const where = `seed ${seed}, step ${step}, cursor ${cursor}, limit ${limit}`;
    const seqs = read.map(([, r]) => r.seq);
    expect(seqs, `${where}: in seq order past the cursor`).toEqual([...seqs].sort((x, y) => x - y).filter((x) => x > cursor));
    for (const [key, r] of read) expect(d.get(key)?.seq, `${where}: ${key}@${r.seq} read is what a power loss leaves`).toBe(r.seq);
    const upTo = seqs.length > 0 ? seqs[seqs.length - 1]! : cursor;
    const readKeys = new Set(read.map(([k, r]) => `${k}@${r.seq}`));
    for (const [key, r] of d) {
      if (r.seq > cursor && r.seq <= upTo) expect(readKeys.has(`${key}@${r.seq}`), `${where}: ${key}@${r.seq} comes back below ${upTo} after a power loss`).toBe(true);
    }
  };
  const inFlight: Array<Promise<unknown>> = [];
  for (let step = 0; step < steps; step++) {
    const x = rand();
    if (x < 0.45 || (x < 0.6 && seq === 0)) {
      const key = pick(KEYS);
      const op = { key, rec: rec(++seq) as KeyRecord | null, durable: false };
      ops.push(op);
      const at = seq;
      inFlight.push(s.transact((tx) => (tx.put('sp', key, op.rec!), tx.setMeta('seq', at))).then(() => void (op.durable = true)));
    } else if (x < 0.6) {
      const key = pick(KEYS);
      const op = { key, rec: null, durable: false };
      ops.push(op);
      const at = ++seq;
      inFlight.push(s.transact((tx) => (tx.remove('sp', key), tx.setMeta('seq', at))).then(() => void (op.durable = true)));
    } else if (x < 0.85) {
      releaseOne();
    }
    await check(step);
  }
  for (let i = 0; i < 1000 && releaseOne(); i++) await settle();
  // A group may still be on its way to the gate: keep releasing until every transaction is durable.
  for (let i = 0; i < 200 && ops.some((o) => !o.durable); i++) {
    releaseOne();
    await settle();
  }
  await Promise.all(inFlight);
  const d = durableState();
  const whole = (await readAll(0, 1000)).map(([k, r]) => `${k}@${r.seq}`);
  expect(whole, `seed ${seed}: the whole durable state once every group is durable`).toEqual([...d].sort((x, y) => x[1].seq - y[1].seq).map(([k, r]) => `${k}@${r.seq}`));
}

const one = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined;
const base = one ?? (Date.now() % 1_000_000);
const seeds = one !== undefined ? [one] : Array.from({ length: 12 }, (_, i) => base + i);

describe.each([
  ['file storage', fileGated],
  ['simulated disk', simGated],
])('readLog is the log a power loss leaves, at every point of random group commits (%s)', (name, make) => {
  it(`seeds ${seeds[0]}..${seeds[seeds.length - 1]}`, async () => {
    console.log(`readlog-power-loss (${name}): seeds ${seeds.join(',')} (SEED=<n> replays one)`);
    for (const seed of seeds) {
      await run(make, seed, 60);
      for (const r of releases.splice(0)) r();
      await storages.cleanup();
    }
  }, 60_000);
});
