// Awareness over presence: an editor's cursor (y-protocols Awareness state) on one replica shows on the other,
// updates, and disappears when the binding ends; the app's own presence fields are kept.
import { describe, expect, it } from 'vitest';
import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { bindAwareness, openDoc } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { synced, until } from '../sync/support.js';

describe('bindAwareness', () => {
  it('carries cursors and users both ways through space.presence', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    const [ta, tb] = pairTransports();
    a.space('s');
    b.space('s');
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    const da = await openDoc(a.space('s'), 'doc');
    const db = await openDoc(b.space('s'), 'doc');
    const wa = new Awareness(da);
    const wb = new Awareness(db);
    a.space('s').presence.set({ name: 'Ada' });
    const stopA = bindAwareness(a.space('s'), 'doc', wa);
    const stopB = bindAwareness(b.space('s'), 'doc', wb);
    const changes: unknown[] = [];
    wb.on('change', (c: unknown) => changes.push(c));

    da.getText('t').insert(0, 'hello');
    const anchor = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(da.getText('t'), 2));
    wa.setLocalStateField('user', { name: 'Ada', color: '#f00' });
    wa.setLocalStateField('cursor', { anchor, head: anchor });
    await until(() => (wb.getStates().get(wa.clientID) as { cursor?: unknown } | undefined)?.cursor !== undefined, 'the cursor on b');
    expect(wb.getStates().get(wa.clientID)).toEqual({ user: { name: 'Ada', color: '#f00' }, cursor: { anchor, head: anchor } });
    expect(changes.length).toBeGreaterThan(0);
    // The app's own presence field is kept beside the awareness entry.
    expect((b.space('s').presence.list().find((m) => !m.self)?.meta as { name?: string }).name).toBe('Ada');

    wb.setLocalStateField('user', { name: 'Bob' });
    await until(() => (wa.getStates().get(wb.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'Bob', 'b on a');

    stopA();
    await until(() => !wb.getStates().has(wa.clientID), 'a gone from b once unbound');
    stopB();
    wa.destroy();
    wb.destroy();
    await a.close();
    await b.close();
  });
});
