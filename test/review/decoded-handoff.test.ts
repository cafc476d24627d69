/**
 * Review of s7k's one-slot handoff of decoded values (values.ts noteDecoded/takeDecoded: the change event of a joined live
 * version takes the tree the wire read its value from). Every event, whatever the frame carried — several keys at once,
 * siblings, a rich or typed value, a key nobody watched before one somebody watches — tells the value a read gives; a
 * subscriber changing the tree it was given changes no read, and nothing another peer receives.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, merges, openReplica, type ChangeEvent, type Replica } from '../../lib/index.js';
import { dump, synced, until } from '../sync/support.js';
import { paired } from './paired.js';

const { undo, connect } = paired();

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  undo.push(() => r.close());
  return r;
}

/** The value, siblings and deletion a read of `key` gives, as an event tells them. */
async function read(r: Replica, key: string) {
  const g = await r.space('s').get(key);
  return g ? { value: g.value, siblings: g.siblings, conflict: g.conflict, deleted: false } : { value: undefined, siblings: [], conflict: false, deleted: true };
}

describe('decoded values handed from the wire to the change event', () => {
  it('every event of a catch-up (several keys a frame, siblings, rich and typed values) tells what a read gives', async () => {
    const a = await replica();
    const b = await replica();
    const sa = a.space('s');
    for (let i = 0; i < 8; i++) await sa.put('p' + i, { i, list: [i, i + 1], nested: { s: 'x'.repeat(i) } });
    await sa.put('rich', { when: new Date(0), set: new Set([1, 2]) });
    await sa.put('count', merges.counter.increment(merges.counter.zero(), a.replicaId, 3));
    await sa.put('both', 'from a');
    await b.space('s').put('both', 'from b'); // siblings once joined
    await b.space('s').put('count', merges.counter.increment(merges.counter.zero(), b.replicaId, 4));
    const events: ChangeEvent[] = [];
    b.space('s').subscribe('*', (e) => void (e.origin === 'remote' && events.push(e)));
    connect(a, b);
    await synced(a, b);
    await until(async () => JSON.stringify(await dump(a, 's')) === JSON.stringify(await dump(b, 's')), 'converged');
    const last = new Map<string, ChangeEvent>();
    for (const e of events) last.set(e.key, e);
    expect([...last.keys()].sort()).toEqual(['both', 'count', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'rich']);
    for (const [key, e] of last) {
      const got = await read(b, key);
      expect({ key, value: e.value, siblings: e.siblings, conflict: e.conflict, deleted: e.deleted }).toEqual({ key, ...got });
    }
    expect(last.get('both')!.siblings).toHaveLength(2);
    expect(merges.counter.value(last.get('count')!.value as never)).toBe(7);
  });

  it('a live write nobody watched, then a local write and a live one a subscriber watches: each event has its own value', async () => {
    const a = await replica();
    const b = await replica();
    connect(a, b);
    await synced(a, b);
    const events: ChangeEvent[] = [];
    const sb = b.space('s');
    sb.subscribe('w*', (e) => void events.push(e));
    await (await a.space('s').put('u1', { unwatched: 1 })).synced;
    await until(async () => (await sb.get('u1')) !== undefined, 'u1 joined');
    await sb.put('w0', { local: 0 }); // a local write told while the unwatched tree is noted
    await (await a.space('s').put('w1', { watched: 1 })).synced;
    await until(() => events.length === 2, 'w1 told');
    // A second space handle subscribing later, then a later write of the unwatched key.
    sb.subscribe('u*', (e) => void events.push(e));
    await (await a.space('s').put('u1', { unwatched: 2 })).synced;
    await until(() => events.length === 3, 'u1 told');
    expect(events.map((e) => [e.key, e.value])).toEqual([
      ['w0', { local: 0 }],
      ['w1', { watched: 1 }],
      ['u1', { unwatched: 2 }],
    ]);
  });

  it('a subscriber that changes the tree it is told changes no read, no later event, and nothing a third replica receives', async () => {
    const a = await replica();
    const b = await replica();
    const c = await replica();
    connect(a, b);
    connect(b, c);
    await synced(a, b, c);
    const told: unknown[] = [];
    b.space('s').subscribe('k', (e) => {
      const v = e.value as { list: unknown[]; n: number; inner: { s: string } };
      v.list.push('mutated');
      v.n = -1;
      v.inner.s = 'mutated';
      (e.siblings[0] as { extra?: boolean }).extra = true;
    });
    b.space('s').subscribe('k', (e) => void told.push(structuredClone(e.value)));
    const original = { list: [1, 2], n: 5, inner: { s: 'orig' } };
    await (await a.space('s').put('k', original)).synced;
    await until(async () => (await c.space('s').get('k')) !== undefined, 'k reached c');
    expect((await b.space('s').get('k'))?.value).toEqual(original);
    expect((await c.space('s').get('k'))?.value).toEqual(original);
    // Each subscriber has an event of its own (doc49; they shared one before): the second sees the value as written.
    expect(told).toEqual([original]);
    // A fourth replica catching up from b gets the original too.
    const d = await replica();
    connect(b, d);
    await until(async () => (await d.space('s').get('k')) !== undefined, 'k reached d');
    expect((await d.space('s').get('k'))?.value).toEqual(original);
  });
});
