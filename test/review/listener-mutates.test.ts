/**
 * Review doc49 (an app listener that rewrites what it is handed): every subscriber of a change gets an event of its
 * own, every presence subscriber a member list of its own. Handed one object for all, a listener that rewrote `e.key`
 * (or pushed to `siblings`, or edited `value` in place) changed what every later listener saw — concord/react's
 * stores among them, which then missed the change.
 */
import { describe, expect, it } from 'vitest';
import { PresenceStore, ValueStore } from '../../adapters/react/stores.js';
import { memoryStorage, pairTransports, type ChangeEvent, type PresenceMember, type Replica } from '../../lib/index.js';
import { openReplica } from '../../lib/replica.js';
import { synced, until } from '../sync/support.js';
import { paired } from './paired.js';

const { undo, connect } = paired();

async function open(options: { presenceTtl?: number } = {}): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), ...options });
  undo.push(() => r.close());
  r.space('s');
  return r;
}

/** Rewrites everything in a change event it can reach: its fields, its siblings, the value inside. */
function vandal(e: ChangeEvent): void {
  const w = e as unknown as Record<string, unknown>;
  const value = e.value as Record<string, unknown> | undefined;
  if (value && typeof value === 'object') {
    value.title = 'vandalized';
    (value.tags as unknown[] | undefined)?.push('vandalized');
  }
  e.siblings.push('vandalized');
  w.key = 'elsewhere';
  w.value = 'vandalized';
  w.origin = e.origin === 'local' ? 'remote' : 'local';
  w.deleted = !e.deleted;
  w.conflict = !e.conflict;
}

const plain = (e: ChangeEvent) => JSON.parse(JSON.stringify({ ...e })) as unknown;

describe('change events: a listener that rewrites its event changes nothing the next one is handed', () => {
  it('local and remote writes, a conflict and a delete: each later listener sees the change as stored', async () => {
    const a = await open();
    const b = await open();
    const seen: unknown[] = [];
    const sb = b.space('s');
    sb.subscribe('*', vandal);
    sb.subscribe('doc/*', (e) => seen.push(plain(e)));
    sb.subscribe('*', vandal);
    const c = await open(); // writes doc/2 beside b: a conflict
    connect(a, b);
    connect(a, c);
    await synced(a, b, c);
    await a.space('s').put('doc/1', { title: 'from a', tags: ['x'] });
    await synced(a, b, c);
    // Writes of one key on b and c in the same turn, neither holding the other's: a conflict both show.
    await Promise.all([b.space('s').put('doc/2', { title: 'b', tags: [] }), c.space('s').put('doc/2', { title: 'c', tags: [] })]);
    await synced(a, b, c);
    await until(async () => (await sb.get('doc/2'))?.conflict === true, 'b shows the conflict');
    await a.space('s').delete('doc/1');
    await synced(a, b, c);
    const last = <T>(xs: T[], key: string) => xs.filter((e) => (e as { key: string }).key === key).at(-1);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const e of seen) expect((e as { key: string }).key.startsWith('doc/')).toBe(true);
    expect(seen[0]).toEqual({ key: 'doc/1', value: { title: 'from a', tags: ['x'] }, siblings: [{ title: 'from a', tags: ['x'] }], conflict: false, deleted: false, origin: 'remote' });
    expect(last(seen, 'doc/1')).toEqual({ key: 'doc/1', siblings: [], conflict: false, deleted: true, origin: 'remote' });
    const conflict = last(seen, 'doc/2') as { conflict: boolean; siblings: unknown[] };
    expect(conflict.conflict).toBe(true);
    expect(conflict.siblings).toHaveLength(2);
    expect(conflict.siblings).not.toContain('vandalized');
    // Nothing in what b's listener saw the vandals put there; b's own reads unchanged too.
    expect(JSON.stringify(seen)).not.toContain('vandalized');
    expect((await sb.get('doc/2'))?.siblings).not.toContain('vandalized');
  });

  it("concord/react's value store after a listener that rewrites e.key: it still reads the change", async () => {
    const r = await open();
    const s = r.space('s');
    await s.put('k', 1);
    s.subscribe('k', vandal); // subscribed first: called first
    const store = new ValueStore<number>(s, 'k', () => undefined);
    const stop = store.subscribe(() => undefined);
    undo.push(async () => stop());
    await until(() => store.getSnapshot().value === 1, 'the first read');
    await s.put('k', 2);
    await until(() => store.getSnapshot().value === 2, `the store reading the change (it shows ${String(store.getSnapshot().value)})`, 2000);
  });
});

describe('presence: a subscriber that rewrites its member list changes nothing the next one is handed', () => {
  it("a list sorted, spliced and edited by one subscriber; the next, and concord/react's presence store, see it whole", async () => {
    const a = await open({ presenceTtl: 3000 });
    const b = await open({ presenceTtl: 3000 });
    connect(a, b);
    await synced(a, b);
    const pb = b.space('s').presence;
    const lists: PresenceMember[][] = [];
    pb.subscribe((members) => {
      members.reverse();
      members.splice(0, 1);
      for (const m of members) (m as { id: string }).id = 'vandalized';
    });
    pb.subscribe((members) => lists.push(JSON.parse(JSON.stringify(members)) as PresenceMember[]));
    const store = new PresenceStore(b.space('s'), () => undefined);
    const stop = store.subscribe(() => undefined);
    undo.push(async () => stop());
    pb.subscribe((members) => members.splice(0)); // after the store: it empties the array the store kept
    b.space('s').presence.set({ name: 'Bob' });
    a.space('s').presence.set({ name: 'Ada' });
    await until(() => lists.at(-1)?.length === 2, 'b told of both');
    const ids = [a.replicaId, b.replicaId].sort();
    const told = lists.at(-1)!;
    expect(told.map((m) => m.replicaId)).toEqual(ids);
    expect(told.map((m) => m.id.split('~')[0])).toEqual(ids);
    expect(told.map((m) => m.meta)).toEqual(ids.map((id) => ({ name: id === a.replicaId ? 'Ada' : 'Bob' })));
    expect(store.getSnapshot().map((m) => m.id)).toEqual(told.map((m) => m.id));
  });
});

describe("the replica's antiEntropy event: a listener that rewrites the run changes nothing the next one is handed", () => {
  it('the next listener sees the run as it was (the rewrite refused, told on error)', async () => {
    const a = await open();
    const b = await open();
    const runs: unknown[] = [];
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    b.on('antiEntropy', (run) => {
      const w = run as unknown as Record<string, unknown>;
      w.space = 'elsewhere';
      w.peer = 'nobody';
      w.keysReceived = -1;
    });
    b.on('antiEntropy', (run) => runs.push({ ...run }));
    await a.space('s').put('k', 1);
    const [ta, tb] = pairTransports();
    const links = [a.connect(ta, { antiEntropyInterval: 20 }), b.connect(tb, { antiEntropyInterval: 20 })];
    undo.push(async () => links.forEach((l) => l.close()));
    await until(() => runs.length > 0, "b's first run");
    expect(runs[0]).toMatchObject({ space: 's', peer: a.replicaId });
    expect((runs[0] as { keysReceived: number }).keysReceived).toBeGreaterThanOrEqual(0);
    expect(errors.some((e) => e instanceof TypeError)).toBe(true); // the vandal's write to the frozen run, told
  });
});
