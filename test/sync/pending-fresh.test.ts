/**
 * The pending-writes map's list of fresh keys (lib/pending.ts `fresh`): a local write of a key the storage did not hold
 * is appended to a per-space list in write order instead of inserted into the map. These check that the count, `seqOf`
 * (what `w.synced` and `whenSynced` ask) and acknowledgements read the same through the list as through the map: an
 * acknowledgement clears the list's front, keeps a withheld key of it, and a later change of one of its keys finds it.
 * (Behaviour the map had before the list: these hold on the code before it too; they guard the list.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplicaCore, StoredChange } from '../../lib/core.js';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { MIN_STORED, PendingWrites } from '../../lib/pending.js';
import type { KeyRecord } from '../../lib/storage.js';
import { countingReads } from './support.js';

const ME = 'mine000000000000';
const THEM = 'them000000000000';

function setUp() {
  const withheld = new Set<string>();
  const counts: number[] = [];
  const core = {
    replicaId: ME,
    durableSeq: 0,
    isClosed: false,
    acks: { isWithheld: (space: string, key: string) => withheld.has(`${space}\n${key}`) },
    storage: { transact: async () => undefined },
    events: { emit: () => {} },
  };
  const pending = new PendingWrites(core as unknown as ReplicaCore, { shared: false, onCount: (n) => counts.push(n), onSpace: () => {} });
  const records = new Map<string, KeyRecord>();
  /** A durable record of `key` at `seq` holding these versions, its change told as the core tells it (prev: the record before). */
  const write = (key: string, seq: number, vs: Array<[string, number]>, space = 's') => {
    core.durableSeq = Math.max(core.durableSeq, seq);
    const cc: Record<string, number> = {};
    for (const [r, n] of vs) cc[r] = Math.max(cc[r] ?? 0, n);
    const rec = { seq, vs: vs.map(([r, n]) => ({ r, n, t: 1, c: 0, v: new Uint8Array() })), cc } as unknown as KeyRecord;
    const prev = records.get(`${space}\n${key}`);
    records.set(`${space}\n${key}`, rec);
    pending.changed({ space, key, rec, prev, origin: 'local' } as StoredChange);
  };
  return { pending, withheld, counts, write };
}

describe('replica.pending: new keys written in order', () => {
  it('an acknowledgement clears the front of the new keys; the rest keep their seqs, and a rewrite of one moves it', () => {
    const { pending, counts, write } = setUp();
    for (let i = 1; i <= 6; i++) write(`k${i}`, i, [[ME, i]]);
    expect(pending.count).toBe(6);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pending.countIn('s')).toBe(6);
    pending.acked('s', 3, 'peer');
    expect(pending.count).toBe(3);
    expect([1, 2, 3, 4, 5, 6].map((i) => pending.seqOf('s', `k${i}`))).toEqual([undefined, undefined, undefined, 4, 5, 6]);
    // k5 written again (its record was held: the map takes it), and k1 (acknowledged: pending again).
    write('k5', 7, [[ME, 7]]);
    write('k1', 8, [[ME, 8]]);
    expect(pending.count).toBe(4);
    expect(pending.seqOf('s', 'k5')).toBe(7);
    pending.acked('s', 6, 'peer');
    expect(pending.count, 'k5 at 7 and k1 at 8 wait').toBe(2);
    expect(pending.seqOf('s', 'k4')).toBeUndefined();
    pending.acked('s', 8, 'peer');
    expect(pending.count).toBe(0);
    expect([...pending.spaces()]).toEqual([]);
  });

  it('a withheld key in the acknowledged front stays counted at its seq, beside new keys after it, until an acknowledgement without the withhold', () => {
    const { pending, withheld, write } = setUp();
    for (let i = 1; i <= 4; i++) write(`k${i}`, i, [[ME, i]]);
    write('x', 5, [[ME, 5]], 'other');
    withheld.add('s\nk2');
    pending.acked('s', 3, 'peer');
    expect(pending.count, 'k2 (withheld), k4, and x in another space').toBe(3);
    expect(pending.seqOf('s', 'k2')).toBe(2);
    expect(pending.seqOf('s', 'k4')).toBe(4);
    expect(pending.countIn('s')).toBe(2);
    write('k9', 6, [[ME, 6]]);
    withheld.clear();
    pending.acked('s', 4, 'peer');
    expect(pending.count, 'k9 and x').toBe(2);
    expect(pending.seqOf('s', 'k9')).toBe(6);
    expect(new Set(pending.spaces())).toEqual(new Set(['s', 'other']));
    pending.acked('s', 6, 'peer');
    pending.acked('other', 5, 'peer');
    expect(pending.count).toBe(0);
  });

  it('a new key another replica\'s state superseded, or one whose record came from a peer, is not counted; ours beside it is', () => {
    const { pending, write } = setUp();
    write('a', 1, [[ME, 1]]);
    write('b', 2, [[ME, 2]]);
    // a: a join brought a peer's write that saw ours (only their version stays).
    write('a', 3, [[THEM, 1]]);
    expect(pending.count).toBe(1);
    expect(pending.seqOf('s', 'a')).toBeUndefined();
    // b: a join kept ours beside a peer's concurrent one: still counted, at the join's entry.
    write('b', 4, [[ME, 2], [THEM, 2]]);
    expect(pending.count).toBe(1);
    expect(pending.seqOf('s', 'b')).toBe(4);
    pending.acked('s', 3, 'peer');
    expect(pending.count, 'b: its entry is at 4').toBe(1);
    pending.acked('s', 4, 'peer');
    expect(pending.count).toBe(0);
  });
});

describe('replica.pending: new keys kept at a clean close', () => {
  const open: Replica[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
  });
  const replica = async (storage: StorageAdapter = memoryStorage()) => {
    const r = await openReplica({ storage });
    open.push(r);
    return r;
  };

  it('keeps the keys of the map and of the list of new keys alike: the next open counts them all without reading the log, and they clear', async () => {
    const storage = memoryStorage();
    const a = await replica(storage);
    const s = a.space('s');
    for (let i = 0; i < MIN_STORED; i++) await s.put(`m${i}`, i);
    // A rewrite: the space's list goes into the map; the keys after it are listed again.
    await s.put('m7', 'again');
    for (let i = 0; i < 50; i++) await s.put(`n${i}`, i);
    await a.space('t').put('solo', 1);
    expect(a.pending).toBe(MIN_STORED + 51);
    await a.close();
    const counted = countingReads(storage);
    const again = await replica(counted.storage);
    expect(again.pending).toBe(MIN_STORED + 51);
    expect(counted.read()).toBe(0);
    const b = await replica();
    const [ta, tb] = pairTransports();
    again.connect(ta);
    b.connect(tb);
    await again.whenSynced();
    expect(again.pending).toBe(0);
    expect((await b.space('s').get('n49'))?.value).toBe(49);
    expect((await b.space('s').get('m7'))?.value).toBe('again');
  });
});
