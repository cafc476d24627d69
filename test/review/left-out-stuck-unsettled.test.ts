/**
 * rev43 (review of 55be569, repair.ts `settle`): settle loops while its own sendStates leaves keys out again — and
 * sendStates always reads the index (`index(run)`), which notes every key the tree still leaves out (hub.ts `unsettled`)
 * whether or not it is one of the states sent. A key that stays unsettled with its record durable at or below the run's
 * top (hub.ts settleAbandoned's read failed after its rolled-back transaction: "a failed read leaves the key out, as
 * before") makes every pass wait for nothing (its seq is durable), send its state again, and note it again: the turn
 * never goes, the run never ends, the link never syncs, and the key's state goes to the peer over and over. Before
 * 55be569 settle ran once per turn: such a key was left out of the run (unconfirmed), the run went on.
 * The transient read failure is injected in hub.ts settleAbandoned's read only (picked by its caller's name). On
 * 55be569 the loop never yields to a timer (the worker hung until killed): the injected storage read fails after 1000
 * reads of k to break it, failing the session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { failingLog } from './failing-log.js';
import { durableWaits, until } from '../sync/support.js';
import { connect, lostScene } from './left-out-scene.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u().catch(() => {});
});

describe('a key left unsettled for good (its settling read failed), at or below the top', () => {
  it('the run still ends, sending its state a bounded number of times', async () => {
    const log = failingLog();
    const { writer, peer } = await lostScene('left-out-stuck-unsettled', log.faults, undo);
    // hub.ts settleAbandoned's read of k fails (once: a transient read error).
    const storage = (writer as unknown as { core: { storage: { get: (s: string, k: string) => Promise<unknown> } } }).core.storage;
    const get = storage.get.bind(storage);
    let failedRead = false;
    let reads = 0;
    storage.get = (s, k) => {
      if (s === 's' && k === 'k' && ++reads > 1000) return Promise.reject(new Error('rev43: k read 1000 times')); // breaks a loop that never yields (else the worker hangs)
      if (!failedRead && s === 's' && k === 'k' && new Error().stack?.includes('settleAbandoned')) {
        failedRead = true;
        return Promise.reject(new Error('EIO: injected, read'));
      }
      return get(s, k);
    };
    log.hold();
    const before = writer.space('s').put('z', 'zed').then(() => 'durable', () => 'failed');
    await until(() => log.state.gated > 0, "z's fsync waits");
    const rewrite = writer.space('s').put('k', 'new').then(() => 'durable', () => 'failed');
    const waits = durableWaits(writer);
    let runs = 0;
    writer.on('antiEntropy', () => runs++);
    connect(writer, peer, undo);
    await until(() => waits(), 'the run waits for a left-out record to be durable');
    log.failAndRelease();
    expect(await rewrite).toBe('failed');
    await before;
    await until(() => failedRead, "settleAbandoned's read failed");
    const at = reads;
    await until(() => runs > 0 || reads - at > 200, 'the run ended, or k read 200 times more', 10_000);
    expect(reads - at, "k's record read again and again (its state sent again each pass) while the run does not end").toBeLessThan(200);
    expect(runs, 'the run ended').toBeGreaterThan(0);
  });
});
