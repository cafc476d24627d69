// A tagged restored writer at protocol 11 re-identifies but re-issues nothing of its tagged writes (their epoch already
// tells them apart from the lost branch's dots): they stay under the former id (ReplicaCore.formerIds), which
// `replica.pending` counts. `w.synced` of such a write, acknowledged up to its own seq after its key's record moved up
// the log (a peer's concurrent state joined), must wait for where the record is now, as it does for a write under the
// current id: else an earlier peer that could not take the tagged state (its claim went as nothing, a join released
// the withhold) confirms a run past the write's seq and the write is reported synced while no other node holds it
// (CI's restore-replica 80 and withheld 1733910019 at 11, test/sim/replay.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { metAt11, WITH_11 } from '../support/epoch-peer.js';

const PEER = 'p'.repeat(16);
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});
/** Lets a settle's storage read finish (no timing asserted: only what resolved by then). */
const flush = () => new Promise((r) => setTimeout(r, 10));

describe('w.synced of a write under a former id', () => {
  // A tagged replica at 11 re-identified after a restore; and at default, an id a relay refused (renewIdentity re-issues
  // nothing either: the old id's dots are ours and name what they named).
  it.each(['a tagged restored writer re-identified at 11', 'a renewed id at default'] as const)('%s: waits for where its key’s record is now, not its own seq', async (how) => {
    const tagged = how.startsWith('a tagged');
    const a = await openReplica(tagged ? { storage: await metAt11(memoryStorage()), speaks: WITH_11 } : { storage: memoryStorage() });
    open.push(a);
    const w = await a.space('s').put('k', 'ours');
    const oldId = a.replicaId;
    if (tagged) await a.core.reidentify('a-peer');
    else await a.core.renewIdentity();
    expect(a.replicaId).not.toBe(oldId);
    expect(a.core.formerIds.has(oldId)).toBe(true);
    // Not re-issued: the write stays under the former id (tagged or not), and counts pending.
    const before = (await a.core.storage.get('s', 'k'))!.vs;
    expect(before).toEqual([expect.objectContaining({ r: oldId })]);
    expect(before[0]!.ep !== undefined).toBe(tagged);
    expect(a.pending).toBe(1);

    // A peer's concurrent write joins: the key's record, our version still in it, moves up the log.
    const theirs = { r: 'Zpeer000000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    await a.core.join('s', [['k', { vs: [theirs], cc: { [theirs.r]: 1 } }]]);
    const moved = (await a.core.storage.get('s', 'k'))!;
    expect(moved.seq).toBeGreaterThan(w.seq);
    expect(moved.vs.map((v) => v.r).sort()).toEqual([oldId, theirs.r].sort());

    let synced = false;
    void w.synced.then(() => (synced = true));
    a.core.acks.ack('s', w.seq, PEER); // held up to the write's own seq only: not the record that holds it now
    await flush();
    expect(synced, 'synced on an acknowledgement below the key’s record').toBe(false);
    expect(a.pending).toBe(1);
    a.core.acks.ack('s', moved.seq, PEER);
    await flush();
    expect(synced).toBe(true);
  });
});
