/**
 * Restore detection from the data (lib/restore-claims.ts): a received counter of our own id that no dot of this
 * storage's history can be makes the replica re-identify; one it may have minted does not.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { CLAIM_META, forkBefore, impossibleClaim, OwnDots } from '../../lib/restore-claims.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { VirtualClock } from '../sim/clock.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { SimDisk } from '../support/sim-disk.js';

describe('which counters of ours a received state may name', () => {
  it('OwnDots knows the dots minted since the open, and counts everything up to the open as possibly ours', () => {
    const own = new OwnDots(10);
    for (const n of [11, 13, 5000]) own.mark(n);
    expect([5, 10, 11, 13, 5000].map((n) => own.mayBeOurs(n))).toEqual([true, true, true, true, true]);
    expect([12, 14, 4999, 5001].map((n) => own.mayBeOurs(n))).toEqual([false, false, false, false]);
  });

  it('impossibleClaim names the highest counter past the top or past the open and not ours, in contexts and versions', () => {
    const own = new OwnDots(10);
    own.mark(11);
    const state = (cc: Record<string, number>, vs: Array<{ r: string; n: number }> = []) => ({ vs: vs.map((v) => ({ ...v, t: 1, c: 0, v: '1' })), cc });
    expect(impossibleClaim([['k', state({ me: 11, other: 99 })]], 'me', 12, own)).toBe(0);
    expect(impossibleClaim([['k', state({ me: 9 })]], 'me', 12, own)).toBe(0);
    expect(impossibleClaim([['k', state({ me: 12 })]], 'me', 12, own)).toBe(12); // seq 12 was a join's, not ours
    expect(impossibleClaim([['k', state({ me: 12 })]], 'me', 12, undefined)).toBe(0); // without the bitmap: top only
    expect(impossibleClaim([['a', state({ me: 11 })], ['b', state({}, [{ r: 'me', n: 40 }])]], 'me', 12, undefined)).toBe(40);
  });

  it('impossibleClaim names a version of ours that our own state of its key has not seen, whatever its counter', () => {
    const state = (cc: Record<string, number>, vs: Array<{ r: string; n: number }> = []) => ({ vs: vs.map((v) => ({ ...v, t: 1, c: 0, v: '1' })), cc });
    const ours = state({ me: 4 }, [{ r: 'me', n: 4 }]);
    // Counter 4 is below the top and may be ours: judged by the key's own state.
    expect(impossibleClaim([['x', ours]], 'me', 12, undefined, [undefined])).toBe(4); // we never wrote x
    expect(impossibleClaim([['x', ours]], 'me', 12, undefined, [state({ me: 3 })])).toBe(4); // our x never saw dot 4
    expect(impossibleClaim([['x', ours]], 'me', 12, undefined, [state({ me: 4 })])).toBe(0); // ours, or superseded here
    expect(impossibleClaim([['x', ours]], 'me', 12, undefined, [state({ me: 9 }, [{ r: 'me', n: 9 }])])).toBe(0);
    // A context alone is not judged by the key: an app may write a key with another key's context.
    expect(impossibleClaim([['x', state({ me: 4 })]], 'me', 12, undefined, [undefined])).toBe(0);
    // Another replica's versions are not ours to judge.
    expect(impossibleClaim([['x', state({ o: 4 }, [{ r: 'o', n: 4 }])]], 'me', 12, undefined, [undefined])).toBe(0);
    // Each state is judged against the state of its own key.
    expect(impossibleClaim([['x', ours], ['y', ours]], 'me', 12, undefined, [state({ me: 4 }), state({ me: 2 })])).toBe(4);
  });
});

describe('where a claim puts the restore point', () => {
  const state = (cc: Record<string, number>, vs: Array<{ r: string; n: number }> = []) => ({ vs: vs.map((v) => ({ ...v, t: 1, c: 0, v: '1' })), cc });
  // Opened at 0, again at 0 (a restored copy opened, then restarted once before it met anyone), and at 2.
  const history = [['e1', 0], ['e2', 0], ['e3', 2]] as const;

  it('is the latest open unless a received state shows the histories parting before it', () => {
    // Counters past the point say nothing about where the histories parted.
    expect(forkBefore(2, [['k', state({ me: 7 })]], [state({ me: 2 }, [{ r: 'me', n: 2 }])], 'me', history)).toBe(2);
    // A key whose own state saw the counter: nothing parted there.
    expect(forkBefore(2, [['d', state({ me: 2 })]], [state({ me: 2 })], 'me', history)).toBe(2);
  });

  it('moves to the open before a counter at or below it that our state of that key never saw', () => {
    // The lost history wrote key d at counter 2 or below; ours never wrote d: they parted before 2, at the open at 0.
    expect(forkBefore(2, [['d', state({ me: 2 })]], [undefined], 'me', history)).toBe(0);
    expect(forkBefore(2, [['d', state({}, [{ r: 'me', n: 2 }])]], [state({ me: 1 })], 'me', history)).toBe(0);
    // Past every kept epoch's start: the start of the log.
    expect(forkBefore(5, [['d', state({ me: 3 })]], [undefined], 'me', [['e7', 4], ['e8', 5]])).toBe(0);
  });
});

describe('a replica shown a counter of its own that its storage cannot have minted', () => {
  // Replicas of 10's path (SPEAKS_10): a storage speaking 11 tags from its second open, and a tagged write is told from a
  // lost branch's untagged one by its epoch, with no claim (identity.ts AT11_META). The claims guard untagged dots, which
  // a replica still mints where it speaks below 11 or met only earlier peers.
  /** A replica on `storage` opened a second time (a first open ignores claims: no copy of it can exist yet). */
  async function reopened(storage: StorageAdapter): Promise<Replica> {
    await (await openReplica({ storage, speaks: SPEAKS_10 })).close();
    return openReplica({ storage, speaks: SPEAKS_10 });
  }

  const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('re-identifies on a counter past the log, re-issuing what it wrote since the open and nothing before', async () => {
    const storage = memoryStorage();
    const first = await openReplica({ storage, speaks: SPEAKS_10 });
    await first.space('s').put('before', 'written in the first open');
    await first.close();
    const r = await openReplica({ storage, speaks: SPEAKS_10 });
    const oldId = r.replicaId;
    const w = await r.space('s').put('since', 'written in this open');
    const errors: unknown[] = [];
    r.on('error', (e) => errors.push(e));
    await r.core.join('s', [['x', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '"x"' }], cc: { peer: 1, [oldId]: w.seq + 5 } }]]);
    await settled();
    expect(r.replicaId).not.toBe(oldId);
    expect((await r.space('s').get('since'))?.versions.map((v) => v.replicaId)).toEqual([r.replicaId]);
    expect((await r.space('s').get('before'))?.versions.map((v) => v.replicaId)).toEqual([oldId]);
    expect(errors.map((e) => (e as { code?: string }).code)).toContain('RESTORED');
    await r.close();
  });

  it('re-identifies on a counter inside the log that a join took, not one it minted itself', async () => {
    const storage = memoryStorage();
    const r = await reopened(storage);
    const oldId = r.replicaId;
    const mine = await r.space('s').put('mine', 1);
    // A peer's key takes the next log seq here: no dot of ours has that counter.
    const [joined] = await r.core.join('s', [['theirs', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '1' }], cc: { peer: 1 } }]]);
    await r.space('s').put('later', 2); // the log's top passes the joined seq
    await r.core.join('s', [['y', { vs: [{ r: 'peer', n: 2, t: 1, c: 0, v: '2' }], cc: { peer: 2, [oldId]: mine.seq } }]]);
    await settled();
    expect(r.replicaId, 'a counter it minted').toBe(oldId);
    await r.core.join('s', [['z', { vs: [{ r: 'peer', n: 3, t: 1, c: 0, v: '3' }], cc: { peer: 3, [oldId]: joined!.rec.seq } }]]);
    await settled();
    expect(r.replicaId, "a join's seq").not.toBe(oldId);
    await r.close();
  });

  it('acts at the next open on a claim stored by a join whose re-identification never ran (a crash), and on no other', async () => {
    const storage = memoryStorage();
    const r = await reopened(storage);
    const oldId = r.replicaId;
    const w = await r.space('s').put('since', 'written before the crash');
    await r.close();
    // What the join stored in its transaction before the process died.
    await storage.open();
    await storage.transact((tx) => tx.setMeta(CLAIM_META, { id: oldId, point: w.seq - 1 }));
    await storage.close();
    const again = await openReplica({ storage, speaks: SPEAKS_10 });
    expect(again.replicaId).not.toBe(oldId);
    expect((await again.space('s').get('since'))?.versions.map((v) => v.replicaId)).toEqual([again.replicaId]);
    const renewed = again.replicaId;
    await again.close();
    // The stored claim names the old id: the next open does nothing with it.
    const third = await openReplica({ storage, speaks: SPEAKS_10 });
    expect(third.replicaId).toBe(renewed);
    await third.close();
  });

  it('re-identifies on a lost version under a counter it minted again for another key', async () => {
    const storage = memoryStorage();
    const r = await reopened(storage);
    const oldId = r.replicaId;
    const other = await r.space('s').put('other', 'after the restore'); // took the lost write's counter
    await r.core.join('s', [['lost', { vs: [{ r: oldId, n: other.seq, t: 1, c: 0, v: '"lost"' }], cc: { [oldId]: other.seq } }]]);
    await settled();
    expect(r.replicaId).not.toBe(oldId);
    expect((await r.space('s').get('lost'))?.value).toBe('lost');
    expect((await r.space('s').get('other'))?.versions.map((v) => v.replicaId)).toEqual([r.replicaId]);
    await r.close();
  });

  it('does not re-identify again when another instance sharing the storage already did (its claim names a retired id)', async () => {
    // Hints between instances travel on these timers: the clock never advances, so b never hears of a's change.
    const disk = new SimDisk({ timers: new VirtualClock() });
    await (await openReplica({ storage: disk.instance() })).close();
    const a = await openReplica({ storage: disk.instance() });
    const b = await openReplica({ storage: disk.instance() });
    const oldId = b.replicaId;
    expect(a.replicaId).toBe(oldId);
    await a.core.reidentify('a-peer');
    const renewed = a.replicaId;
    expect(renewed).not.toBe(oldId);
    // b still writes as the old id; a lost version of that id reaches b's join.
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    await b.core.join('s', [['x', { vs: [{ r: oldId, n: 1, t: 1, c: 0, v: '"x"' }], cc: { [oldId]: 1 } }]]);
    await settled();
    expect(b.replicaId).toBe(renewed);
    expect(errors.map((e) => (e as { code?: string }).code)).not.toContain('RESTORED');
    await a.close();
    await b.close();
  });
});
