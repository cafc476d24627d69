/**
 * AheadNotes (lib/ahead-notes.ts), the pending-writes map's notes of records applied and not heard of yet, against the
 * maps it stands for (pending.ts before: space → key → newest seq, every note set in them): on random schedules of
 * notes (mostly rising, some below the last: a rolled-back seq minted again, a join applied late), changes heard (mostly
 * the oldest note's, in order; some of other records, of keys never noted, or before they are durable), questions,
 * drops and notes taken back, every answer matches. The seed is printed; SEED=<n> replays it.
 *
 * And the point of it: puts in flight on file storage, and their changes heard in order, set no key in a map.
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { AheadNotes } from '../../lib/ahead-notes.js';
import { openReplica } from '../../lib/index.js';

/** The model: pending.ts's maps as they were (applied, abandoned, aheadOf's drop, changed's drop). */
class MapModel {
  private readonly maps = new Map<string, Map<string, number>>();
  get any(): boolean {
    for (const m of this.maps.values()) if (m.size > 0) return true;
    return false;
  }
  note(space: string, key: string, seq: number): void {
    let keys = this.maps.get(space);
    if (!keys) this.maps.set(space, (keys = new Map()));
    if ((keys.get(key) ?? 0) < seq) keys.set(key, seq);
  }
  get(space: string, key: string): number | undefined {
    return this.maps.get(space)?.get(key);
  }
  delete(space: string, key: string): void {
    this.maps.get(space)?.delete(key);
  }
  heard(space: string, key: string, seq: number, durable: number): void {
    const a = this.get(space, key);
    if (a !== undefined && a <= seq && a <= durable) this.delete(space, key);
  }
  dropIf(space: string, key: string, seq: number): void {
    if (this.get(space, key) === seq) this.delete(space, key);
  }
}

type Op =
  | { t: 'note'; space: number; key: number; back: number }
  | { t: 'hear'; pick: number; late: boolean; early: boolean }
  | { t: 'hearStray'; space: number; key: number; seq: number }
  | { t: 'ask'; space: number; key: number }
  | { t: 'drop'; space: number; key: number }
  | { t: 'takeBack'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('note' as const), space: fc.nat(2), key: fc.nat(6), back: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(6) }) }) },
  // late: a random noted record's change rather than the oldest's; early: heard before it is durable
  { weight: 8, arbitrary: fc.record({ t: fc.constant('hear' as const), pick: fc.nat(1000), late: fc.boolean(), early: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hearStray' as const), space: fc.nat(2), key: fc.nat(6), seq: fc.nat(80) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('ask' as const), space: fc.nat(2), key: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), space: fc.nat(2), key: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('takeBack' as const), pick: fc.nat(1000) }) },
);

describe('AheadNotes', () => {
  it('answers as the maps it stands for do, on random schedules', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
    try {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
          const notes = new AheadNotes();
          const model = new MapModel();
          // records noted and not heard yet, in the order noted (what a run tells, mostly oldest first)
          const noted: Array<[string, string, number]> = [];
          let top = 0;
          let durable = 0;
          const check = (space: string, key: string) => expect(notes.get(space, key)).toBe(model.get(space, key));
          for (const o of ops) {
            if (o.t === 'note') {
              const seq = Math.max(1, top + 1 - o.back);
              top = Math.max(top, seq);
              const r: [string, string, number] = [`s${o.space}`, `k${o.key}`, seq];
              noted.push(r);
              notes.note(...r);
              model.note(...r);
            } else if (o.t === 'hear') {
              if (noted.length === 0) continue;
              const at = o.late ? o.pick % noted.length : 0;
              const [space, key, seq] = noted.splice(at, 1)[0]!;
              if (!o.early) durable = Math.max(durable, seq);
              notes.heard(space, key, seq, durable);
              model.heard(space, key, seq, durable);
            } else if (o.t === 'hearStray') {
              notes.heard(`s${o.space}`, `k${o.key}`, o.seq, durable);
              model.heard(`s${o.space}`, `k${o.key}`, o.seq, durable);
            } else if (o.t === 'ask') {
              check(`s${o.space}`, `k${o.key}`);
            } else if (o.t === 'drop') {
              notes.delete(`s${o.space}`, `k${o.key}`);
              model.delete(`s${o.space}`, `k${o.key}`);
            } else {
              if (noted.length === 0) continue;
              const [space, key, seq] = noted.splice(o.pick % noted.length, 1)[0]!;
              notes.dropIf(space, key, seq);
              model.dropIf(space, key, seq);
            }
            expect(notes.any).toBe(model.any);
          }
          for (let s = 0; s < 3; s++) for (let k = 0; k < 7; k++) check(`s${s}`, `k${k}`);
        }),
        { seed, numRuns: 400 },
      );
    } catch (e) {
      console.log(`AheadNotes property failed: SEED=${seed} replays it`);
      throw e;
    }
  });
});

describe('puts in flight on file storage', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('note each record applied without setting its key in a map, and drop the notes as their changes are heard', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-ahead-'));
    dirs.push(dir);
    const replica = await openReplica({ storage: fileStorage(dir) });
    const space = replica.space('s');
    await space.put('warm', 0);
    const n = 2000;
    const keys = new Set(Array.from({ length: n }, (_, i) => `k${i}`));
    // A map set of one of these keys to a number: a seq (the storage's index sets entries, the tracker's fresh keys are
    // a list). Before: the tracker's note of each record applied, kept until its change was heard.
    const sets = vi.spyOn(Map.prototype, 'set');
    const puts = [...keys].map((k, i) => space.put(k, i));
    await Promise.all(puts);
    const seqSets = sets.mock.calls.filter(([k, v]) => typeof k === 'string' && keys.has(k) && typeof v === 'number');
    sets.mockRestore();
    expect(seqSets).toHaveLength(0);
    expect(replica.pending).toBe(n + 1);
    // every note was dropped as its change was heard: nothing is ahead once all are durable
    expect((replica as unknown as { pendingWrites: { ahead: AheadNotes } }).pendingWrites.ahead.any).toBe(false);
    await replica.close();
  });
});
