// A delta the relay took and a reader cannot apply (here: the reader's maxValueBytes is smaller than the relay's, so
// the document a writer grows by a keystroke passes it there only). Before, the reader refused the frame whole
// (4400): its link dropped, reconnected, and the relay's stream, resuming from the reader's cursor, sent the same
// delta — closed again, for as long as the reader ran, and the document never arrived. Now the key is asked for whole
// (a whole value is taken up to 4 × maxValueBytes, as on any frame; past that, over-value-loop.test.ts), the app is told
// (at each delta refused: every later keystroke's delta makes a value over the bound too, and is asked for whole
// again), and the link stays.
import { afterAll, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { ConcordError, memoryStorage, openReplica } from '../../lib/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { tracker, until } from '../security/support.js';
import { watchReader } from '../support/reader-drops.js';
import { docText } from '../support/doc-text.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const backoff = { base: 20, max: 200 };


describe('a delta a reader cannot apply, from a relay that took it', () => {
  // Also a reader of an earlier release (protocol 10: no epoch dots; NEED is as old as deltas).
  it.each([['this release', undefined], ['protocol 10', PROTOCOL_VERSIONS.filter((v) => v <= 10)]] as const)('the reader asks for the key whole and keeps its link: no reconnect loop, the document arrives, the app is told (%s)', async (_, speaks) => {
    const relay = await t.relay();
    const writer = t.add(await openReplica({ storage: memoryStorage() }));
    writer.connect(webSocketTransport(relay.url), { backoff });
    const reader = t.add(await openReplica({ storage: memoryStorage(), maxValueBytes: 4096, ...(speaks ? { speaks: [...speaks] } : {}) }));
    const { errors, drops, synced } = watchReader(reader);
    reader.space('s');
    reader.connect(webSocketTransport(relay.url), { backoff });

    const doc = await openDoc(writer.space('s'), 'doc', { writeDelay: 0 });
    doc.getText('body').insert(0, 'a'.repeat(3500));
    await flushDoc(doc);
    await until(async () => (await docText(reader, 'doc'))?.length === 3500, 'the reader holds the document under its bound');
    await until(() => synced(), 'the reader synced');
    // One keystroke's worth of delta that takes the document past the reader's bound (not the relay's).
    doc.getText('body').insert(3500, 'b'.repeat(1000));
    await flushDoc(doc);
    await until(async () => (await docText(reader, 'doc'))?.length === 4500, 'the document, whole, at the reader', 10_000);
    expect(await docText(reader, 'doc')).toBe(doc.getText('body').toString());
    // The writer's edits go on arriving.
    doc.getText('body').insert(0, 'c');
    await flushDoc(doc);
    await until(async () => (await docText(reader, 'doc'))?.length === 4501, 'a later edit at the reader', 10_000);
    expect(drops()).toBe(0);
    const told = errors.filter((e) => e instanceof ConcordError && e.code === 'PROTOCOL' && /"doc"/.test(e.message));
    expect(told.length).toBeGreaterThanOrEqual(1);
    expect(errors.filter((e) => !told.includes(e))).toEqual([]);
  });
});
