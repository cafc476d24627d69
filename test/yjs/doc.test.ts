// concord/yjs: Yjs documents as values — openDoc both ways, siblings always merge, offline typing converges.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc, yjsValue } from '../../adapters/yjs/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { closeAll, startRelay } from '../relay/support.js';
import { synced, until } from '../sync/support.js';

const KEY = 'docs/readme';
const text = (doc: Y.Doc) => doc.getText('body').toString();

async function pairOf(): Promise<{ a: Replica; b: Replica; connect: () => () => void }> {
  const a = await openReplica({ storage: memoryStorage() });
  const b = await openReplica({ storage: memoryStorage() });
  a.space('s');
  b.space('s');
  const connect = () => {
    const [ta, tb] = pairTransports();
    const la = a.connect(ta, { antiEntropyInterval: 0 });
    const lb = b.connect(tb, { antiEntropyInterval: 0 });
    return () => {
      la.close();
      lb.close();
    };
  };
  return { a, b, connect };
}

describe('openDoc', () => {
  it('writes local edits to the key as the Yjs state; a burst of edits is one write', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    const s = r.space('s');
    const doc = await openDoc(s, KEY);
    const seqBefore = (await r.core.storage.getMeta<number>('seq')) ?? 0;
    const t = doc.getText('body');
    for (const ch of 'hello world') t.insert(t.length, ch); // 11 transactions
    await flushDoc(doc);
    expect((await r.core.storage.getMeta<number>('seq')) ?? 0).toBe(seqBefore + 1);
    const got = await s.get(KEY);
    expect(got!.value).toBeInstanceOf(Uint8Array);
    expect(isYjsValue(got!.value)).toBe(true);
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, got!.value as Uint8Array);
    expect(text(fresh)).toBe('hello world');
    // Plain reads work on the key.
    const scanned: unknown[] = [];
    for await (const e of s.scan('docs/')) scanned.push(e.value);
    expect(scanned).toHaveLength(1);
    doc.destroy();
    await r.close();
  });

  it('loads the stored state, applies remote changes, and detaches on destroy (the key keeps its state)', async () => {
    const { a, b, connect } = await pairOf();
    const stop = connect();
    const da = await openDoc(a.space('s'), KEY);
    da.getText('body').insert(0, 'first');
    await flushDoc(da);
    await synced(a, b);
    const db = await openDoc(b.space('s'), KEY);
    expect(text(db)).toBe('first');
    da.getText('body').insert(5, ' second');
    await flushDoc(da);
    await until(() => text(db) === 'first second', 'the remote edit applied');
    db.destroy();
    da.getText('body').insert(0, '>');
    await flushDoc(da);
    await synced(a, b);
    expect(text(db)).toBe('first second');
    const later = await openDoc(b.space('s'), KEY);
    expect(text(later)).toBe('>first second');
    // Edits made just before destroy are still written.
    later.getText('body').insert(0, '!');
    later.destroy();
    await until(async () => {
      const d = new Y.Doc();
      const v = (await b.space('s').get(KEY))!.value as Uint8Array;
      Y.applyUpdate(d, v);
      return text(d) === '!>first second';
    }, 'the edit before destroy written');
    stop();
    da.destroy();
    await a.close();
    await b.close();
  });

  it('two devices typing into the same paragraph offline converge character-wise, with no conflict', async () => {
    const { a, b, connect } = await pairOf();
    let stop = connect();
    const da = await openDoc(a.space('s'), KEY);
    const db = await openDoc(b.space('s'), KEY);
    da.getText('body').insert(0, 'The quick fox jumps.');
    await flushDoc(da);
    await until(() => text(db) === 'The quick fox jumps.', 'the paragraph on both');
    await synced(a, b);
    stop();
    // Offline: both edit the same sentence.
    da.getText('body').insert(10, 'brown ');          // The quick brown fox jumps.
    da.getText('body').delete(0, 4);                   // quick brown fox jumps.
    db.getText('body').insert(19, ' high');           // The quick fox jumps high.
    db.getText('body').insert(4, 'very ');            // The very quick fox jumps high.
    await Promise.all([flushDoc(da), flushDoc(db)]);
    stop = connect();
    await until(() => text(da) === text(db) && text(da).includes('high') && text(da).includes('brown'), 'both documents converged');
    expect(text(da)).toBe('very quick brown fox jumps high.');
    for (const r of [a, b]) {
      const got = await r.space('s').get(KEY);
      expect(got!.conflict).toBe(false);
      const d = new Y.Doc();
      Y.applyUpdate(d, got!.value as Uint8Array);
      expect(text(d)).toBe('very quick brown fox jumps high.');
    }
    stop();
    da.destroy();
    db.destroy();
    await a.close();
    await b.close();
  });

  it('converges through a relay too', async () => {
    const relay = await startRelay();
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    try {
      const connect = (r: Replica) => r.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
      const la = connect(a);
      const lb = connect(b);
      const da = await openDoc(a.space('s'), KEY);
      const db = await openDoc(b.space('s'), KEY);
      da.getText('body').insert(0, 'shared line');
      await until(() => text(db) === 'shared line', 'the line through the relay', 10_000);
      la.close();
      lb.close();
      da.getText('body').insert(6, 'A');
      db.getText('body').insert(6, 'B');
      db.getText('body').insert(text(db).length, '.');
      await Promise.all([flushDoc(da), flushDoc(db)]);
      connect(a);
      connect(b);
      await until(() => text(da) === text(db) && text(da).length === 'shared line'.length + 3, 'converged through the relay', 10_000);
      expect(text(da)).toMatch(/^shared(AB|BA) line\.$/);
      expect((await a.space('s').get(KEY))!.conflict).toBe(false);
      da.destroy();
      db.destroy();
    } finally {
      await closeAll(a, b, relay);
    }
  });
});

describe('document values', () => {
  it('concurrent document states merge on read with no conflict and are written back', async () => {
    const { a, b, connect } = await pairOf();
    const d1 = new Y.Doc();
    d1.getText('t').insert(0, 'one');
    const d2 = new Y.Doc();
    d2.getText('t').insert(0, 'two');
    await a.space('s').put(KEY, yjsValue(Y.encodeStateAsUpdate(d1)));
    await b.space('s').put(KEY, yjsValue(Y.encodeStateAsUpdate(d2)));
    const stop = connect();
    await synced(a, b);
    const got = await a.space('s').get(KEY);
    expect(got!.conflict).toBe(false);
    expect(got!.siblings).toHaveLength(1);
    const merged = new Y.Doc();
    Y.applyUpdate(merged, got!.value as Uint8Array);
    expect(merged.getText('t').toString()).toMatch(/^(onetwo|twoone)$/);
    // Read repair wrote the merge back: one version left, on both once synced.
    expect(got!.versions.filter((v) => !v.deleted)).toHaveLength(1);
    await synced(a, b);
    expect((await b.space('s').get(KEY))!.versions).toHaveLength(1);
    stop();
    await a.close();
    await b.close();
  });

  it('the merge is the same bytes whatever the order of the siblings', async () => {
    const { yjsType } = await import('../../adapters/yjs/index.js');
    const docs = ['a', 'b', 'c'].map((s) => {
      const d = new Y.Doc();
      d.getText('t').insert(0, s);
      return yjsValue(Y.encodeStateAsUpdate(d));
    });
    const m1 = yjsType.merge([docs[0]!, docs[1]!, docs[2]!]);
    const m2 = yjsType.merge([docs[2]!, docs[0]!, docs[1]!]);
    expect(m1).toEqual(m2);
  });

  it('a malformed document state beside a good one fails its merge without breaking reads', async () => {
    const { a, b, connect } = await pairOf();
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    const good = new Y.Doc();
    good.getText('t').insert(0, 'fine');
    await a.space('s').put(KEY, yjsValue(Y.encodeStateAsUpdate(good)));
    await b.space('s').put(KEY, yjsValue(Uint8Array.of(200, 1, 2, 3)));
    const stop = connect();
    await synced(a, b);
    const got = await a.space('s').get(KEY);
    expect(got!.siblings).toHaveLength(2);
    expect(errors).toContainEqual(expect.objectContaining({ code: 'MERGE_FAILED' }));
    stop();
    await a.close();
    await b.close();
  });

  it('openDoc still loads the good state when a malformed sibling fails the merge, and reports the bad one', async () => {
    const { a, b, connect } = await pairOf();
    const good = new Y.Doc();
    good.getText('body').insert(0, 'fine');
    await a.space('s').put(KEY, yjsValue(Y.encodeStateAsUpdate(good)));
    await b.space('s').put(KEY, yjsValue(Uint8Array.of(200, 1, 2, 3)));
    const stop = connect();
    await synced(a, b);
    const errors: unknown[] = [];
    const doc = await openDoc(a.space('s'), KEY, { onError: (e) => errors.push(e) });
    expect(doc.getText('body').toString()).toBe('fine');
    expect(errors.length).toBeGreaterThan(0);
    doc.destroy();
    stop();
    await a.close();
    await b.close();
  });
});
