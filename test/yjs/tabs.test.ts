// A second tab writing the same document (docs/deltas.md, faults): two replica instances share one IndexedDB
// database; each binds the key with openDoc and types. Each write is a delta against the versions its own
// transaction read (the other tab's included), so nothing either tab typed is lost — in both tabs, at the relay, and
// in the database read back fresh.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { memoryRelay, tabGroup, withShared } from '../support/tab-group.js';
import { until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

const textOf = async (r: Replica) => {
  const d = new Y.Doc();
  const v = (await r.space('s').get('doc'))?.value as Uint8Array | undefined;
  if (v) Y.applyUpdate(d, v);
  return d.getText('body').toString();
};

describe('two tabs typing into one document', () => {
  it('loses nothing either tab typed: both tabs, the relay and the database agree', async () => {
    const factory = new IDBFactory();
    const name = `tabs-doc-${Math.random().toString(36).slice(2)}`;
    const group = tabGroup();
    const relay = await openReplica({ storage: memoryStorage() });
    open.push(relay);
    const server = memoryRelay(relay);
    const tabs: Replica[] = [];
    for (let i = 0; i < 2; i++) {
      const member = group.member(`tab${i}`);
      const r = await openReplica({ storage: withShared(indexedDBStorage(name, { indexedDB: factory }), member), sharedNetwork: { beatMs: 150, probeTimeoutMs: 150, timers: member.timers } });
      open.push(r);
      tabs.push(r);
      r.space('s');
      r.connect(server.transport());
    }
    relay.space('s');
    const docs = await Promise.all(tabs.map((r) => openDoc(r.space('s'), 'doc', { writeDelay: 0 })));
    await until(() => tabs.every((r) => r.status === 'synced'), 'both tabs synced');
    const typed: string[] = [];
    for (let i = 0; i < 30; i++) {
      // Both tabs type at once (no waiting between them), then each flushes its write.
      docs.forEach((d, j) => {
        const mark = `${j ? 'B' : 'a'}${i}`;
        typed.push(mark);
        d.getText('body').insert(0, mark + ' ');
      });
      await Promise.all(docs.map((d) => flushDoc(d)));
    }
    await until(() => docs[0]!.getText('body').toString() === docs[1]!.getText('body').toString(), 'the tabs agree', 10_000);
    const text = docs[0]!.getText('body').toString();
    for (const mark of typed) expect(text).toContain(mark + ' ');
    await until(async () => (await textOf(relay)) === text, 'the relay holds it', 10_000);
    expect(await textOf(tabs[0]!)).toBe(text);
    for (const d of docs) d.destroy();
    const fresh = await openReplica({ storage: indexedDBStorage(`${name}`, { indexedDB: factory }) });
    open.push(fresh);
    expect(await textOf(fresh)).toBe(text);
  });
});
