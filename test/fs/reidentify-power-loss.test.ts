/**
 * A re-identification (lib/reidentify.ts) on the file storage, the power failing at every file operation of it in turn
 * (test/fs/power-loss-io.ts: bytes durable as of their datasync, torn tails, directory entries as of their fsync). Its
 * first transaction stores the new identity with the writes re-issued from the log and from the notes of dropped own
 * writes, and the note of what is left; the second finishes it. Whatever the crash keeps, the reopened replica holds
 * either none of it (the old id; the write a join dropped still noted, for the re-identification a peer's next word
 * starts) or all of it once the open finished what was left: every write since the restore point under the new id —
 * never the new id with a write lost or left under the old one.
 * Seeded (the torn tails and entry subsets a crash keeps): REID_POWER_SEED=<n> replays; REID_POWER_RUNS sets how many;
 * REID_POWER_SHOW=1 prints where the power failed (4 file operations on this layout: each commit's write and datasync).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { DROPPED_META, MAX_DROPPED } from '../../lib/dropped-own.js';
import { openReplica } from '../../lib/index.js';
import { REISSUE_META } from '../../lib/reidentify.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { allReissued, closeOpened, codes, interrupted, keepToClose, versionsOf } from '../support/reidentify-interrupted.js';
import { prng } from './helpers.js';
import { PowerLossFs } from './power-loss-io.js';

const RUNS = Number(process.env.REID_POWER_RUNS ?? (process.env.SOAK ? 40 : 3));
const FIRST = process.env.REID_POWER_SEED ? Number(process.env.REID_POWER_SEED) : Date.now() % 1_000_000_000;

afterEach(closeOpened);

/** The power fails at the `at`th file operation of the re-identification; 'done' when it finished first. */
async function crashAt(seed: number, at: number): Promise<'crashed' | 'done'> {
  const rng = prng(seed * 1000 + at);
  const disk = new PowerLossFs(`${seed}-${at}`);
  const storage = () => fileStorage(`${disk.root()}/data`, { io: disk.io() });
  const { r, oldId, k2Seq } = await interrupted(storage(), () => disk.arm(at, rng));
  const blew = disk.crashes > 0;
  if (process.env.REID_POWER_SHOW) console.log(`seed ${seed}, power failing at operation ${at}: ${blew ? "it did" : "it finished first"}`);
  if (!blew) disk.crash(rng); // it finished: the power fails after, which must keep it all
  disk.disarm();
  void r.close().catch(() => {});
  const again = keepToClose(await openReplica({ storage: storage(), speaks: SPEAKS_10 }));
  const errors: unknown[] = [];
  again.on('error', (e) => void errors.push(e));
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (again.replicaId === oldId) {
    expect(await versionsOf(again, 'k1'), 'nothing of it kept').toEqual([[oldId, 'since the restore']]);
    expect(await versionsOf(again, 'k2')).toEqual([['peer', 'theirs']]);
    const note = await again.core.storage.getMeta<{ r: string; n: number }>(DROPPED_META + (k2Seq % MAX_DROPPED));
    expect(note && [note.r, note.n], "k2's write still noted").toEqual([oldId, k2Seq]);
    expect(errors).toEqual([]);
  } else {
    await allReissued(again, oldId);
    expect(await again.core.storage.getMeta(REISSUE_META), 'nothing left once opened').toBeFalsy();
    expect(codes(errors).filter((c) => c !== 'RESTORED'), 'RESTORED at most').toEqual([]);
    expect(errors.length).toBeLessThanOrEqual(1);
  }
  await again.close();
  return blew ? 'crashed' : 'done';
}

describe('a re-identification on file storage, the power failing at each of its file operations', () => {
  it(`reopens with all of it or none of it (${RUNS} seeded runs)`, async () => {
    for (let i = 0; i < RUNS; i++) {
      const seed = FIRST + i;
      let at = 1;
      try {
        for (; at < 400; at++) if ((await crashAt(seed, at)) === 'done') break;
        expect(at, 'the re-identification finished within the operations tried').toBeLessThan(400);
      } catch (e) {
        throw new Error(`failed: replay with REID_POWER_SEED=${seed} REID_POWER_RUNS=1 (power failing at operation ${at})\n${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
  }, 120_000);
});
