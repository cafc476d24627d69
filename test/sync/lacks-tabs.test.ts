/**
 * Review rev48a: a lack recorded by the leader tab, and the tab that takes the links when it closes. The leader stored
 * the lack (lacks.ts); the other tab had read the stored lacks at its open, before, and its links resumed past the key
 * from the cursor the leader stored: it said 'synced' while it lacked the key. Now a client session reads the stored
 * lacks after its cursor where the storage is shared with other instances.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { memoryRelay, tabGroup, withShared } from '../support/tab-group.js';
import { until } from './support.js';

const FAST = { beatMs: 150, probeTimeoutMs: 150 };
const FRAME = 16 * 1024;
const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});
const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE').length;

describe('a lack recorded in the leader tab', () => {
  it('is the lack of the tab that takes the links after it closes: not synced, and asked for again', async () => {
    const factory = new IDBFactory();
    const name = `lacks-tabs-${Math.random().toString(36).slice(2)}`;
    const group = tabGroup();
    const relay = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    open.push(relay);
    await relay.space('s').put('big', 'b'.repeat(30_000));
    await relay.space('s').put('small', 1);
    const tabs: Replica[] = [];
    const errors = new Map<Replica, unknown[]>();
    for (let i = 0; i < 2; i++) {
      const member = group.member(`tab${i}`);
      const r = await openReplica({ storage: withShared(indexedDBStorage(name, { indexedDB: factory }), member), sharedNetwork: { ...FAST, timers: member.timers }, maxValueBytes: 64 * 1024 });
      r.space('s');
      errors.set(r, []);
      r.on('error', (e) => errors.get(r)!.push(e));
      tabs.push(r);
      open.push(r);
    }
    for (const t of tabs) t.connect(memoryRelay(relay, FRAME).transport());
    await until(() => group.holder !== undefined, 'a leader');
    const leader = tabs[group.holder === 'tab0' ? 0 : 1]!;
    const other = tabs[group.holder === 'tab0' ? 1 : 0]!;
    await until(async () => (await other.space('s').get('small')) !== undefined && tooLarge(errors.get(leader)!) > 0, 'small in both, big told left out to the leader');
    await new Promise((r) => setTimeout(r, 300));
    expect(other.status, 'the other tab shows the leader lacking').not.toBe('synced');
    await leader.close();
    await until(() => tooLarge(errors.get(other)!) > 0, 'the tab that took the links told big left out (it asked for it)', 8000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await other.space('s').get('big')).toBeUndefined();
    expect(other.status, "'synced' without big").not.toBe('synced');
  }, 20_000);
});
