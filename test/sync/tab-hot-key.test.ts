/**
 * A document typed in a tab that does not hold the network role: its first save's `w.synced` waited as long as the
 * saves went on (each acknowledgement the leader passed on sat below the key's newest record; 175 saves over 2 s with
 * 20 ms of latency each way, on the commit before). The leader now tells it which of its keys an acknowledged frame
 * carried (lib/sync/tab-waits.ts). Two tabs over fake-indexeddb and the tab-group double, as tabs.test.ts.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { Transport, Connection, ConnectionHandlers } from '../../lib/transport.js';
import { memoryRelay, tabGroup, withShared, type Member } from '../support/tab-group.js';
import { until } from './support.js';

function delayed(inner: Transport, ms: number): Transport {
  return {
    label: 'delayed',
    open(handlers: ConnectionHandlers): Promise<Connection> {
      let chain = Promise.resolve();
      return inner.open({
        onMessage: (frame) => {
          const at = Date.now() + ms;
          chain = chain.then(() => new Promise<void>((r) => setTimeout(r, Math.max(0, at - Date.now())))).then(() => handlers.onMessage(frame));
        },
        onClose: (code, reason) => void chain.then(() => handlers.onClose(code, reason)),
      });
    },
  };
}
const FAST = { beatMs: 150, probeTimeoutMs: 150 };
const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

describe('hot key in a follower tab', () => {
  it('first.synced resolves while the key keeps being written in the follower', async () => {
    const factory = new IDBFactory();
    const name = `tabs-${Math.random().toString(36).slice(2)}`;
    const group = tabGroup();
    const relay = await openReplica({ storage: memoryStorage() });
    open.push(relay);
    const server = memoryRelay(relay);
    const reps: Replica[] = [];
    for (let i = 0; i < 2; i++) {
      const member = group.member(`tab${i}`);
      const r = await openReplica({ storage: withShared(indexedDBStorage(name, { indexedDB: factory }), member), sharedNetwork: { ...FAST, timers: member.timers } });
      reps.push(r);
      open.push(r);
      r.space('s');
      r.connect(delayed(server.transport(), 20));
    }
    await until(() => reps.every((r) => r.status === 'synced'), 'both synced');
    const follower = reps[group.holder === 'tab0' ? 1 : 0]!;
    const first = await follower.space('s').put('doc', 'v0');
    let settled = 0;
    void first.synced.then(() => settled++);
    const end = Date.now() + 3000;
    let i = 0;
    while (Date.now() < end && settled < 2) {
      const w = await follower.space('s').put('doc', `v${++i}`);
      // A second waiter, made after the leader may already have told the first one's answer.
      if (i === 40) void w.synced.then(() => settled++);
      await new Promise((r) => setTimeout(r, 10));
    }
    const held = await relay.space('s').get('doc');
    expect(held?.value).not.toBe('v0');
    expect(settled, `pending after ${i} saves; relay holds ${String(held?.value)}`).toBe(2);
  });
});
