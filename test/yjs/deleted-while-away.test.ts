/**
 * A document deleted and written again while a peer holding it is away (the case counters and add-wins sets lost
 * writes in: their re-created value re-used the ids of the deleted one). Yjs names each struct (clientID, clock) and
 * drops a struct whose id it already holds, silently; a document re-created after a delete is a new Y.Doc, whose
 * clientID Yjs draws at random (32 bits), and a document kept bound across the delete goes on with its own clock. The
 * peer away at the delete edits the old document under its own clientID. So no id of the new edits is one of the old
 * document's: the join keeps every edit, and the old text comes back with the peer's write (concurrent with the delete,
 * as a plain value's concurrent write does). Both the re-created and the kept document, at protocols 10, 11 and the
 * default.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import type { Cluster } from '../sim/cluster.js';
import { awayAtDelete } from '../support/away-at-delete.js';

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];

const textOf = async (c: Cluster, n: string) => {
  const d = new Y.Doc();
  const v = (await c.node(n).r.space('s').get('doc'))?.value as Uint8Array | undefined;
  if (v) Y.applyUpdate(d, v);
  return d.getText('t').toString();
};

async function edit(doc: Y.Doc, at: 'start' | 'end', text: string): Promise<void> {
  const t = doc.getText('t');
  t.insert(at === 'start' ? 0 : t.length, text);
  await flushDoc(doc);
}

/**
 * e writes "old" and w gets it; w goes away; e deletes the key and writes "new" (`recreate`: into a new Y.Doc bound
 * after the delete; else into the doc it kept bound); w writes "+w" at the end of the old text; w comes back.
 */
function deletedWhileAway(recreate: boolean, speaks?: readonly number[]): Promise<Record<string, string>> {
  const docs: Y.Doc[] = [];
  const open = async (c: Cluster, n: string) => {
    const d = await openDoc(c.node(n).r.space('s'), 'doc', { writeDelay: 60_000 });
    docs.push(d);
    return d;
  };
  return awayAtDelete({
    seed: 7,
    speaks,
    before: async (c) => edit(await open(c, 'e'), 'end', 'old'),
    async away(c) {
      let de = docs[0]!;
      const dw = await open(c, 'w');
      expect(dw.getText('t').toString()).toBe('old');
      if (recreate) de.destroy();
      await c.node('e').r.space('s').delete('doc');
      expect(await textOf(c, 'e')).toBe('');
      if (recreate) de = await open(c, 'e');
      await edit(de, 'start', 'new');
      await edit(dw, 'end', '+w');
    },
    read: textOf,
    cleanup: () => docs.forEach((d) => d.destroy()),
  });
}

describe('a Yjs document deleted and written again while a peer holding it is away', () => {
  it('keeps the edit made after the delete in a new Y.Doc, and the peer\'s, at every protocol', async () => {
    for (const speaks of [undefined, [...PROTOCOL_VERSIONS], SPEAKS_10]) {
      const got = await deletedWhileAway(true, speaks);
      for (const n of ['a', 'w', 'e']) {
        const text = got[n]!;
        // The two documents' texts interleave in the order of their clientIDs (random): each keeps its own.
        expect(text.length, `${n} speaking ${String(speaks)}: ${text}`).toBe('new'.length + 'old+w'.length);
        expect(text.includes('new') && text.includes('old+w'), `${n} speaking ${String(speaks)}: ${text}`).toBe(true);
      }
    }
  });

  it('keeps them when the deleting replica kept its Y.Doc bound (its next edit writes the doc\'s whole state)', async () => {
    const got = await deletedWhileAway(false);
    for (const n of ['a', 'w', 'e']) expect(got[n], n).toBe('newold+w');
  });
});
