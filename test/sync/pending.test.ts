// replica.pending and replica.whenSynced(): keys holding a local write no peer acknowledged yet, derived from the
// log and the stored acknowledgement floors (right after a reopen or a crash), a 'pending' event, and a promise
// that resolves once the status is 'synced' with nothing pending (waits offline, rejects on close or abort).
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError, memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { MIN_STORED } from '../../lib/pending.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { countingReads, dump, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

async function replica(storage: StorageAdapter = memoryStorage()): Promise<Replica> {
  const r = await openReplica({ storage });
  open.push(r);
  return r;
}

function link(a: Replica, b: Replica) {
  const [ta, tb] = pairTransports();
  const la = a.connect(ta);
  const lb = b.connect(tb);
  return { close: () => (la.close(), lb.close()) };
}

/** Settles promise state without timing: a few macrotask turns. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

function state(p: Promise<unknown>) {
  const s: { value: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { value: 'pending' };
  p.then(
    () => (s.value = 'resolved'),
    (e: unknown) => ((s.value = 'rejected'), (s.error = e)),
  );
  return s;
}


describe('replica.pending', () => {
  it('counts keys with unacknowledged local writes (a key written twice once), reports changes, and drops to 0 once a peer stored them', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    const counts: number[] = [];
    a.on('pending', (n) => counts.push(n));
    const s = a.space('s');
    b.space('s');
    expect(a.pending).toBe(0);
    const w1 = await s.put('k1', 1);
    await s.put('k1', 2);
    await s.put('k2', 1);
    await s.delete('k2');
    await s.put('k3', 1);
    expect(a.pending).toBe(3);
    expect(counts).toEqual([1, 2, 3]);
    expect(w1.durability).toBe('local');
    link(a, b);
    await w1.synced;
    await until(() => a.pending === 0, 'every write acknowledged');
    expect(counts.at(-1)).toBe(0);
    expect(b.pending).toBe(0); // b holds a's writes, none of its own
    expect(Object.keys(await dump(b, 's')).sort()).toEqual(['k1', 'k3']);
  });

  it('a key another replica overwrote after reading our write is not pending, a concurrent one still is', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    const l = link(a, b);
    await (await a.space('s').put('k', 'a1')).synced;
    l.close();
    await a.space('s').put('k', 'a2'); // offline: pending
    expect(a.pending).toBe(1);
    await b.space('s').put('k', 'b1'); // concurrent with a2
    link(a, b);
    await until(() => a.pending === 0, 'a2 acknowledged');
    const r = await a.space('s').get('k');
    expect(r?.siblings.sort()).toEqual(['a2', 'b1']);
  });

  it('is derived from the log after a reopen: offline writes still count, acknowledged ones do not; a space not opened again is synced anyway', async () => {
    const storage = memoryStorage();
    const a = await replica(storage);
    await a.space('x').put('k1', 1);
    await a.space('x').put('k2', 1);
    await a.space('y').put('k', 1);
    expect(a.pending).toBe(3);
    await a.close();

    const again = await replica(storage);
    expect(again.pending).toBe(3); // nothing was acknowledged: the log says so, not memory
    const b = await replica();
    b.space('y'); // b syncs only y; x reaches b because `again` syncs the spaces holding pending writes
    link(again, b);
    await again.whenSynced();
    expect(again.pending).toBe(0);
    expect(Object.keys(await dump(b, 'x')).sort()).toEqual(['k1', 'k2']);
    await again.close();

    const third = await replica(storage);
    expect(third.pending).toBe(0);
  });

  it('the acknowledgement that cleared pending writes is stored at once: a crash right after loses no acknowledgement', async () => {
    const storage = volatileStorage();
    const [a, b] = await Promise.all([replica(storage), replica()]);
    a.space('s');
    b.space('s');
    await a.space('s').put('k', 1);
    await a.space('s').put('j', 1);
    link(a, b);
    await until(() => a.pending === 0, 'acknowledged');
    await turns();
    const after = await replica(await storage.crashed());
    expect(after.pending).toBe(0);
  });

  it('a replica that only receives stores its floor, so reopening reads none of the log again', async () => {
    const storage = memoryStorage();
    const [a, b] = await Promise.all([replica(storage), replica()]);
    a.space('s');
    const sb = b.space('s');
    link(a, b);
    await Promise.all(Array.from({ length: 1500 }, (_, i) => sb.put(`k${i}`, i)));
    await until(async () => Object.keys(await dump(a, 's')).length === 1500, 'a received everything');
    await a.close();
    const counted = countingReads(storage);
    const again = await replica(counted.storage);
    expect(again.pending).toBe(0);
    expect(counted.read()).toBe(0);
  });
});

// A clean close stores the pending keys (from MIN_STORED of them on), so an open after it reads none of their records
// (S6: 100 000 unacknowledged writes cost a decode each). Each case below is a way those stored keys could be wrong.
describe('replica.pending kept at a clean close', () => {
  /** Enough pending writes in a space of their own for a clean close to keep them. */
  const bulk = (r: Replica) => Promise.all(Array.from({ length: MIN_STORED }, (_, i) => r.space('bulk').put(`m${i}`, i)));

  it('an open after a clean close counts the pending keys without reading their records, and they still clear', async () => {
    const storage = memoryStorage();
    const a = await replica(storage);
    for (let i = 0; i < 300; i++) await a.space(i % 2 ? 'x' : 'y').put(`k${i}`, i);
    for (const odd of ['3:abc', 'a\u0000b', ':', '😀,1', '10']) await a.space('y').put(odd, odd);
    await bulk(a);
    await a.close();
    const counted = countingReads(storage);
    const again = await replica(counted.storage);
    expect(again.pending).toBe(305 + MIN_STORED);
    expect(counted.read()).toBe(0);
    const b = await replica();
    link(again, b);
    await again.whenSynced();
    expect(again.pending).toBe(0);
  });

  it('writes made after the clean close by an open that crashed count, and so do the kept ones', async () => {
    const storage = volatileStorage();
    const a = await replica(storage);
    await a.space('s').put('before', 1);
    await bulk(a);
    await a.close();
    const b = await replica(storage);
    expect(b.pending).toBe(1 + MIN_STORED);
    await b.space('s').put('after', 1);
    await b.space('s').put('before', 2);
    const crashed = await storage.crashed(); // b never closes cleanly
    const c = await replica(crashed);
    expect(c.pending).toBe(2 + MIN_STORED);
  });

  it('keys acknowledged after the clean close (by another instance, or before a crash) no longer count', async () => {
    const storage = volatileStorage();
    const a = await replica(storage);
    await a.space('s').put('k', 1);
    await a.space('s').put('j', 1);
    await bulk(a);
    await a.close();
    const b = await replica(storage);
    const peer = await replica();
    peer.space('s');
    link(b, peer);
    await until(() => b.pending === 0, 'acknowledged');
    await turns();
    const c = await replica(await storage.crashed()); // b never wrote new stored keys
    expect(c.pending).toBe(0);
  });

  it('a kept key whose record another replica\'s write superseded after the close no longer counts', async () => {
    const storage = volatileStorage();
    const a = await replica(storage);
    const w = await a.space('s').put('k', 'ours');
    await bulk(a);
    await a.close();
    const b = await replica(storage);
    expect(b.pending).toBe(1 + MIN_STORED);
    // Another replica read our write and wrote over it; its state reaches b (by a join: no acknowledgement of b's log).
    const theirs = { r: 'Zother00000000000', n: 1, t: Date.now(), c: 0, v: JSON.stringify('theirs') };
    await b.core.join('s', [['k', { vs: [theirs], cc: { [b.replicaId]: w.seq, [theirs.r]: 1 } }]]);
    expect(b.pending).toBe(MIN_STORED);
    const c = await replica(await storage.crashed()); // b never closes cleanly
    expect(c.pending).toBe(MIN_STORED);
  });

  it('kept keys naming a log top the storage does not hold (meta and log from different copies) are not trusted', async () => {
    const storage = volatileStorage();
    const a = await replica(storage);
    for (let i = 0; i < 5; i++) await a.space('s').put(`k${i}`, i);
    await bulk(a);
    await a.close();
    const b = await replica(storage);
    await b.space('s').put('after', 1);
    const crashed = await storage.crashed();
    const skewed: StorageAdapter = {
      ...countingReads(crashed).storage,
      getMeta: async (name: string) => {
        const v = await crashed.getMeta<{ top: number }>(name);
        return (name === 'pending' && v ? { ...v, top: v.top + 1000 } : v) as never;
      },
    };
    const c = await replica(skewed);
    expect(c.pending).toBe(6 + MIN_STORED); // trusted, they would hide 'after', written above their top
  });
});

describe('replica.pending against forged input', () => {
  it('a version under our id that we never wrote (arriving by a join, its counter far above our log) clears once its entry is acknowledged', async () => {
    const storage = memoryStorage();
    const [a, b] = await Promise.all([replica(storage), replica()]);
    a.space('s');
    b.space('s');
    const forged = { vs: [{ r: a.replicaId, n: 1e9, t: Date.now(), c: 0, v: '"not mine"' }], cc: { [a.replicaId]: 1e9 } };
    await a.core.join('s', [['k', forged]]);
    link(a, b);
    await a.whenSynced();
    expect(a.pending).toBe(0);
    await a.close();
    const again = await replica(storage);
    expect(again.pending).toBe(0);
  });
});

describe('replica.whenSynced()', () => {
  it('waits with no link and while offline, resolves once synced with nothing pending', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    await a.space('s').put('k', 1);
    const waiting = state(a.whenSynced());
    await turns();
    expect(waiting.value).toBe('pending'); // no link at all: waits
    const [ta] = pairTransports(); // a link whose peer never answers: connecting, never synced
    const dead = a.connect(ta);
    await turns();
    expect(a.status).toBe('connecting');
    expect(waiting.value).toBe('pending');
    dead.close();
    link(a, b);
    await until(() => waiting.value === 'resolved', 'resolved after the link synced');
    expect(a.status).toBe('synced');
    expect(a.pending).toBe(0);
    // Already synced: resolves at once.
    await a.whenSynced();
  });

  it('is not satisfied by a synced status while a local write waits for its acknowledgement', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    link(a, b);
    await a.whenSynced();
    // Not awaited: a write still being stored counts too.
    const w = a.space('s').put('k', 1);
    const waiting = state(a.whenSynced());
    await w;
    expect(a.pending).toBe(1);
    // Between the write and its acknowledgement, the status is never 'synced'.
    const seen: string[] = [];
    a.on('status', (s) => seen.push(`${s}:${a.pending}`));
    await until(() => waiting.value === 'resolved', 'resolved after the acknowledgement');
    expect(seen.filter((s) => s.startsWith('synced:') && s !== 'synced:0')).toEqual([]);
    expect(a.pending).toBe(0);
  });

  it('rejects with CLOSED when the replica closes first (and at once when closed), and with the reason on abort', async () => {
    const a = await replica();
    await a.space('s').put('k', 1);
    const controller = new AbortController();
    const aborted = state(a.whenSynced({ signal: controller.signal }));
    const closing = state(a.whenSynced());
    controller.abort(new Error('gave up'));
    await turns();
    expect(aborted.value).toBe('rejected');
    expect((aborted.error as Error).message).toBe('gave up');
    expect(closing.value).toBe('pending');
    await a.close();
    await turns();
    expect(closing.value).toBe('rejected');
    expect(closing.error).toBeInstanceOf(ConcordError);
    expect((closing.error as ConcordError).code).toBe('CLOSED');
    await expect(a.whenSynced()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
