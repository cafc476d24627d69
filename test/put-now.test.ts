// A put committed at once (core.writeNow → StorageAdapter.transactNow: memory storage, and file storage when nothing is
// queued) keeps a put's whole contract: a bad value or a closed replica rejects and leaves nothing behind (no record,
// no change, no seq used up, no pending count), every put tells exactly one change event, in the order of the puts and
// before its promise resolves, an awaited put reads back at once, instances sharing one storage never mint the same
// dot, and (file storage) a put that resolved survives a power loss right after. Each case runs on both storages the
// fast path serves; on file storage sequential awaited puts take the fast path, puts in flight mostly the queue.
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../adapters/fs/index.js';
import { memoryStorage, openReplica, type ChangeEvent, type Replica } from '../lib/index.js';
import type { StorageAdapter } from '../lib/storage.js';
import { prng, tempDir } from './fs/helpers.js';
import { PowerLossFs } from './fs/power-loss-io.js';

const open: Replica[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
  for (const c of cleanups.splice(0)) await c();
});

const storages: Array<[string, () => Promise<StorageAdapter>]> = [
  ['memory', async () => memoryStorage()],
  [
    'file',
    async () => {
      const { dir, cleanup } = await tempDir('put-now');
      cleanups.push(cleanup);
      return fileStorage(dir, { compactOnClose: false });
    },
  ],
];

async function replicaOn(storage: StorageAdapter, maxValueBytes?: number): Promise<Replica> {
  const r = await openReplica(maxValueBytes === undefined ? { storage } : { storage, maxValueBytes });
  open.push(r);
  return r;
}

describe.each(storages)('a put committed at once (%s storage)', (_name, make) => {
  it('a bad value or key rejects, and leaves no record, change, seq or pending count behind', async () => {
    const storage = await make();
    const r = await replicaOn(storage, 64);
    const space = r.space('s');
    const changes: string[] = [];
    space.subscribe('*', (e) => changes.push(e.key));
    const seqBefore = (await storage.getMeta<number>('seq')) ?? 0;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: Array<[string, unknown]> = [
      ['f', () => 1],
      ['c', cyclic],
      ['big', 'x'.repeat(100)],
      ['sym', Symbol('s')],
      ['', 1],
    ];
    for (const [key, value] of bad) {
      // A rejected promise, never a synchronous throw.
      let p: Promise<unknown> | undefined;
      expect(() => (p = space.put(key, value))).not.toThrow();
      await expect(p).rejects.toThrow();
    }
    expect(changes).toEqual([]);
    expect(r.pending).toBe(0);
    for (const [key] of bad) if (key !== '') expect(await space.get(key)).toBeUndefined();
    expect(await storage.readLog('s', 0, 100)).toEqual([]);
    // No seq was used up: the first good put takes the log's next one.
    const ok = await space.put('good', 1);
    expect(ok.seq).toBe(seqBefore + 1);
    expect((await storage.readLog('s', 0, 100)).map(([k, rec]) => [k, rec.seq])).toEqual([['good', ok.seq]]);
    expect(changes).toEqual(['good']);
    expect(r.pending).toBe(1);
  });

  it('a put on a closed replica rejects CLOSED (not a throw) and stores nothing', async () => {
    const storage = await make();
    const r = await replicaOn(storage);
    const space = r.space('s');
    await space.put('a', 1);
    await r.close();
    let p: Promise<unknown> | undefined;
    expect(() => (p = space.put('b', 2))).not.toThrow();
    await expect(p).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('each put tells one change event, in the order of the puts, before its promise resolves', async () => {
    const r = await replicaOn(await make());
    const space = r.space('s');
    const seen: Array<[string, unknown, string]> = [];
    space.subscribe('*', (e: ChangeEvent) => seen.push([e.key, e.value, e.origin]));
    // Sequential awaited puts: the event of each is there when its await returns; each takes the next seq.
    let lastSeq = 0;
    for (let i = 0; i < 50; i++) {
      const res = await space.put(`k${i % 7}`, i);
      expect(seen.length, `events after put #${i}`).toBe(i + 1);
      expect(seen[i]).toEqual([`k${i % 7}`, i, 'local']);
      if (i > 0) expect(res.seq).toBe(lastSeq + 1);
      lastSeq = res.seq;
    }
    // Puts in flight: one event each, in the order issued, the last one's value winning.
    const before = seen.length;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => space.put(`m${i % 13}`, i)));
    expect(seen.slice(before).map(([k, v]) => [k, v])).toEqual(Array.from({ length: 200 }, (_, i) => [`m${i % 13}`, i]));
    const seqs = results.map((x) => x.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let j = 0; j < 13; j++) {
      const last = Math.max(...Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 13 === j));
      expect((await space.get(`m${j}`))?.value).toBe(last);
    }
    expect(seen.length).toBe(250);
  });

  it('an awaited put reads back at once, and its context supersedes exactly it', async () => {
    const r = await replicaOn(await make());
    const space = r.space('s');
    for (let i = 0; i < 30; i++) {
      const res = await space.put(`k${i % 5}`, { i });
      const got = await space.get(`k${i % 5}`);
      expect(got?.value).toEqual({ i });
      expect(got?.conflict).toBe(false);
      expect(got?.context).toBe(res.context);
    }
    // A put with the context of an older result leaves the write it did not see as a sibling.
    const first = await space.put('c', 'a');
    await space.put('c', 'b');
    await space.put('c', 'c', { context: first.context });
    expect((await space.get('c'))?.siblings.sort()).toEqual(['b', 'c']);
    const keys: string[] = [];
    for await (const e of space.scan('')) keys.push(e.key);
    expect(keys).toEqual(['c', 'k0', 'k1', 'k2', 'k3', 'k4']);
  });
});

describe('a put committed at once, instances sharing one storage', () => {
  it('two instances on one memory storage, writing in turn, never mint the same dot and each reads the other', async () => {
    const storage = memoryStorage();
    const a = await replicaOn(storage);
    const b = await replicaOn(storage);
    expect(b.replicaId).toBe(a.replicaId);
    const seqs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const w = i % 2 === 0 ? a : b;
      // Half the keys written by both instances, half by one.
      const key = i % 4 < 2 ? `both${i % 3}` : `one${i}`;
      seqs.push((await w.space('s').put(key, i)).seq);
      // The other instance reads the write at once, and its next put supersedes it (no sibling of our own dot).
      const other = w === a ? b : a;
      expect((await other.space('s').get(key))?.value).toBe(i);
    }
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    for (let j = 0; j < 3; j++) expect((await a.space('s').get(`both${j}`))?.conflict).toBe(false);
    const log = await storage.readLog('s', 0, 1000);
    expect(new Set(log.map(([, rec]) => rec.seq)).size).toBe(log.length);
  });
});

describe('a put committed at once on file storage, and a power loss', () => {
  it('every put that resolved is there after a crash right after it', async () => {
    const seed = Number(process.env.PUT_NOW_SEED ?? Date.now() % 1_000_000);
    const rng = prng(seed);
    const disk = new PowerLossFs(String(seed));
    const options = () => ({ io: disk.io(), compactOnClose: false, onError: () => {} });
    const expected = new Map<string, number>();
    let n = 0;
    for (let cycle = 0; cycle < 4; cycle++) {
      const r = await openReplica({ storage: fileStorage(`${disk.root()}/data`, options()) });
      const space = r.space('s');
      for (const [k, v] of expected) expect((await space.get(k))?.value, `seed ${seed}, cycle ${cycle}, ${k}`).toBe(v);
      const count = 5 + Math.floor(rng() * 20);
      for (let i = 0; i < count; i++, n++) {
        const key = `k${Math.floor(rng() * 12)}`;
        await space.put(key, n);
        expected.set(key, n);
      }
      // The power fails as soon as the last put resolved: nothing after its fsync ran.
      disk.crash(rng);
      void r.close().catch(() => {});
    }
    const r = await openReplica({ storage: fileStorage(`${disk.root()}/data`, options()) });
    open.push(r);
    for (const [k, v] of expected) expect((await r.space('s').get(k))?.value, `seed ${seed}, ${k}`).toBe(v);
  });
});
