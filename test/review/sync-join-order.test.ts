/**
 * Review of s7k (core.ts joinNow): joins of received states that run back to back, one that must wait (a transaction is
 * running; the storage answers it late) and one committed and told at once, and a subscriber that writes, inside one
 * key's event, a key later in the same frame. What is told last of a key is what it holds, an older record is never told
 * after a newer one, and nothing stays untold (the pending floor moves on).
 */
import { describe, expect, it } from 'vitest';
import { stateOf, type KeyState } from '../../lib/dvv.js';
import type { StoredChange } from '../../lib/core.js';
import { memoryStorage, openReplica, type ChangeEvent, type Replica } from '../../lib/index.js';
import { dump, synced, until } from '../sync/support.js';
import { paired, value } from './paired.js';

const { undo, connect } = paired();

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  undo.push(() => r.close());
  return r;
}

/** Another replica's state of key `k` of space s (one write of `v`), as a peer would send it. */
async function remote(v: unknown): Promise<{ id: string; state: KeyState }> {
  const w = await replica();
  await w.space('s').put('k', v);
  return { id: w.replicaId, state: stateOf((await w.core.storage.get('s', 'k'))!) };
}

describe('joins run back to back', () => {
  it('one queued behind a transaction and answered late, one committed at once: the older record is not told after the newer, nothing stays untold', async () => {
    const b = await replica();
    const x = await remote('from x');
    const y = await remote('from y');
    const storage = b.core.storage;
    // The storage answers its queued transactions 30 ms after they commit (it promises no order of answers).
    const transact = storage.transact.bind(storage);
    storage.transact = <T>(fn: Parameters<typeof transact<T>>[0]) =>
      transact(fn).then((v) => new Promise<T>((res) => setTimeout(() => res(v), 30)));
    const told: StoredChange[] = [];
    b.core.events.on('change', (c) => void told.push(c));
    let open!: () => void;
    const busy = storage.transact(() => new Promise<void>((res) => (open = res)));
    const first = b.core.join('s', [['k', x.state]], { peer: x.id });
    open();
    await until(async () => (await storage.get('s', 'k')) !== undefined, "x's join committed");
    expect(told).toEqual([]); // committed, its answer still on its way
    const second = await b.core.join('s', [['k', y.state]], { peer: y.id });
    expect(second.map((c) => c.key)).toEqual(['k']);
    await first;
    await busy;
    const rec = (await storage.get('s', 'k'))!;
    expect(rec.vs.map((v) => v.r).sort()).toEqual([x.id, y.id].sort());
    // Told in log order (an older record heard after a newer one is stale, not told), the last the stored one: here
    // the newer only, as the join committed at once is told first (both, in order, where both wait: 0011a22).
    const seqs = told.map((c) => c.rec.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    expect(seqs.at(-1)).toBe(rec.seq);
    expect(b.core.untoldLow).toBe(Infinity);
    const got = await b.space('s').get('k');
    expect([...(got?.siblings ?? [])].sort()).toEqual(['from x', 'from y']);
  });

  it('a subscriber writing, in the event of one key of a catch-up frame, a key later in that frame: the last event of each key is what it holds, and both converge', async () => {
    const a = await replica();
    const b = await replica();
    for (let i = 0; i < 6; i++) await a.space('s').put('k' + i, 'a' + i);
    const events: ChangeEvent[] = [];
    let wrote: Promise<unknown> | undefined;
    b.space('s').subscribe('k*', (e) => {
      if (e.key === 'k1' && e.origin === 'remote') wrote ??= b.space('s').put('k4', 'b4').then((w) => w.synced);
    });
    b.space('s').subscribe('k*', (e) => void events.push(e));
    connect(a, b);
    await until(() => wrote !== undefined, 'k1 told');
    await wrote;
    await until(async () => (await value(a, 'k4')) === 'b4', "b's write reached a");
    await synced(a, b);
    expect(await dump(b, 's')).toEqual(await dump(a, 's'));
    const last = new Map<string, unknown>();
    for (const e of events) last.set(e.key, e.siblings);
    for (let i = 0; i < 6; i++) expect([i, last.get('k' + i)]).toEqual([i, (await b.space('s').get('k' + i))?.siblings]);
    expect(b.core.untoldLow).toBe(Infinity);
    expect(b.pending).toBe(0);
  });

  it('a join of several keys whose transaction throws after it applied them (its cursor record): nothing kept, nothing told, nothing left untold; the same join again stores and tells them all', async () => {
    const b = await replica();
    const states: Array<[string, KeyState]> = [];
    let id = '';
    for (const k of ['k1', 'k2', 'k3']) {
      const x = await remote(k);
      id = x.id;
      states.push([k, x.state]);
    }
    const told: string[] = [];
    b.core.events.on('change', (c) => void told.push(c.key));
    const seq = await b.core.storage.getMeta('seq');
    expect(() => b.core.joinNow('s', states, { peer: id, alsoInTx: () => { throw new Error('cursor write failed'); } })).toThrow('cursor write failed');
    expect(told).toEqual([]);
    expect(b.core.untoldLow).toBe(Infinity);
    expect(await b.core.storage.getMeta('seq')).toBe(seq);
    for (const [k] of states) expect(await b.core.storage.get('s', k)).toBeUndefined();
    const again = b.core.joinNow('s', states, { peer: id });
    expect(again).not.toBeInstanceOf(Promise);
    expect(told).toEqual(['k1', 'k2', 'k3']);
    expect(b.core.untoldLow).toBe(Infinity);
    expect(b.pending).toBe(0);
  });
});
