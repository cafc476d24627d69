import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Transport } from '../../lib/index.js';
import { synced } from './support.js';

/** Records who sent which message type, in order. */
function recording(t: Transport, who: string, log: Array<[string, number]>): Transport {
  return {
    ...t,
    label: t.label!,
    open: async (handlers) => {
      const conn = await t.open(handlers);
      return { ...conn, send: (f) => (log.push([who, (f as Uint8Array)[0]!]), conn.send(f)), close: (c, r) => conn.close(c, r) };
    },
  };
}

/** Turns: runs of consecutive non-ACK frames from one side. One round trip = a message and its answer. */
function turns(log: Array<[string, number]>): string[] {
  const out: string[] = [];
  for (const [who, type] of log) if (type !== 4 && out[out.length - 1] !== who) out.push(who);
  return out;
}

describe('catch-up with a peer seen before', () => {
  it('takes one round trip: hello with cursors, answered by hello, cursors and changes', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    for (let i = 0; i < 200; i++) await a.space('s').put(`k${i}`, i);
    const [ta, tb] = pairTransports();
    const la = a.connect(ta);
    const lb = b.connect(tb);
    await synced(a, b);
    la.close();
    lb.close();
    for (let i = 0; i < 10; i++) await b.space('s').put(`k${i}`, `b${i}`);
    for (let i = 10; i < 20; i++) await a.space('s').put(`k${i}`, `a${i}`);

    const log: Array<[string, number]> = [];
    // a new link on each side: the peer is remembered in storage, per transport label
    a.connect(recording(ta, 'a', log));
    b.connect(recording(tb, 'b', log));
    await synced(a, b);
    expect((await a.space('s').get('k3'))?.value).toBe('b3');
    expect((await b.space('s').get('k13'))?.value).toBe('a13');
    // Both hellos cross (each side knows the other), and each side's hello carried its cursor: the
    // answers are the changes themselves. No side waits on an answer before its data flows.
    const t = turns(log);
    expect(t.length).toBeLessThanOrEqual(3);
    expect(log.filter(([, type]) => type === 5)).toEqual([]); // no anti-entropy
    await a.close();
    await b.close();
  });
});
