// Recovery from damaged files written on purpose: a torn tail is cut off, damage to data that had been
// acknowledged (valid frames of later commit groups after it, or a damaged snapshot) is a clear 'CORRUPT'.
import { appendFile, open, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage, type FileStorageOptions } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';
import { faultyIo, segmentFiles, snapshotFiles, tempDir, type Faults } from './helpers.js';

beforeAll(loadHasher);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function dirWith(n: number, options: FileStorageOptions = {}): Promise<string> {
  const { dir, cleanup } = await tempDir('recovery');
  cleanups.push(cleanup);
  const s = fileStorage(dir, options);
  await s.open();
  // one transaction at a time: each is its own commit group
  for (let i = 1; i <= n; i++) await s.transact((tx) => tx.put('sp', `k${i}`, rec(i, `value-${i}`)));
  await s.close();
  return dir;
}

async function flipByteAt(path: string, offset: number): Promise<void> {
  const f = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await f.read(b, 0, 1, offset);
  b[0] = b[0]! ^ 0x5a;
  await f.write(b, 0, 1, offset);
  await f.close();
}

async function keysOf(dir: string): Promise<string[]> {
  const s = fileStorage(dir);
  await s.open();
  try {
    return (await s.index('sp')).map((e) => e.key).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  } finally {
    await s.close();
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `k${a + i}`);

describe('recovery', () => {
  it('cuts a torn tail at the last whole frame, and keeps working after', async () => {
    const dir = await dirWith(10);
    const [seg] = await segmentFiles(dir);
    const size = (await stat(seg!)).size;
    await truncate(seg!, size - 7); // the last frame loses its end
    expect(await keysOf(dir)).toEqual(range(1, 9));
    const s = fileStorage(dir);
    await s.open();
    await s.transact((tx) => tx.put('sp', 'k10', rec(10, 'again')));
    await s.close();
    expect(await keysOf(dir)).toEqual(range(1, 10));
  });

  it('drops a commit group cut short whole (it was never acknowledged), and tears after that are still torn tails', async () => {
    const dir = await dirWith(3);
    const s = fileStorage(dir);
    await s.open();
    // issued together: one commit group of five frames
    await Promise.all([4, 5, 6, 7, 8].map((i) => s.transact((tx) => tx.put('sp', `k${i}`, rec(i)))));
    await s.close();
    const [seg] = await segmentFiles(dir);
    await truncate(seg!, (await stat(seg!)).size - 3);
    expect(await keysOf(dir)).toEqual(range(1, 3));
    const t = fileStorage(dir);
    await t.open();
    await Promise.all([9, 10].map((i) => t.transact((tx) => tx.put('sp', `k${i}`, rec(i)))));
    await t.close();
    await truncate(seg!, (await stat(seg!)).size - 3);
    expect(await keysOf(dir)).toEqual(range(1, 3));
  });

  it('drops garbage and zeros appended after the last frame (a write the crash cut short)', async () => {
    const dir = await dirWith(5);
    const [seg] = await segmentFiles(dir);
    const size = (await stat(seg!)).size;
    await appendFile(seg!, Buffer.alloc(4096)); // file grown, data never written
    await appendFile(seg!, Buffer.from('half a frame'));
    expect(await keysOf(dir)).toEqual(range(1, 5));
    expect((await stat(seg!)).size).toBe(size);
  });

  it('treats a flipped byte in the last frame like a torn write (nothing after it to prove it durable)', async () => {
    const dir = await dirWith(6);
    const [seg] = await segmentFiles(dir);
    const bytes = await readFile(seg!);
    await flipByteAt(seg!, bytes.lastIndexOf('value-6'));
    expect(await keysOf(dir)).toEqual(range(1, 5));
  });

  it("refuses with 'CORRUPT' when a frame in the middle is damaged and later frames are valid", async () => {
    const dir = await dirWith(8);
    const [seg] = await segmentFiles(dir);
    const bytes = await readFile(seg!);
    const at = bytes.indexOf('value-4');
    await flipByteAt(seg!, at);
    const s = fileStorage(dir);
    const err = await s.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'ConcordError', code: 'CORRUPT' });
    expect(String((err as Error).message)).toMatch(/damaged at offset \d+/);
    expect((await readFile(seg!)).length).toBe(bytes.length); // nothing truncated
    // and the lock was released: a later open fails the same way, not with LOCKED
    await expect(fileStorage(dir).open()).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it("refuses with 'CORRUPT' when a frame header's length is damaged mid-log", async () => {
    const dir = await dirWith(8);
    const [seg] = await segmentFiles(dir);
    const bytes = await readFile(seg!);
    // frames start with C1 FF 43 44; damage the length of the third one
    let at = -1;
    for (let i = 0; i < 3; i++) at = bytes.indexOf(Buffer.from([0xc1, 0xff, 0x43, 0x44]), at + 1);
    await flipByteAt(seg!, at + 5);
    await expect(fileStorage(dir).open()).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it("reports a damaged snapshot head as 'CORRUPT'", async () => {
    const dir = await dirWith(20, { compactMinBytes: 1, compactRatio: 0 });
    const snaps = await snapshotFiles(dir);
    expect(snaps.length).toBe(1);
    // The head is at the end (snapshot.ts): the 16-byte trailer, before it the head's columns.
    const size = (await stat(snaps[0]!)).size;
    await flipByteAt(snaps[0]!, size - 16 - 5);
    await expect(fileStorage(dir).open()).rejects.toMatchObject({ code: 'CORRUPT' });
    await flipByteAt(snaps[0]!, size - 16 - 5); // mended: it opens again
    expect(await keysOf(dir)).toEqual(range(1, 20));
    await flipByteAt(snaps[0]!, size - 16); // the head's length, in the trailer
    await expect(fileStorage(dir).open()).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it("opens a snapshot without reading values, and reports a damaged value as 'CORRUPT' when it is read", async () => {
    const dir = await dirWith(20, { compactMinBytes: 1, compactRatio: 0 });
    const [snap] = await snapshotFiles(dir);
    const bytes = await readFile(snap!);
    expect(bytes.indexOf('value-7')).toBeGreaterThan(0);
    await flipByteAt(snap!, bytes.indexOf('value-7'));
    const s = fileStorage(dir);
    await s.open();
    try {
      expect(await s.get('sp', 'k8')).toEqual(rec(8, 'value-8'));
      await expect(s.get('sp', 'k7')).rejects.toMatchObject({ code: 'CORRUPT' });
    } finally {
      await s.close();
    }
  });

  it('reads a page of the log from a snapshot with a read per run of records, each still checked', async () => {
    const dir = await dirWith(200, { compactMinBytes: 1, compactRatio: 0 });
    const counted: Faults = {};
    const s = fileStorage(dir, { io: faultyIo(counted) });
    await s.open();
    try {
      const before = counted.reads ?? 0;
      const page = await s.readLog('sp', 0, 512);
      expect(page.map(([k, r]) => [k, r])).toEqual(Array.from({ length: 200 }, (_, i) => [`k${i + 1}`, rec(i + 1, `value-${i + 1}`)]));
      expect((counted.reads ?? 0) - before, 'reads for 200 records lying side by side').toBeLessThan(10);
    } finally {
      await s.close();
    }
    // A record the snapshot holds (compaction runs in the background, so the last records may lie in the segment
    // after it: which ones depends on timing): value-150 when it is there, else the latest before it that is.
    const snap = (await snapshotFiles(dir)).at(-1);
    const bytes = await readFile(snap!);
    let n = 150;
    while (n > 2 && bytes.indexOf(`value-${n}"`) < 0) n--;
    const at = bytes.indexOf(`value-${n}"`);
    expect(at, `value-${n} lies in the snapshot`).toBeGreaterThan(0);
    await flipByteAt(snap!, at);
    const damaged = fileStorage(dir);
    await damaged.open();
    try {
      await expect(damaged.readLog('sp', 0, 512)).rejects.toMatchObject({ code: 'CORRUPT' });
      expect(await damaged.get('sp', `k${n - 1}`)).toEqual(rec(n - 1, `value-${n - 1}`));
    } finally {
      await damaged.close();
    }
  });

  it('removes leftovers of an interrupted compaction and replays the segments after the snapshot', async () => {
    const dir = await dirWith(5, { compactMinBytes: 1, compactRatio: 0 });
    await writeFile(`${dir}/snap-0000000099.tmp`, 'half a snapshot');
    const s = fileStorage(dir);
    await s.open();
    await s.transact((tx) => {
      tx.put('sp', 'k6', rec(6, 'value-6'));
      tx.remove('sp', 'k1');
      tx.setMeta('seq', 6);
    });
    await s.close();
    expect(await readdir(dir)).not.toContain('snap-0000000099.tmp');
    expect(await keysOf(dir)).toEqual(range(2, 6));
    const again = fileStorage(dir);
    await again.open();
    expect(await again.getMeta('seq')).toBe(6);
    expect((await again.readLog('sp', 4, 10)).map(([k]) => k)).toEqual(['k5', 'k6']);
    await again.close();
  });

  it('keys loaded from a snapshot can be read, logged, indexed, overwritten, removed and compacted again', async () => {
    const dir = await dirWith(30, { compactMinBytes: 1, compactRatio: 0 });
    const s = fileStorage(dir, { compactMinBytes: 1, compactRatio: 0, cacheRecords: 0 });
    await s.open();
    expect((await s.index('sp')).length).toBe(30);
    expect((await s.index('sp')).find((e) => e.key === 'k3')).toEqual({ key: 'k3', seq: 3, h: rec(3).h });
    expect((await s.readLog('sp', 27, 10)).map(([k, r]) => [k, r.seq])).toEqual([['k28', 28], ['k29', 29], ['k30', 30]]);
    expect((await s.scan('sp', { prefix: 'k2', limit: 3 })).map(([k]) => k)).toEqual(['k2', 'k20', 'k21']);
    await s.transact((tx) => {
      tx.put('sp', 'k1', rec(31, 'new'));
      tx.remove('sp', 'k2');
    });
    for (let i = 32; i <= 40; i++) await s.transact((tx) => tx.put('sp', `k${i}`, rec(i, `value-${i}`)));
    await s.close();
    const again = fileStorage(dir);
    await again.open();
    expect(await again.get('sp', 'k1')).toEqual(rec(31, 'new'));
    expect(await again.get('sp', 'k2')).toBeUndefined();
    expect(await again.get('sp', 'k5')).toEqual(rec(5, 'value-5'));
    expect((await again.index('sp')).length).toBe(38);
    expect((await again.readLog('sp', 30, 100)).map(([k]) => k)).toEqual(['k1', ...range(32, 40)]);
    await again.close();
  });

  it('compacts in the background while writes go on, losing nothing', async () => {
    const { dir, cleanup } = await tempDir('compact');
    cleanups.push(cleanup);
    const s = fileStorage(dir, { compactMinBytes: 4096, compactRatio: 1.2, cacheRecords: 8 });
    await s.open();
    const writes: Array<Promise<void>> = [];
    for (let i = 1; i <= 3000; i++) writes.push(s.transact((tx) => tx.put('sp', `k${i % 200}`, rec(i, `v${i}`))));
    await Promise.all(writes);
    for (let k = 0; k < 200; k++) {
      const last = 3000 - ((3000 - k) % 200);
      expect((await s.get('sp', `k${k}`))?.seq).toBe(last);
    }
    await s.close();
    expect((await snapshotFiles(dir)).length).toBe(1);
    const again = fileStorage(dir);
    await again.open();
    const log = await again.readLog('sp', 0, 1000);
    expect(log.length).toBe(200);
    expect(log.map(([, r]) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => 2801 + i));
    expect(log[199]![1]).toEqual(rec(3000, 'v3000'));
    await again.close();
  });
});
