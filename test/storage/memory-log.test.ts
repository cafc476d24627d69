// The memory storage's change log keeps its seqs in Float64Array chunks (memory-log.ts), outside the collected heap:
// readLog answers as the log of a plain array did across chunks and compactions, and the seqs take ArrayBuffer memory.
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../../lib/memory-storage.js';
import type { KeyRecord } from '../../lib/storage.js';
import { prng, testSeed } from '../support/replicas.js';

const T = 1_700_000_000_000;
const rec = (seq: number, n: number): KeyRecord => ({ vs: [{ r: 'w', n, t: T + n, c: 0, v: `${n}` }], cc: { w: n }, seq, h: seq.toString(16).padStart(16, '0') });

describe('the memory storage keeps its log seqs in columns (memory-log.ts)', () => {
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

  it('the log of N puts takes ArrayBuffer memory for its seqs (none of it on the collected heap)', async () => {
    const s = memoryStorage();
    const N = 40_000;
    const before = process.memoryUsage().arrayBuffers;
    for (let b = 0; b < N; b += 1000) {
      await s.transact((tx) => {
        for (let i = b; i < b + 1000; i++) tx.put('sp', 'key' + i, rec(i + 1, i + 1));
      });
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    // The records' columns (memory-records.ts: 48 bytes a slot, in chunks of 2 048 slots) are 20 chunks here, 1.97 MB;
    // the seqs' 8 bytes each at least 0.32 MB more (as a number array they took none).
    expect(grown).toBeGreaterThan(20 * 2048 * 48 + 8 * N * 0.9);
    expect((await s.readLog('sp', N - 1, 10)).map(([k]) => k)).toEqual(['key' + (N - 1)]);
  });
});
