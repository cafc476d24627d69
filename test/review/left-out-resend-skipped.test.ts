/**
 * flk45, a second window of settle (left-out.ts settleRun): a left-out key whose rewrite failed is back at 'old', at or
 * below the run's top, and goes back to the peer — once a run (`resent`). A further write of it ('x') applied between
 * settle's read of the key and the read that sends its state leaves the state unsent (not durable: left to the stream),
 * yet the key counted as gone back. When 'x' fails too (the disk still full), k is at 'old' again: settle, waiting for
 * 'x' in its next round, found k gone back already, sent nothing, and the peer's acknowledgement of a later write counted
 * 'old' synced while the peer held nothing of k. (Forced: 'x' is put, and applied, inside settle's read of k.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { failingLog } from './failing-log.js';
import { until } from '../sync/support.js';
import { expectHeldOnceSynced, heldRun, lostScene } from './left-out-scene.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

type Get = (space: string, key: string) => Promise<unknown>;

describe('a left-out key going back, written again between the read and the send', () => {
  it('reaches the peer (its durable record) before the writer counts it synced', async () => {
    const log = failingLog();
    const { writer, peer, synced } = await lostScene('left-out-resend-skipped', log.faults, undo);
    const s = writer.space('s');
    const put = (key: string, value: string) => s.put(key, value).then(() => 'durable', () => 'failed');
    log.hold();
    const z = put('z', 'zed');
    await until(() => log.state.gated > 0, "z's fsync waits");
    const rewrite = put('k', 'new');
    const wait = await heldRun(writer, peer, undo);
    log.failAndRelease();
    expect(await rewrite).toBe('failed');
    await z;
    expect((await s.get('k'))?.value, 'rolled back').toBe('old');
    // The next log write fails again: z2's is held, 'x' queues behind it.
    log.hold();
    const gated = log.state.gated;
    const z2 = put('z2', 'zed');
    await until(() => log.state.gated > gated, "z2's fsync waits");
    // settle's next read of k (after the wait) answers 'old', and 'x' is applied before the answer arrives.
    const storage = (writer.core as unknown as { storage: { get: Get } }).storage;
    const get = storage.get.bind(storage);
    let again: Promise<string> | undefined;
    storage.get = async (space, key) => {
      const rec = await get(space, key);
      if (again || space !== 's' || key !== 'k') return rec;
      again = put('k', 'x');
      await until(async () => (await s.get('k'))?.value === 'x', "k's rewrite 'x' applied");
      return rec;
    };
    wait.release();
    await until(() => again !== undefined, 'settle read k');
    await until(() => wait.runs() > 0 || wait.state.later > 0, "the run ended or waits for 'x'");
    log.failAndRelease();
    expect(await again).toBe('failed');
    await z2;
    await expectHeldOnceSynced(writer, peer, synced);
  });
});
