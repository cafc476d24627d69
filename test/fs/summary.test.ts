// FileStorage.summary: what a hello says of a space (key count and last seq up to the durable seq), without the
// index's hashes. It must say what the index says, before and after compaction (records then live in the snapshot).
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage, type FileStorage } from '../../adapters/fs/index.js';
import { rec } from '../storage/contract.js';
import { tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fromIndex(s: FileStorage, space: string, upTo: number) {
  let keys = 0;
  let lastSeq = 0;
  for (const e of await s.index(space)) {
    if (e.seq > upTo) continue;
    keys++;
    lastSeq = Math.max(lastSeq, e.seq);
  }
  return { keys, lastSeq };
}

describe('file storage summary', () => {
  it('counts keys and the last seq up to a seq as the index does, across rewrites, removals and compaction', async () => {
    const { dir, cleanup } = await tempDir('summary');
    cleanups.push(cleanup);
    const s = fileStorage(dir, { compactMinBytes: 1 });
    await s.open();
    let seq = 0;
    for (let i = 0; i < 60; i++) {
      seq++;
      await s.transact((tx) => {
        tx.put('a', `k${i % 25}`, rec(seq));
        if (i % 7 === 6) tx.remove('a', `k${(i + 3) % 25}`);
        tx.setMeta('seq', seq);
      });
    }
    for (const upTo of [0, 1, 17, 40, seq, seq + 10]) expect(await s.summary('a', upTo), `up to ${upTo}`).toEqual(await fromIndex(s, 'a', upTo));
    await s.compactNow();
    for (const upTo of [0, 17, seq]) expect(await s.summary('a', upTo), `compacted, up to ${upTo}`).toEqual(await fromIndex(s, 'a', upTo));
    expect(await s.summary('none', seq)).toEqual({ keys: 0, lastSeq: 0 });
    await s.close();
  });
});
