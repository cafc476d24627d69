// Two tabs share one storage; each instance's epoch registry is what it read at its open, plus what it learns itself.
// A record one tab learns (a peer's chain) and stores must reach the other tab's joins: judged without it, an epoch is
// a root and a join keeps a point its history holds (restore-once 1744200165 at 11: tab g/1, leader after g/0 closed,
// kept 3@yH-G… of f beside 4@fDmc…, which forks from yH-G… at 3, where every other node held the one point).
// Attacked: the stored record naming the epoch, a received state naming it alone, a storage that answers late, and a
// state naming a flood of unknown replicas (the reads it costs are bounded).
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredVersion } from '../../lib/dvv.js';
import { UNTAGGED, type EpochRecord } from '../../lib/epoch-points.js';
import { EPOCH_META, MAX_STORED_READS } from '../../lib/epoch-store.js';
import { openReplica, type Replica } from '../../lib/index.js';
import type { StorageAdapter, StorageTx } from '../../lib/storage.js';
import { VirtualClock } from '../sim/clock.js';
import { SimDisk } from '../support/sim-disk.js';

const F = 'FFFFFFFFFFFFFFFF';
const OLD = 'oldEpoch';
const NEW = 'newEpoch';
// F's tagged root OLD, and NEW opened under it at 3 (a restore to a copy that had minted 3): OLD:3 is in NEW:4's history.
const CHAIN: EpochRecord[] = [
  { e: OLD, parent: UNTAGGED, fork: 0 },
  { e: NEW, parent: OLD, fork: 3 },
];
const version: StoredVersion = { r: F, ep: NEW, n: 4, t: 1_000, c: 0, v: JSON.stringify('f4') };
const pruned = { vs: [version], cc: { [F]: 4 }, pts: { [F]: [{ e: NEW, n: 4 }] } };
const both = { vs: [version], cc: { [F]: 4 }, pts: { [F]: [{ e: NEW, n: 4 }, { e: OLD, n: 3 }] } };

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

async function tab(storage: StorageAdapter): Promise<Replica> {
  const r = await openReplica({ storage });
  open.push(r);
  return r;
}

/** `base` with each transaction's reads through `wrap` (a storage that answers late; one that counts). */
function viaTx(base: StorageAdapter, wrap: (tx: StorageTx) => Partial<StorageTx>): StorageAdapter {
  return {
    open: () => base.open(),
    close: () => base.close(),
    get: (s, k) => base.get(s, k),
    getMeta: (n) => base.getMeta(n),
    scan: (s, o) => base.scan(s, o),
    index: (s) => base.index(s),
    spaces: () => base.spaces(),
    readLog: (s, a, l) => base.readLog(s, a, l),
    transact: (fn) => base.transact((tx) => fn(Object.assign(Object.create(tx) as StorageTx, wrap(tx)))),
  };
}

/** Two tabs on one disk (`late`: the second tab's transaction reads answer as promises, as IndexedDB's do). */
async function tabs(late = false): Promise<[Replica, Replica]> {
  const disk = new SimDisk({ timers: new VirtualClock() });
  const second = disk.instance();
  const lateReads = (tx: StorageTx): Partial<StorageTx> => ({
    get: ((s: string, k: string) => Promise.resolve(tx.get(s, k))) as StorageTx['get'],
    getMeta: (<T>(n: string) => Promise.resolve(tx.getMeta<T>(n))) as StorageTx['getMeta'],
  });
  return [await tab(disk.instance()), await tab(late ? viaTx(second, lateReads) : second)];
}

/** Tab `t` learns F's chain from a peer and stores it (as epoch-chain.ts does for a chain frame). */
async function learns(t: Replica): Promise<void> {
  expect(t.core.epochs.learnChain(F, CHAIN)).toBeUndefined();
  await t.core.saveEpochs();
}

const points = async (t: Replica) => (await t.core.storage.get('s', 'k'))?.pts?.[F];

describe('a tab judges by the epoch records another tab sharing its storage stored', () => {
  for (const late of [false, true]) {
    it(`the stored record names the epoch the other tab learned: the join prunes the point it covers${late ? ' (a storage answering late)' : ''}`, async () => {
      const [t0, t1] = await tabs(late);
      await learns(t0);
      await t0.core.join('s', [['k', pruned]]);
      expect(t1.core.epochs.knows(F, NEW)).toBe(false);
      // t1 (the leader now) receives the state of a relay that did not know NEW's record yet.
      await t1.core.join('s', [['k', both]]);
      expect(await points(t1)).toEqual([{ e: NEW, n: 4 }]);
      expect(t1.core.epochs.parentOf(F, NEW)).toEqual({ parent: OLD, fork: 3 });
    });
  }

  it('a received state names the epoch alone (nothing stored of the key): judged by the stored records too', async () => {
    const [t0, t1] = await tabs();
    await learns(t0);
    await t1.core.join('s', [['k', both]]);
    expect(await points(t1)).toEqual([{ e: NEW, n: 4 }]);
  });

  it('records read from the storage are not stored again (not fresh), and one the tab learned itself still is', async () => {
    const [t0, t1] = await tabs();
    await learns(t0);
    const G = 'GGGGGGGGGGGGGGGG';
    expect(t1.core.epochs.learnChain(G, [{ e: 'gEpoch', parent: UNTAGGED, fork: 0 }])).toBeUndefined();
    await t1.core.join('s', [['k', both]]);
    expect(t1.core.epochs.takeFresh()).toEqual([G]);
  });

  it('a state naming epochs of a flood of replicas no record names: the records read are bounded', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() });
    let reads = 0;
    const counting = (tx: StorageTx): Partial<StorageTx> => ({
      getMeta: (<T>(name: string) => {
        if (name.startsWith(EPOCH_META)) reads++;
        return tx.getMeta<T>(name);
      }) as StorageTx['getMeta'],
    });
    const t = await tab(viaTx(disk.instance(), counting));
    reads = 0;
    const ids = Array.from({ length: 1000 }, (_, i) => `R${String(i).padStart(15, '0')}`);
    const vs = ids.map((r) => ({ r, ep: 'x', n: 1, t: 1_000, c: 0, v: '1' }) as StoredVersion);
    await t.core.join('s', [['k', { vs, cc: Object.fromEntries(ids.map((r) => [r, 1])), pts: Object.fromEntries(ids.map((r) => [r, [{ e: 'x', n: 1 }]])) }]]);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThanOrEqual(MAX_STORED_READS);
  });
});
