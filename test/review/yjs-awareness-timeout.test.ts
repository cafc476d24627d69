// bindAwareness when y-protocols' own outdated check drops a remote state (30 s without lastUpdated renewed: the
// binding renews every 10 s, but a laptop asleep or a background tab's throttled timers let the check run first):
// the member is still in presence, its state unchanged — the binding must show it again, not wait for that peer
// to move its cursor (its `known` kept the state's text, so an unchanged entry was never set again).
import { describe, expect, it } from 'vitest';
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { bindAwareness } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { synced, until } from '../sync/support.js';

describe('bindAwareness after the Awareness timed a remote state out', () => {
  it("shows the member's unchanged state again while presence lists it", async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    const [ta, tb] = pairTransports();
    a.space('s');
    b.space('s');
    const la = a.connect(ta);
    const lb = b.connect(tb);
    const wa = new Awareness(new Y.Doc());
    const wb = new Awareness(new Y.Doc());
    try {
      await synced(a, b);
      const stopA = bindAwareness(a.space('s'), 'doc', wa);
      const stopB = bindAwareness(b.space('s'), 'doc', wb);
      wa.setLocalStateField('user', { name: 'Ada' });
      const ada = () => (wb.getStates().get(wa.clientID) as { user?: { name?: string } } | undefined)?.user?.name === 'Ada';
      await until(ada, "a's state on b");
      // As after a sleep: the Awareness's outdated check (every 3 s; it would race the binding's 10 s renewal here)
      // found b's record of a's state 31 s old and dropped it — what it calls, with its origin.
      const removed: number[] = [];
      wb.on('change', (c: { removed: number[] }, origin: unknown) => origin === 'timeout' && removed.push(...c.removed));
      removeAwarenessStates(wb, [wa.clientID], 'timeout');
      expect(removed).toEqual([wa.clientID]);
      expect(wb.getStates().has(wa.clientID)).toBe(false);
      // a is still present (its heartbeats go on) and changed nothing: b shows its state again.
      await until(ada, "a's state back on b", 4000).catch(() => undefined);
      expect(wb.getStates().get(wa.clientID)).toEqual({ user: { name: 'Ada' } });
      expect(b.space('s').presence.list().some((m) => !m.self)).toBe(true);
      stopA();
      await until(() => !wb.getStates().has(wa.clientID), 'a gone from b once unbound');
      stopB();
    } finally {
      wa.destroy();
      wb.destroy();
      la.close();
      lb.close();
      await a.close();
      await b.close();
    }
  });
});
