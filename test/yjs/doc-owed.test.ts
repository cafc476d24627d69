// concord/yjs: what a document bound by openDoc owes its key is written before the replica's close() settles (or
// close() rejects with why it could not), and a document handed to openDoc with contents is stored at once — not at
// its first edit. An app closing a tab right after typing, or binding a document it filled before, loses nothing.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { failingCommits } from '../support/failing-commits.js';
import { synced, until } from '../sync/support.js';

const KEY = 'docs/owed';
const SLOW = { writeDelay: 60_000 }; // the write timer never fires within a test: only flush, destroy or close write

/** The text of the key's document as a replica opened anew on `storage` reads it (closed again after). */
async function storedText(storage: StorageAdapter): Promise<string> {
  const r = await openReplica({ storage });
  try {
    const got = await r.space('s').get(KEY);
    if (!got || !isYjsValue(got.value)) return '';
    const d = new Y.Doc();
    Y.applyUpdate(d, got.value);
    return d.getText('body').toString();
  } finally {
    await r.close();
  }
}

const seqOf = async (r: Replica) => (await r.core.storage.getMeta<number>('seq')) ?? 0;

describe('replica.close() with documents bound', () => {
  it('writes the edits a pending write timer holds before it settles', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const errors: unknown[] = [];
    const doc = await openDoc(r.space('s'), KEY, { ...SLOW, onError: (e) => errors.push(e) });
    doc.getText('body').insert(0, 'typed just before the tab closed');
    await r.close();
    expect(errors).toEqual([]);
    expect(await storedText(storage)).toBe('typed just before the tab closed');
  });

  it('closed twice: one close, both settle after the edits are written', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const doc = await openDoc(r.space('s'), KEY, SLOW);
    doc.getText('body').insert(0, 'twice');
    const first = r.close();
    const second = r.close();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(await storedText(storage)).toBe('twice');
  });

  it('waits for a write already in flight and writes the edits made after it', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const doc = await openDoc(r.space('s'), KEY, SLOW);
    const t = doc.getText('body');
    t.insert(0, 'stored: ');
    await flushDoc(doc); // the key holds the doc: the next writes are deltas of the updates each took
    t.insert(t.length, 'in flight');
    const flying = flushDoc(doc);
    t.insert(t.length, ', then more');
    await r.close();
    await flying;
    expect(await storedText(storage)).toBe('stored: in flight, then more');
  });

  it('a doc destroyed first whose write failed: close writes it once the storage takes writes again', async () => {
    const { storage, fail } = failingCommits();
    const r = await openReplica({ storage });
    const errors: unknown[] = [];
    const doc = await openDoc(r.space('s'), KEY, { ...SLOW, onError: (e) => errors.push(e) });
    fail.on = true;
    doc.getText('body').insert(0, 'destroyed unsaved');
    doc.destroy(); // its write fails: reported, and still owed
    await until(() => errors.length > 0, 'the destroy write failing', 2000);
    fail.on = false;
    await r.close();
    expect(await storedText(storage)).toBe('destroyed unsaved');
  });

  it('a failing storage: close rejects with the write it could not make, and the replica is closed all the same', async () => {
    const { storage, fail } = failingCommits();
    const r = await openReplica({ storage });
    const errors: unknown[] = [];
    const doc = await openDoc(r.space('s'), KEY, { ...SLOW, onError: (e) => errors.push(e) });
    doc.getText('body').insert(0, 'on a full disk');
    fail.on = true;
    await expect(r.close()).rejects.toThrow(/ENOSPC/);
    expect(fail.count).toBeGreaterThan(0);
    expect(r.core.isClosed).toBe(true);
    await expect(r.close()).rejects.toThrow(/ENOSPC/); // asked again, the same answer
  });

  it('two failing docs: close rejects with both', async () => {
    const { storage, fail } = failingCommits();
    const r = await openReplica({ storage });
    const d1 = await openDoc(r.space('s'), KEY, { ...SLOW, onError: () => undefined });
    const d2 = await openDoc(r.space('s'), KEY + '2', { ...SLOW, onError: () => undefined });
    d1.getText('body').insert(0, 'one');
    d2.getText('body').insert(0, 'two');
    fail.on = true;
    const e = await r.close().then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(AggregateError);
    expect((e as AggregateError).errors).toHaveLength(2);
  });
});

describe('openDoc with a document that has contents', () => {
  const filled = (text: string) => {
    const d = new Y.Doc();
    d.getText('body').insert(0, text);
    return d;
  };

  it('stores them before it resolves: a crash (no close, no edit) right after keeps them', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    await openDoc(r.space('s'), KEY, { ...SLOW, doc: filled('brought along') });
    // No edit, no flush, no close: what the storage holds now is what a crash leaves.
    const got = await r.space('s').get(KEY);
    expect(got && isYjsValue(got.value)).toBe(true);
    const d = new Y.Doc();
    Y.applyUpdate(d, got!.value as Uint8Array);
    expect(d.getText('body').toString()).toBe('brought along');
  });

  it('a peer sees them without any edit', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    const links = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
    try {
      await openDoc(a.space('s'), KEY, { ...SLOW, doc: filled('for the peer') });
      await synced(a, b);
      const db = await openDoc(b.space('s'), KEY, SLOW);
      expect(db.getText('body').toString()).toBe('for the peer');
      db.destroy();
    } finally {
      links.forEach((l) => l.close());
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a read-only space (a viewer): its contents are not the store\'s — openDoc and close succeed, nothing told, nothing stored', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const errors: unknown[] = [];
    const doc = await openDoc(r.space('s', { readOnly: true }), KEY, { ...SLOW, doc: filled('not mine to store'), onError: (e) => errors.push(e) });
    doc.getText('body').insert(0, 'a viewer typing ');
    expect(await flushDoc(doc)).toBeUndefined();
    await r.close();
    expect(errors).toEqual([]);
    expect(await storedText(storage)).toBe('');
  });

  it('joins them with what the key holds; a doc the key already holds writes nothing', async () => {
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    const first = await openDoc(r.space('s'), KEY, SLOW);
    first.getText('body').insert(0, 'stored ');
    await flushDoc(first);
    // A second doc with contents of its own: the key then holds both.
    const other = filled('own');
    const second = await openDoc(r.space('s'), KEY, { ...SLOW, doc: other });
    const d = new Y.Doc();
    Y.applyUpdate(d, (await r.space('s').get(KEY))!.value as Uint8Array);
    expect(d.getText('body').toString()).toBe(second.getText('body').toString());
    expect(d.getText('body').toString()).toContain('own');
    expect(d.getText('body').toString()).toContain('stored');
    // A copy of what the key holds, bound again: nothing to write.
    const seq = await seqOf(r);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(d));
    await openDoc(r.space('s'), KEY, { ...SLOW, doc: copy });
    await flushDoc(copy);
    expect(await seqOf(r)).toBe(seq);
    await r.close();
  });
});

describe('openDoc copies the updates it collects', () => {
  for (const how of ['zeroed', 'transferred'] as const) {
    it(`an app 'update' listener that ${how === 'zeroed' ? 'reuses (zeroes)' : 'transfers'} the array changes nothing stored or sent`, async () => {
      const storage = memoryStorage();
      const a = await openReplica({ storage });
      const b = await openReplica({ storage: memoryStorage() });
      a.space('s');
      b.space('s');
      const [ta, tb] = pairTransports();
      const links = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
      const errors: unknown[] = [];
      const doc = await openDoc(a.space('s'), KEY, { ...SLOW, onError: (e) => errors.push(e) });
      const db = await openDoc(b.space('s'), KEY, SLOW);
      doc.getText('body').insert(0, 'first');
      await flushDoc(doc); // the next write is a delta of the collected updates, sent as one
      await synced(a, b);
      doc.on('update', (u: Uint8Array) => {
        if (how === 'zeroed') u.fill(0);
        else structuredClone(u.buffer, { transfer: [u.buffer] }); // as a postMessage to a worker does
      });
      doc.getText('body').insert(5, ' second');
      await flushDoc(doc);
      await synced(a, b);
      expect(errors).toEqual([]);
      expect(db.getText('body').toString()).toBe('first second');
      db.destroy();
      links.forEach((l) => l.close());
      await Promise.all([a.close(), b.close()]);
      expect(await storedText(storage)).toBe('first second');
    });
  }
});
