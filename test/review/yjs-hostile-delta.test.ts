// A hostile (or broken) writer's Yjs delta that decodes but that Yjs cannot integrate: an item whose origin is
// itself. A receiver checks a delta (checkDelta: Y.decodeUpdate) and stores it unapplied; when read, applying it
// throws — the version, and every version written over it as a delta (an editor's next keystroke), cannot be read
// on the receiver nor on a replica catching up from it. The check must refuse it: the receiver keeps what it had
// (and, since rev50, asks for the key whole: the writer's document arrives as its whole value), its own later edits
// reach others.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc, yjsValue } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { selfOriginDelta } from '../support/yjs-self-origin.js';
import { synced, tapped, until } from '../sync/support.js';

const KEY = 'docs/shared';

function link(x: Replica, y: Replica, rewrite?: (frame: Uint8Array) => Uint8Array): () => void {
  const [tx, ty] = pairTransports();
  const lx = x.connect(rewrite ? tapped(tx, (f, conn) => conn.send(f instanceof Uint8Array ? rewrite(f) : f)) : tx, { antiEntropyInterval: 0 });
  const ly = y.connect(ty, { antiEntropyInterval: 0 });
  return () => (lx.close(), ly.close());
}

async function storedText(r: Replica): Promise<string> {
  const got = await r.space('s').get(KEY);
  if (!got || !isYjsValue(got.value)) return '<none>';
  const d = new Y.Doc();
  Y.applyUpdate(d, got.value);
  return d.getText('t').toString();
}

/** `frame` with every occurrence of `from` replaced by `to` (same length), and whether there was one. */
function replaced(frame: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array | undefined {
  let out: Uint8Array | undefined;
  for (let i = 0; i + from.length <= frame.length; i++) {
    let j = 0;
    while (j < from.length && frame[i + j] === from[j]) j++;
    if (j < from.length) continue;
    out ??= Uint8Array.from(frame);
    out.set(to, i);
  }
  return out;
}

describe('a Yjs delta that decodes but does not integrate', () => {
  it('is refused: the receiver and a replica catching up from it keep reading the document, and later edits flow', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    const c = await openReplica({ storage: memoryStorage() });
    for (const r of [a, b, c]) r.space('s');
    const errors: unknown[] = [];
    const d = new Y.Doc();
    d.clientID = 2;
    d.getText('t').insert(0, 'hello world');
    const base = Y.encodeStateAsUpdate(d);
    const { honest, hostile } = selfOriginDelta(base);
    // a is the hostile peer: what it sends carries the hostile delta where its store has the honest one.
    let rewritten = 0;
    const stops = [link(a, b, (f) => {
      const out = replaced(f, honest, hostile);
      if (out) rewritten++;
      return out ?? f;
    })];
    try {
      await a.space('s').put(KEY, yjsValue(base));
      await synced(a, b);
      await until(async () => (await storedText(b)) === 'hello world', 'the base on b');
      await a.space('s').writeWith(KEY, () => ({ delta: honest, type: 'yjs' }));
      await until(() => rewritten > 0, 'the hostile delta sent to b');
      // b refuses the delta alone and asks for the key whole (rev50: the link stays): a's document, whole, arrives.
      const want = await storedText(a);
      expect(want).not.toBe('hello world');
      await until(async () => (await storedText(b).catch(() => '')) === want, "a's document, whole, on b", 5000).catch(() => undefined);
      // b reads its document, binds it, and types.
      expect(await storedText(b).catch((e) => `<read failed: ${e}>`)).toBe(want);
      const doc = await openDoc(b.space('s'), KEY, { onError: (e) => errors.push(e) });
      expect(doc.getText('t').toString()).toBe(want);
      doc.getText('t').insert(want.length, '!');
      await flushDoc(doc);
      expect(await storedText(b).catch((e) => `<read failed: ${e}>`)).toBe(want + '!');
      // c catches up from b alone.
      stops.push(link(b, c));
      await until(async () => (await storedText(c).catch(() => '')) === want + '!', "b's edit on c", 5000).catch(() => undefined);
      expect(await storedText(c).catch((e) => `<read failed: ${e}>`)).toBe(want + '!');
      expect(errors).toEqual([]);
      doc.destroy();
    } finally {
      for (const s of stops) s();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("is refused as a local write too (an app's broken delta): the write fails, the key keeps reading", async () => {
    const r = await openReplica({ storage: memoryStorage() });
    try {
      const d = new Y.Doc();
      d.clientID = 2;
      d.getText('t').insert(0, 'hello world');
      const base = Y.encodeStateAsUpdate(d);
      await r.space('s').put(KEY, yjsValue(base));
      await expect(r.space('s').writeWith(KEY, () => ({ delta: selfOriginDelta(base).hostile, type: 'yjs' }))).rejects.toThrow();
      expect(await storedText(r).catch((e) => `<read failed: ${e}>`)).toBe('hello world');
    } finally {
      await r.close();
    }
  });
});
