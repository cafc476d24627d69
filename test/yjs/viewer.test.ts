// concord/yjs for a viewer: a document bound on a space the replica may only read (a token with read rights, or
// `{ readOnly: true }`). Its own edits are not the store's: opening (with a doc that came with contents), typing,
// destroying and closing raise nothing — before, openDoc told FORBIDDEN on onError and replica.close() rejected with
// it — while the writers' edits keep arriving, and nothing of the viewer's reaches the relay.
import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { SECRET, tracker, until } from '../security/support.js';
import { docText } from '../support/doc-text.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const KEY = 'docs/shown';
const backoff = { base: 20, max: 200 };

function filled(text: string): Y.Doc {
  const d = new Y.Doc();
  d.getText('body').insert(0, text);
  return d;
}

const textOf = async (r: Replica): Promise<string> => (await docText(r, KEY)) ?? '';

describe('a viewer binding a document', () => {
  it('with read rights from the relay: opens a doc with contents, types, follows the writer, closes — no error, nothing of it stored elsewhere', async () => {
    const relay = await t.relay({ secret: SECRET });
    const writer = t.add(await openReplica({ storage: memoryStorage() }));
    writer.connect(webSocketTransport(relay.url, { token: createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'w' }) }), { backoff });
    const written = await openDoc(writer.space('s'), KEY, { writeDelay: 0 });
    written.getText('body').insert(0, 'from the writer');
    await flushDoc(written);
    await writer.whenSynced();

    const viewer = await openReplica({ storage: memoryStorage() });
    const errors: unknown[] = [];
    viewer.on('error', (e) => errors.push(e));
    viewer.connect(webSocketTransport(relay.url, { token: createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'v' }) }), { backoff });
    const space = viewer.space('s');
    await until(async () => space.readOnly && (await textOf(viewer)) === 'from the writer', 'the viewer read the document');
    const doc = await openDoc(space, KEY, { writeDelay: 0, doc: filled('brought along '), onError: (e) => errors.push(e) });
    doc.getText('body').insert(0, 'typed by the viewer ');
    expect(await flushDoc(doc)).toBeUndefined();
    // The writer's next edit still reaches the viewer's doc.
    written.getText('body').insert(written.getText('body').length, ', and more');
    await flushDoc(written);
    await until(() => doc.getText('body').toString().includes('and more'), "the writer's edit in the viewer's doc");
    doc.destroy();
    await viewer.close();
    expect(errors).toEqual([]);
    await writer.whenSynced();
    const shown = await textOf(relay.replica);
    expect(shown).toBe('from the writer, and more');
    expect(await textOf(writer)).toBe(shown);
  });

  it('a space turned writable: the doc\'s next edit writes its whole state (what the editor showed, the viewer\'s edits included)', async () => {
    const r = t.add(await openReplica({ storage: memoryStorage() }));
    const errors: unknown[] = [];
    const doc = await openDoc(r.space('s', { readOnly: true }), KEY, { writeDelay: 0, doc: filled('seen '), onError: (e) => errors.push(e) });
    doc.getText('body').insert(5, 'then ');
    await flushDoc(doc);
    expect(await textOf(r)).toBe('');
    r.space('s', { readOnly: false });
    doc.getText('body').insert(doc.getText('body').length, 'written');
    await flushDoc(doc);
    expect(await textOf(r)).toBe('seen then written');
    expect(errors).toEqual([]);
  });
});
