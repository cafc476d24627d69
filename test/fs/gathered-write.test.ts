// A commit group goes to its segment as one gathered write (IoFile.writev) of its frames' pieces: each frame's header
// and head, then the records' bytes as their batch holds them (frame.ts framePieces), never copied into one buffer of
// the group's size first. The bytes on disk are the ones a single buffer held before: a reopen reads every record
// back. A short gathered write is finished from where it stopped, even inside a piece.
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage, nodeIo, type Io } from '../../adapters/fs/index.js';
import { openReplica } from '../../lib/index.js';
import { writeAll } from '../../adapters/fs/io.js';
import { faultyIo, tempDir, wrapLogs, type Faults } from './helpers.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Seen {
  /** Pieces of each gathered write to a log segment. */
  gathered: number[];
  /** Bytes of each plain write to a log segment. */
  plain: number[];
  /** Gathered writes cut short on purpose. */
  short: number;
}

/** node:fs, watching the writes to log segments; `cut(n, total)` may answer a smaller byte count to write of a gathered write. */
function watchingIo(seen: Seen, cut?: (call: number, total: number) => number | undefined): Io {
  let calls = 0;
  return wrapLogs(nodeIo, (f) => ({
    write: (b, o, l, p) => {
      seen.plain.push(l);
      return f.write(b, o, l, p);
    },
    async writev(bs, p) {
      seen.gathered.push(bs.length);
      const total = bs.reduce((n, b) => n + b.length, 0);
      const n = cut?.(calls++, total);
      if (n === undefined || n >= total) return f.writev!(bs, p);
      seen.short++;
      return f.write(Buffer.concat(bs), 0, n, p);
    },
  }));
}

const value = (i: number) => (i % 997 === 5 ? { big: 'é漢'.repeat(40_000) } : { title: `item ${i} ${'漢'.repeat(i % 5)}`, n: i });

async function putAndReadBack(io: Io, n: number): Promise<void> {
  const { dir, cleanup } = await tempDir('gathered');
  cleanups.push(cleanup);
  const r = await openReplica({ storage: fileStorage(dir, { io, compactOnClose: false }) });
  const s = r.space('s');
  await Promise.all(Array.from({ length: n }, (_, i) => s.put(`k${i}`, value(i))));
  await r.close();
  const again = await openReplica({ storage: fileStorage(dir) });
  try {
    const t = again.space('s');
    for (let i = 0; i < n; i += 1 + (i % 13)) expect((await t.get(`k${i}`))?.value, `k${i}`).toEqual(value(i));
    expect((await t.get(`k${n - 1}`))?.value).toEqual(value(n - 1));
  } finally {
    await again.close();
  }
}

describe('the group write', () => {
  it("puts in flight reach the log as gathered writes of their frames' pieces (no group-sized copy), and read back after a reopen", async () => {
    const seen: Seen = { gathered: [], plain: [], short: 0 };
    await putAndReadBack(watchingIo(seen), 12_000);
    expect(seen.plain).toEqual([]);
    expect(seen.gathered.length).toBeGreaterThan(0);
    // header and head of each frame, then its records' chunks: a group of 12 000 puts is many pieces
    expect(Math.max(...seen.gathered)).toBeGreaterThan(10);
  });

  it('a gathered write cut short (inside a piece, and at a piece boundary) is finished from where it stopped', async () => {
    const seen: Seen = { gathered: [], plain: [], short: 0 };
    // every other gathered write stops a third of the way in (inside some piece), or at its first 24 bytes (the first
    // frame's header, whole)
    const cut = (call: number, total: number) => (call % 4 === 0 ? Math.floor(total / 3) + 1 : call % 4 === 2 ? 24 : undefined);
    await putAndReadBack(watchingIo(seen, cut), 8_000);
    expect(seen.short).toBeGreaterThan(1);
  });

  it('a group of more puts than the cache holds leaves its last ones cached, and the earlier ones (and what was cached before) to the disk', async () => {
    // file-storage.ts onDurable caches only the group's last `cacheRecords` puts (the others would be evicted by them)
    const { dir, cleanup } = await tempDir('gathered-cache');
    cleanups.push(cleanup);
    const faults: Faults = {};
    const r = await openReplica({ storage: fileStorage(dir, { io: faultyIo(faults), cacheRecords: 100, compactOnClose: false }) });
    cleanups.push(() => r.close().catch(() => {}));
    const s = r.space('s');
    await s.put('before', 0);
    await Promise.all(Array.from({ length: 500 }, (_, i) => s.put(`k${i}`, i)));
    const reads = () => faults.reads ?? 0;
    const at = reads();
    for (let i = 499; i >= 400; i--) expect((await s.get(`k${i}`))?.value).toBe(i);
    expect(reads()).toBe(at);
    expect((await s.get('k399'))?.value).toBe(399);
    expect(reads()).toBe(at + 1);
    expect((await s.get('before'))?.value).toBe(0);
    expect(reads()).toBe(at + 2);
  });

  it('a gathered write of more pieces than one system call takes (IOV_MAX, 1024 on Linux) writes them all, in order', async () => {
    const { dir, cleanup } = await tempDir('gathered-many');
    cleanups.push(cleanup);
    const pieces = Array.from({ length: 3000 }, (_, i) => Buffer.from(`<${i}:${'x'.repeat(i % 17)}>`));
    const f = await nodeIo.open(`${dir}/f`, 'wx+');
    try {
      await writeAll(f, [Buffer.from('head')], 0);
      await writeAll(f, pieces, 4);
      expect((await nodeIo.readFile(`${dir}/f`)).equals(Buffer.concat([Buffer.from('head'), ...pieces]))).toBe(true);
    } finally {
      await f.close();
    }
  });
});
