// The memory storage's change log (memory-storage.ts logSeq/logKey): readLog answers each key at its latest seq, in
// seq order, across compactions, as the log grows past thousands of entries.
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../../lib/memory-storage.js';
import type { KeyRecord } from '../../lib/storage.js';
import { prng, testSeed } from '../support/replicas.js';

const T = 1_700_000_000_000;
const rec = (seq: number, n: number): KeyRecord => ({ vs: [{ r: 'w', n, t: T + n, c: 0, v: `${n}` }], cc: { w: n }, seq, h: seq.toString(16).padStart(16, '0') });

describe("the memory storage's change log", () => {
  it('readLog answers each key at its latest seq, in seq order, across chunks and compactions (seeded)', async () => {
    const seed = testSeed();
    console.log(`memory-log: seed ${seed} (SEED=${seed} replays)`);
    const rnd = prng(seed);
    const s = memoryStorage();
    /** What the log must answer: each key's latest seq. */
    const latest = new Map<string, number>();
    let seq = 0;
    for (let batch = 0; batch < 60; batch++) {
      // Keys from a pool that grows (the log passes several chunks of 4096) and is written again (compactions).
      const pool = 200 + batch * 200;
      await s.transact((tx) => {
        for (let i = 0; i < 300; i++) {
          const key = 'k' + Math.floor(rnd() * pool);
          seq += 1 + Math.floor(rnd() * 3);
          tx.put('sp', key, rec(seq, seq));
          latest.set(key, seq);
        }
      });
      const ordered = [...latest].sort((a, b) => a[1] - b[1]);
      for (let q = 0; q < 4; q++) {
        const after = Math.floor(rnd() * (seq + 2)) - 1;
        const limit = 1 + Math.floor(rnd() * 5000);
        const want = ordered.filter(([, x]) => x > after).slice(0, limit);
        const got = await s.readLog('sp', after, limit);
        expect(got.map(([k, r]) => [k, r.seq]), `seed ${seed} batch ${batch}: after ${after}, limit ${limit}`).toEqual(want);
      }
    }
  });
});
