// Change events when transactions resolve out of the order they were applied in: a join of a peer's state of a key,
// then a local write of the key (which supersedes what the join stored). Storage promises nothing about the order in
// which transactions resolve (one group commit resolves several at once, and the join's path takes more turns than a
// write's), so the join's change may be heard after the write's. The count must follow the key's newest record: the
// write is ours and no peer acknowledged it, so the key counts; and the Merkle tree holds the newest record's hash, so
// anti-entropy with a peer holding the older state sends the write. Found by the simulator's storage jitter
// (SIM_JITTER=6: clock-skew 56, a relay's delete counted 0 pending the instant it resolved; crash 51, an anti-entropy
// run saw no difference at the key, confirmed its top, and w.synced resolved while no peer held the write).
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

/**
 * Memory storage whose next transact() armed with `slow(n)` resolves n microtasks late; while armed it commits nothing
 * at once (transactNow answers undefined, as a storage with a transaction queued does), so that transaction is the slow one.
 */
function slowable(): { storage: StorageAdapter; slow(n: number): void } {
  const inner = memoryStorage();
  let next = 0;
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'transactNow' && next > 0) return () => undefined;
      if (prop === 'transact') {
        return (fn: Parameters<StorageAdapter['transact']>[0]) => {
          const hops = next;
          next = 0;
          const p = target.transact(fn);
          if (hops === 0) return p;
          return p.then(async (v) => {
            for (let i = 0; i < hops; i++) await null;
            return v;
          });
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, slow: (n) => (next = n) };
}

describe('changes heard out of order', () => {
  it('a join resolving after a later local write of the same key does not take the write out of the count', async () => {
    const { storage, slow } = slowable();
    const r = await openReplica({ storage });
    open.push(r);
    const sp = r.space('s');
    const theirs = { r: 'Zpeer000000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    const counts: number[] = [];
    r.on('pending', (n) => counts.push(n));
    slow(20);
    const joined = r.core.join('s', [['k', { vs: [theirs], cc: { [theirs.r]: 1 } }]]);
    const written = sp.put('k', 'ours'); // applied after the join: supersedes the peer's version
    const [changes, w] = await Promise.all([joined, written]);
    expect(changes.map((c) => c.rec.seq)).toEqual([1]);
    expect(w.seq).toBe(2);
    expect((await storage.get('s', 'k'))?.vs.map((v) => v.r)).toEqual([r.replicaId]);
    expect(r.pending).toBe(1);
    expect(counts[counts.length - 1]).toBe(1);
  });

  it('in order, the same join and write count the key once as well', async () => {
    const { storage } = slowable();
    const r = await openReplica({ storage });
    open.push(r);
    const theirs = { r: 'Zpeer000000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    await r.core.join('s', [['k', { vs: [theirs], cc: { [theirs.r]: 1 } }]]);
    await r.space('s').put('k', 'ours');
    expect(r.pending).toBe(1);
  });

  it('the change of the older record is not told after the newer one: the last change of the key is its stored record', async () => {
    const { storage, slow } = slowable();
    const r = await openReplica({ storage });
    open.push(r);
    const told: number[] = [];
    r.core.events.on('change', (c) => void (c.key === 'k' && told.push(c.rec.seq)));
    const theirs = { r: 'Zpeer000000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    slow(20);
    await Promise.all([r.core.join('s', [['k', { vs: [theirs], cc: { [theirs.r]: 1 } }]]), r.space('s').put('k', 'ours')]);
    expect(told).toEqual([2]);
  });

  it('the Merkle tree holds the newest record\'s hash (anti-entropy against a peer holding the older state sees the difference)', async () => {
    const { storage, slow } = slowable();
    const r = await openReplica({ storage });
    open.push(r);
    const theirs = { r: 'Zpeer000000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    r.space('s');
    // The space's tree is built (as after any earlier session): changes update it from here on.
    const hub = (r as unknown as { hub: { index(space: string): Promise<{ tree: { get(key: string): string | undefined } }> } }).hub;
    await hub.index('s');
    slow(20);
    await Promise.all([r.core.join('s', [['k', { vs: [theirs], cc: { [theirs.r]: 1 } }]]), r.space('s').put('k', 'ours')]);
    expect((await hub.index('s')).tree.get('k')).toBe((await storage.get('s', 'k'))!.h);
  });
});

// Tombstone collection is a transaction like a join: a collector's collection of a key, then its own write of the key,
// both in one group commit, may be heard write first. Found past CI's seeds by sim-jitter2's jitter mode (crash 186,
// SIM_JITTER=6 on that branch: peer c collected k0 (seq 20), wrote k0 (seq 23), and heard the collection last; there
// pending dropped the write). On main the pending map ignores a change older than the key's entry, but the collection's
// change still reached every other listener: the Merkle leaf went back to the collected state's hash.
describe('a collection heard after a later write of its key', () => {
  /** Memory storage whose transaction armed with `hold()` resolves only when released; `applied` once its function ran. */
  function holdable() {
    const inner = memoryStorage();
    let arm: { applied: () => void; held: Promise<void> } | undefined;
    const storage = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'transact') {
          return <T>(fn: Parameters<StorageAdapter['transact']>[0]) => {
            const a = arm;
            arm = undefined;
            if (!a) return target.transact(fn);
            return target.transact(async (tx) => {
              const result = await fn(tx);
              a.applied();
              return result;
            }).then(async (v) => (await a.held, v as T));
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return {
      storage,
      hold() {
        let release!: () => void;
        let applied!: () => void;
        const held = new Promise<void>((r) => (release = r));
        const ran = new Promise<void>((r) => (applied = r));
        arm = { applied, held };
        return { release, ran };
      },
    };
  }

  it('does not set the key\'s Merkle leaf or last change back to the collected state', async () => {
    const { storage, hold } = holdable();
    const r = await openReplica({ storage });
    open.push(r);
    const sp = r.space('s');
    const hub = (r as unknown as { hub: { index(space: string): Promise<{ tree: { get(key: string): string | undefined } }> } }).hub;
    await hub.index('s');
    // A peer's delete, older than the grace period: collectable.
    const month = 31 * 24 * 3600_000;
    const tomb = { r: 'Zpeer000000000000', n: 2, t: Date.now() - month, c: 0, d: 1 as const };
    await r.core.join('s', [['k', { vs: [tomb], cc: { [tomb.r]: 2 } }]]);
    const told: Array<[number, boolean]> = [];
    r.core.events.on('change', (c) => void (c.key === 'k' && told.push([c.rec.seq, c.collected === true])));
    const { release, ran } = hold();
    const collecting = r.collectGarbage();
    await ran; // the collection is applied (seq 2), not yet heard
    const w = await sp.put('k', 'ours'); // applied after it (seq 3), heard first
    release();
    expect(await collecting).toBe(1);
    expect(w.seq).toBe(3);
    const stored = (await storage.get('s', 'k'))!;
    expect(stored.vs.map((v) => v.r)).toEqual([r.replicaId]);
    expect(told).toEqual([[3, false]]);
    expect((await hub.index('s')).tree.get('k')).toBe(stored.h);
    expect(r.pending).toBe(1);
  });
});
