// Deltas in the file log (docs/deltas.md, Storage): a write with a delta appends the delta, not the document; reads
// and recovery rebuild it through the key's chain; a damaged base makes that key CORRUPT and no other.
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { fileStorage, type FileStorage } from '../../adapters/fs/index.js';
import { chainable, diskChainBound, Entry, MAX_DISK_CHAIN } from '../../adapters/fs/keyspace.js';
import type { KeyRecord } from '../../lib/storage.js';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { openReplica, type Replica } from '../../lib/index.js';
import { snapshotFiles, tempDir } from './helpers.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function dirSize(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
  return n;
}

async function textOf(r: Replica, key: string): Promise<string> {
  const d = new Y.Doc();
  Y.applyUpdate(d, (await r.space('s').get(key))!.value as Uint8Array);
  return d.getText('body').toString();
}

async function replicaIn(dir: string, options = {}): Promise<{ r: Replica; storage: FileStorage }> {
  const storage = fileStorage(dir, options);
  const r = await openReplica({ storage });
  return { r, storage };
}

/** A replica on file storage in a fresh directory, and a document `doc` open in it (its text: `body`). */
async function docIn(options = {}): Promise<{ dir: string; r: Replica; storage: FileStorage; doc: Y.Doc; t: Y.Text }> {
  const { dir, cleanup } = await tempDir('deltas');
  cleanups.push(cleanup);
  const { r, storage } = await replicaIn(dir, options);
  const doc = await openDoc(r.space('s'), 'doc', { writeDelay: 0 });
  return { dir, r, storage, doc, t: doc.getText('body') };
}

/** Types `n` one-character keystrokes into `t` (at `i * stride`), each flushed: the directory's growth, and the updates' bytes. */
async function keystrokes(dir: string, doc: Y.Doc, t: Y.Text, n: number, stride: number, ch: string): Promise<{ grown: number; updates: number }> {
  const before = await dirSize(dir);
  let updates = 0;
  const count = (u: Uint8Array) => (updates += u.length);
  doc.on('update', count);
  for (let i = 0; i < n; i++) {
    t.insert((i * stride) % t.length, ch);
    await flushDoc(doc);
  }
  doc.off('update', count);
  return { grown: (await dirSize(dir)) - before, updates };
}

/** Closes the document and the replica, opens the directory again: the document reads `want` there. */
async function expectReopened(dir: string, r: Replica, doc: Y.Doc, want: string): Promise<void> {
  doc.destroy();
  await r.close();
  const again = await replicaIn(dir);
  expect(await textOf(again.r, 'doc')).toBe(want);
  await again.r.close();
}

describe('deltas in the file log', () => {
  it('a keystroke into a large document appends about its delta; a reopen reads the document back exact', async () => {
    const { dir, r, doc, t } = await docIn();
    for (let i = 0; i < 20; i++) {
      t.insert(t.length, `paragraph ${i}: ${'lorem ipsum dolor sit amet '.repeat(200)}\n`);
      await flushDoc(doc);
    }
    const docBytes = ((await r.space('s').get('doc'))!.value as Uint8Array).length;
    expect(docBytes).toBeGreaterThan(100_000);
    const { grown, updates } = await keystrokes(dir, doc, t, 100, 997, 'x');
    // Each record is the keystroke's update and the record's head around it, never the document.
    expect(grown).toBeLessThan(updates + 100 * 400);
    await expectReopened(dir, r, doc, t.toString());
  });

  it('a chain over a large document runs past 128 records (one per KiB): 200 keystrokes into 300 KB write no copy of it', async () => {
    const { dir, r, storage, doc, t } = await docIn();
    for (let i = 0; i < 50; i++) t.insert(t.length, `paragraph ${i}: ${'consectetur adipiscing elit '.repeat(220)}\n`);
    await flushDoc(doc);
    await storage.compactNow(); // the document whole in the snapshot: the chain starts from it
    expect(((await r.space('s').get('doc'))!.value as Uint8Array).length).toBeGreaterThan(300_000);
    const { grown, updates } = await keystrokes(dir, doc, t, 200, 7919, 'y');
    // Cut at 128 records, the 129th would have stored the whole document again (300 KB).
    expect(grown).toBeLessThan(updates + 200 * 400);
    await expectReopened(dir, r, doc, t.toString());
  });

  it('past its bound a chain is cut at the first record whose values are at hand, and at twice the bound regardless', () => {
    const root = 300 << 10;
    const bound = diskChainBound(root);
    expect(bound).toBe(300);
    expect(diskChainBound(1000)).toBe(MAX_DISK_CHAIN);
    const at = (depth: number) => {
      const e = new Entry(1, 'h', root, 0, undefined);
      let cur = e;
      for (let i = 0; i < depth; i++) {
        const next = new Entry(i + 2, 'h', 10, 0, undefined);
        next.chainTo(cur);
        cur = next;
      }
      return cur;
    };
    const held: KeyRecord = { vs: [{ r: 'w', n: 9, t: 1, c: 0, v: 'whole' }], cc: { w: 9 }, seq: 9, h: 'h' };
    const derived: KeyRecord = { vs: [{ r: 'w', n: 9, t: 1, c: 0, x: { b: [['w', 8]], d: new Uint8Array(1), s: 8 } }], cc: { w: 9 }, seq: 9, h: 'h' };
    expect(chainable(at(bound - 1), held)).toBe(true);
    expect(chainable(at(bound), held)).toBe(false); // at hand: stored whole now, nothing to apply
    expect(chainable(at(bound), derived)).toBe(true); // would be materialized to store it whole: not yet
    expect(chainable(at(2 * bound - 1), derived)).toBe(true);
    expect(chainable(at(2 * bound), derived)).toBe(false);
    // its deltas outweigh the record they start from: at(2)'s two deltas of 10 bytes, and one of root - 19
    const heavy = new Entry(9, 'h', root - 19, 0, undefined);
    heavy.chainTo(at(2));
    expect(heavy.weight).toBe(2 * root + 1);
    expect(chainable(heavy, derived)).toBe(false);
  });

  it('recovery replays chains, compaction stores them whole, and a damaged base makes that key CORRUPT and no other', async () => {
    const { dir, r, storage, doc, t } = await docIn();
    t.insert(0, `MARKER-OF-THE-BASE ${'base text '.repeat(500)}`);
    await flushDoc(doc);
    await r.space('s').put('other', 'unharmed');
    await storage.compactNow(); // the document's base is now a whole record in the snapshot
    for (let i = 0; i < 10; i++) {
      t.insert(i, String(i % 10));
      await flushDoc(doc);
    }
    const want = t.toString();
    doc.destroy();
    await r.close();

    // Recovery replays the chain on top of the snapshot.
    const replayed = await replicaIn(dir);
    expect(await textOf(replayed.r, 'doc')).toBe(want);
    await replayed.r.close();

    // Damage the base (in the snapshot: checked when read, not at open).
    const [snap] = await snapshotFiles(dir);
    const bytes = await readFile(snap!);
    const at = bytes.indexOf('MARKER-OF-THE-BASE');
    expect(at).toBeGreaterThan(0);
    const f = await open(snap!, 'r+');
    await f.write(Buffer.from('X'), 0, 1, at);
    await f.close();
    const damaged = fileStorage(dir);
    await damaged.open();
    try {
      await expect(damaged.get('s', 'doc')).rejects.toMatchObject({ code: 'CORRUPT' });
      expect((await damaged.get('s', 'other'))!.vs[0]!.v).toBe('"unharmed"');
      expect((await damaged.index('s')).map((e) => e.key).sort()).toEqual(['doc', 'other']);
    } finally {
      await damaged.close();
    }
  });

  it('compaction writes chained records whole: after it, the directory holds about the document once', async () => {
    const { dir, r, storage, doc, t } = await docIn();
    t.insert(0, 'start '.repeat(5000));
    await flushDoc(doc);
    for (let i = 0; i < 200; i++) {
      t.insert((i * 31) % t.length, 'y');
      await flushDoc(doc);
    }
    await storage.compactNow();
    const state = Y.encodeStateAsUpdate(doc).length;
    expect(await dirSize(dir)).toBeLessThan(state * 1.5 + 4096);
    await expectReopened(dir, r, doc, t.toString());
  });

  it('a small store whose log outweighs its data is left compact at close (compactOnClose)', async () => {
    const sizes: number[] = [];
    for (const compactOnClose of [true, false]) {
      const { dir, r, doc, t } = await docIn({ compactOnClose });
      t.insert(0, 'lorem ipsum '.repeat(3000));
      await flushDoc(doc);
      for (let i = 0; i < 400; i++) {
        t.insert((i * 7919) % (t.length + 1), `word${i} `);
        await flushDoc(doc);
      }
      const state = Y.encodeStateAsUpdate(doc).length;
      const want = t.toString();
      doc.destroy();
      await r.close();
      sizes.push((await dirSize(dir)) / state);
      const again = await replicaIn(dir);
      expect(await textOf(again.r, 'doc')).toBe(want);
      await again.r.close();
    }
    expect(sizes[0]).toBeLessThan(1.5);
    expect(sizes[1]).toBeGreaterThan(3);
  });
});
