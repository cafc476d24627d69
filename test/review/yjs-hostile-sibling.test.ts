// A hostile peer's whole document state, concurrent with a good one, that decodes but that Yjs cannot integrate (an
// item whose origin is itself). Y.mergeUpdates takes it: a read merged the siblings into a state no Yjs doc can
// load and wrote it back over the good version (read repair), for every peer to fetch; a delta written over it
// (an app's keystroke) could not be read. The merge must refuse it as it refuses a malformed state: the good
// version stays, an editor loads it and its next write replaces both.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc, yjsValue } from '../../adapters/yjs/index.js';
import { valueOf } from '../../lib/deltas.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { selfOriginDelta } from '../support/yjs-self-origin.js';
import { synced } from '../sync/support.js';

const KEY = 'docs/sib';

/** The texts of the live versions of the key a fresh Y.Doc integrates, and how many it refuses. */
async function loads(r: Replica): Promise<{ texts: string[]; refused: number }> {
  const rec = await r.core.storage.get('s', KEY);
  const out = { texts: [] as string[], refused: 0 };
  for (const v of rec?.vs ?? []) {
    if (v.d) continue;
    const doc = new Y.Doc();
    try {
      Y.applyUpdate(doc, (valueOf(v) as Uint8Array).subarray(5)); // past the typed header: 0x01, 3, 'yjs'
      out.texts.push(doc.getText('t').toString());
    } catch {
      out.refused++;
    }
  }
  return out;
}

describe('a hostile sibling document state that does not integrate', () => {
  it('is not merged into the key: the good version stays loadable, an editor replaces both', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    const d = new Y.Doc();
    d.clientID = 2;
    d.getText('t').insert(0, 'hello world');
    const base = Y.encodeStateAsUpdate(d);
    const bad = selfOriginDelta(base, 5).hostile; // the item's origin is itself, 5:0
    await a.space('s').put(KEY, yjsValue(base));
    await b.space('s').put(KEY, yjsValue(Y.mergeUpdates([base, bad]))); // b: the hostile peer, a concurrent state
    const [ta, tb] = pairTransports();
    const la = a.connect(ta, { antiEntropyInterval: 0 });
    const lb = b.connect(tb, { antiEntropyInterval: 0 });
    const errors: unknown[] = [];
    try {
      await synced(a, b);
      await a.space('s').get(KEY).catch(() => undefined); // a read (it repairs what it merges)
      await new Promise((r) => setTimeout(r, 100));
      // The good version is still there to load (beside b's, which no merge took in).
      expect((await loads(a)).texts, 'the live versions on a that load').toContain('hello world');
      const doc = await openDoc(a.space('s'), KEY, { onError: (x) => errors.push(x) });
      expect(doc.getText('t').toString()).toBe('hello world');
      doc.getText('t').insert(11, '!');
      await flushDoc(doc);
      expect(await loads(a), 'the live versions on a after the edit').toEqual({ texts: ['hello world!'], refused: 0 });
      const got = await a.space('s').get(KEY);
      expect(got!.siblings).toHaveLength(1);
      const check = new Y.Doc();
      Y.applyUpdate(check, got!.value as Uint8Array);
      expect(isYjsValue(got!.value) && check.getText('t').toString()).toBe('hello world!');
      doc.destroy();
    } finally {
      la.close();
      lb.close();
      await a.close();
      await b.close();
    }
  });
});
