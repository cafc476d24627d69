/**
 * rev43 (review of 55be569, repair.ts `settle`): one turn of an establishing run leaves out more keys than LeftOut names
 * (MAX_LEFT_OUT) — a batch of writes waiting for their fsync when the tree is built, all of them unsettled (hub.ts) —
 * and the batch's transactions fail (ENOSPC: the disk full, every log write failing a while). Each key is back at its
 * durable record, at or below the run's top. settle sends back only the keys LeftOut named (its `keys` stop at
 * MAX_LEFT_OUT); the others went neither way in the run, the stream starts past them, and the stream's acknowledgement
 * past the top counts their writes synced while the peer holds an older state of them, or nothing.
 * On 55be569: the 41 keys past the cap (k and a04096..a04135) stale at pending 0. With N=10 (under the cap) it passes on
 * 55be569 and fails on 9f8df6b (11 of 11): the scenario is rev42's, scaled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errnoError, isLog, type Faults } from '../fs/helpers.js';
import { MAX_LEFT_OUT } from '../../lib/sync/left-out.js';
import { durableWaits, until } from '../sync/support.js';
import { connect, has, lostScene, meet } from './left-out-scene.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

/** Log faults: fsyncs held while `hold` is on; every log write fails while `full` is on (a full disk). */
function fullDisk() {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const state = { full: false, gated: 0, failed: 0 };
  const faults: Faults = {
    beforeSync: (p) => (isLog(p) && gate ? (state.gated++, gate) : Promise.resolve()),
    write: (p) => (isLog(p) && state.full ? (state.failed++, errnoError('ENOSPC', 'write')) : undefined),
  };
  return {
    faults,
    state,
    hold: () => void (gate = new Promise((r) => (open = r))),
    fillAndRelease: () => ((state.full = true), (gate = undefined), open?.()),
    free: () => void (state.full = false),
  };
}

describe('more keys left out than LeftOut names, their newer records rolled back', () => {
  it("every key, past the cap too, reaches the peer (its durable record) before the writer counts it synced", async () => {
    const n = Number(process.env.N ?? MAX_LEFT_OUT + 40);
    const fillers = Array.from({ length: n }, (_, i) => `a${String(i).padStart(5, '0')}`);
    const disk = fullDisk();
    // The batch's keys are older than k (the storage's index lists them first); the peer gets them through the third
    // (it holds no cursor into the writer's log, so the run that follows is an establishing one).
    const { writer, peer, synced } = await lostScene('left-out-many-failed', disk.faults, undo, async (writer, third, p) => {
      await Promise.all(fillers.map((f) => writer.space('s').put(f, 'v1')));
      await meet(writer, third, has(third, fillers[n - 1]!), 'the third got the batch', 60_000);
      await meet(p, third, has(p, fillers[n - 1]!), 'the peer got the batch from the third, durably', 60_000);
    });
    await Promise.all(fillers.map((f) => writer.space('s').put(f, 'v2'))); // durable, while the peer is away
    disk.hold();
    const before = writer.space('s').put('z', 'zed').then(() => 'durable', () => 'failed');
    await until(() => disk.state.gated > 0, "z's fsync waits");
    // A batch of writes (an import, a sync of many keys) waiting behind z's fsync, k's rewrite among them, last.
    const rewrites = Promise.all([...fillers.map((f) => writer.space('s').put(f, 'v3')), writer.space('s').put('k', 'new')].map((w) => w.then(() => 'durable', () => 'failed')));
    await until(async () => (await writer.space('s').get('k'))?.value === 'new', 'the batch applied (not durable)', 60_000);
    // The space's tree is dropped (as an idle index is, hub.ts evict): the run builds it again with every key of the batch
    // unsettled (hub.ts), in the storage index's order — the batch's keys, then k: one turn leaves them all out at once.
    const hub = (writer as unknown as { hub: { indexes: Map<string, unknown>; built: Map<string, unknown> } }).hub;
    hub.indexes.delete('s');
    hub.built.delete('s');
    const waits = durableWaits(writer);
    connect(writer, peer, undo);
    await until(() => waits(), 'the run waits for a left-out record to be durable', 60_000);
    disk.fillAndRelease(); // the disk is full: every log write fails
    expect(new Set(await rewrites), 'every write of the batch failed').toEqual(new Set(['failed']));
    disk.free();
    await before;
    expect((await writer.space('s').get('k'))?.value, 'rolled back').toBe('old');
    await writer.space('s').put('w', 'later'); // the next commit: the stream past the top, acknowledged
    await until(async () => (await has(peer, 'w')()) && writer.status === 'synced' && peer.status === 'synced', 'synced after the later write', 60_000);
    await until(() => synced() && writer.pending === 0, "the writer counts k's write synced", 60_000);
    const stale: string[] = [];
    if ((await peer.space('s').get('k'))?.value !== 'old') stale.push('k');
    for (const f of fillers) if ((await peer.space('s').get(f))?.value !== 'v2') stale.push(f);
    expect(stale, `keys whose durable record the writer counts synced (pending 0) while the peer holds an older one or nothing (${stale.length} of ${n + 1})`).toEqual([]);
  }, 120_000);
});
