// A join committed and durable at once (memory storage's transactNow: every delivery a relay's client joins, S7) tells
// its one change before any other code runs: it is not noted as applied and untold (change-order.ts, pending.ts's ahead
// notes) only for the note to be taken off again. Every other join notes its records before anything else runs, as
// before: several keys at once (a subscriber of the first may write the second), a commit not durable yet, a queued
// transaction, a transaction that throws after applying.
import { afterEach, describe, expect, it } from 'vitest';
import { stateOf, type KeyState } from '../../lib/dvv.js';
import { memoryStorage, type StorageAdapter } from '../../lib/index.js';
import { replicaPool } from './support.js';

const pool = replicaPool();
afterEach(() => pool.closeAll());
const replica = (storage?: StorageAdapter) => pool.replica(storage ? { storage } : {});

/** Another replica's states of `keys` in space s (one write of each), as a peer would send them. */
async function remote(keys: string[]): Promise<{ id: string; entries: Array<[string, KeyState]> }> {
  const w = await replica();
  for (const k of keys) await w.space('s').put(k, `${k} from ${w.replicaId.slice(0, 4)}`);
  const entries: Array<[string, KeyState]> = [];
  for (const k of keys) entries.push([k, stateOf((await w.core.storage.get('s', k))!)]);
  return { id: w.replicaId, entries };
}

/** Records what the core notes as applied and abandoned, and, at each change told, the lowest seq untold. */
function watch(r: Awaited<ReturnType<typeof replica>>) {
  const log: string[] = [];
  const applied = r.core.onApplied;
  const abandoned = r.core.onAbandoned;
  r.core.onApplied = (space, key, seq) => (log.push(`applied ${key}@${seq}`), applied?.(space, key, seq));
  r.core.onAbandoned = (space, key, seq) => (log.push(`abandoned ${key}@${seq}`), abandoned?.(space, key, seq));
  r.core.events.on('change', (c) => void log.push(`told ${c.key}@${c.rec.seq} untold ${r.core.untoldLow}`));
  return log;
}

/** `inner` with transactNow replaced by `now` (given the inner one). */
function withNow(inner: StorageAdapter, now: (real: NonNullable<StorageAdapter['transactNow']>) => StorageAdapter['transactNow']): StorageAdapter {
  const real = inner.transactNow!.bind(inner);
  const replaced = now(real);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'transactNow') return replaced;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('a join committed at once', () => {
  it('of one key is told without being noted as applied', async () => {
    const x = await remote(['k']);
    const r = await replica();
    const log = watch(r);
    const changes = r.core.joinNow('s', x.entries, { peer: x.id });
    expect(Array.isArray(changes)).toBe(true); // committed and told at once
    expect(log).toEqual(['told k@1 untold Infinity']);
    expect(r.core.untoldLow).toBe(Infinity);
    expect((await r.space('s').get('k'))?.value).toBe(`k from ${x.id.slice(0, 4)}`);
  });

  it('of two keys notes both before telling the first: a write inside its event makes the second stale, not told', async () => {
    const x = await remote(['a', 'b']);
    const r = await replica();
    const log = watch(r);
    let wrote: Promise<unknown> | undefined;
    r.space('s').subscribe('a', () => void (wrote ??= r.space('s').put('b', 'ours')));
    r.core.joinNow('s', x.entries, { peer: x.id });
    await wrote;
    // b's write (seq 3) is told while b's joined record (seq 2) waits: that one is then stale, and not told. (The watch
    // listens after the replica's own listeners, inside which the subscriber writes: it hears b's write first.)
    expect(log).toEqual(['applied a@1', 'applied b@2', 'told b@3 untold 2', 'told a@1 untold 2']);
    expect(r.core.untoldLow).toBe(Infinity);
    expect((await r.space('s').get('b'))?.value).toBe('ours');
    expect(r.pending).toBe(1);
  });

  it('of one key with a write of it inside its event: the write is told after it and counted', async () => {
    const x = await remote(['k']);
    const r = await replica();
    const log = watch(r);
    let wrote: Promise<unknown> | undefined;
    r.space('s').subscribe('k', (e) => void (e.origin === 'remote' && (wrote ??= r.space('s').put('k', 'ours'))));
    r.core.joinNow('s', x.entries, { peer: x.id });
    await wrote;
    // Heard by the watch after the write's (see above); the write's record is what the key holds, and it counts.
    expect(log).toEqual(['told k@2 untold Infinity', 'told k@1 untold Infinity']);
    expect((await r.space('s').get('k'))?.value).toBe('ours');
    expect(r.pending).toBe(1);
  });
});

describe('a join not told at once notes its records first', () => {
  it('committed at once but not durable yet (a file storage in a group commit)', async () => {
    const x = await remote(['k']);
    let durable!: () => void;
    const storage = withNow(memoryStorage(), (real) => (fn) => {
      const out = real(fn);
      return out && { value: out.value, durable: new Promise<void>((res) => (durable = res)) };
    });
    const r = await replica(storage);
    const log = watch(r);
    const told = r.core.joinNow('s', x.entries, { peer: x.id });
    expect(told).toBeInstanceOf(Promise);
    expect(log).toEqual(['applied k@1']);
    expect(r.core.untoldLow).toBe(1);
    durable();
    await told;
    expect(log).toEqual(['applied k@1', 'told k@1 untold Infinity']);
  });

  it('queued behind a running transaction', async () => {
    const x = await remote(['k']);
    const r = await replica();
    const log = watch(r);
    let release!: () => void;
    const busy = r.core.storage.transact(() => new Promise<void>((res) => (release = res)));
    const told = r.core.join('s', x.entries, { peer: x.id });
    release();
    await Promise.all([busy, told]);
    expect(log).toEqual(['applied k@1', 'told k@1 untold Infinity']);
  });

  it('whose transaction throws once it applied: noted, then taken back, nothing told', async () => {
    const x = await remote(['k']);
    const storage = withNow(memoryStorage(), (real) => (fn) => {
      real(fn);
      throw new Error('the storage failed after applying');
    });
    const r = await replica(storage);
    const log = watch(r);
    expect(() => r.core.joinNow('s', x.entries, { peer: x.id })).toThrow('the storage failed after applying');
    expect(log).toEqual(['applied k@1', 'abandoned k@1']);
    expect(r.core.untoldLow).toBe(Infinity);
  });
});
