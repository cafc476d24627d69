// Puts in flight on file storage, many sharing one batch (one durable promise): each resolves with its own result —
// its space, key and seq — once its frame is fsynced, and a failed write rejects exactly the puts of the failed batches.
// (local-write.ts settles the puts waiting on one promise in the order their reactions were registered: a mismatch
// there would hand one put another's result.)
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { openReplica, type WriteResult } from '../../lib/index.js';
import { errnoError, faultyIo, isLog, tempDir, type Faults } from './helpers.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function open(faults: Faults) {
  const { dir, cleanup } = await tempDir('in-flight');
  cleanups.push(cleanup);
  const r = await openReplica({ storage: fileStorage(dir, { io: faultyIo(faults) }) });
  cleanups.push(() => r.close().catch(() => {}));
  return r;
}

describe('puts in flight on file storage', () => {
  it('thousands in flight over two spaces and several batches each resolve with their own space, key and seq', async () => {
    let release!: () => void;
    let gate: Promise<void> | undefined;
    const r = await open({ beforeSync: (p) => (isLog(p) && gate ? gate : Promise.resolve()) });
    const spaces = [r.space('a'), r.space('b')];
    const top = (await spaces[0]!.put('first', 0)).seq;
    gate = new Promise((res) => (release = res));
    const puts: Array<Promise<WriteResult>> = [];
    const want: Array<[string, string, number]> = [];
    const issue = (n: number) => {
      for (let i = 0; i < n; i++) {
        const space = spaces[(i * 7) % 3 === 0 ? 1 : 0]!;
        const key = `k${puts.length % 4000}`; // keys written again: some records chained to a pending one
        puts.push(space.put(key, { n: puts.length }));
        want.push([space.name, key, top + puts.length]);
      }
    };
    issue(9000); // past one batch's 8192 changes
    await new Promise((res) => setTimeout(res, 20)); // the first group's fsync is held: more batches queue behind it
    issue(3000);
    gate = undefined;
    release();
    const results = await Promise.all(puts);
    expect(results.map((w) => [w.space, w.key, w.seq])).toEqual(want);
    for (const [i, w] of results.entries()) if (i % 997 === 0) expect((await r.space(w.space).get(w.key))?.context).toBeDefined();
  });

  it('a failed write rejects the puts of its batches, and puts after it resolve with their own results', async () => {
    const faults: Faults = {};
    const r = await open(faults);
    const s = r.space('s');
    await s.put('a', 1);
    faults.write = (path) => (isLog(path) ? errnoError('ENOSPC', 'write') : undefined);
    const failing = Array.from({ length: 300 }, (_, i) => s.put(`f${i}`, i));
    for (const out of await Promise.allSettled(failing)) {
      expect(out.status).toBe('rejected');
      expect((out as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_FULL' });
    }
    delete faults.write;
    const ok = await Promise.all(Array.from({ length: 300 }, (_, i) => s.put(`g${i}`, i)));
    expect(ok.map((w) => w.key)).toEqual(Array.from({ length: 300 }, (_, i) => `g${i}`));
    expect(ok.map((w) => w.seq)).toEqual(Array.from({ length: 300 }, (_, i) => 2 + i));
    expect(await s.get('f0')).toBeUndefined();
  });
});
