/**
 * Test helpers: replicas over memory storage, state exchange without the sync engine (what a link does:
 * read a key's stored record on one replica and join it into another), and a seeded PRNG.
 */
import { memoryStorage, openReplica, type Replica, type ReplicaOptions } from '../../lib/index.js';
import { stateOf, type KeyState } from '../../lib/dvv.js';

export async function replicas(n: number, options: Omit<ReplicaOptions, 'storage'> = {}): Promise<Replica[]> {
  const out: Replica[] = [];
  for (let i = 0; i < n; i++) out.push(await openReplica({ storage: memoryStorage(), ...options }));
  return out;
}

/** Sends `from`'s stored state of each key to `to` (a join). Returns how many keys changed on `to`. */
export async function exchange(from: Replica, to: Replica, space: string, keys: readonly string[]): Promise<number> {
  let changed = 0;
  for (const key of keys) {
    const rec = await from.core.storage.get(space, key);
    if (rec) changed += (await to.core.join(space, [[key, rec]])).length;
  }
  return changed;
}

/** The state of `key` in space s a replica `open` gives wrote as `v`, as a peer would send it, and that replica's id. */
export async function writtenState(open: () => Promise<Replica>, key: string, v: unknown): Promise<{ id: string; state: KeyState }> {
  const w = await open();
  await w.space('s').put(key, v);
  return { id: w.replicaId, state: stateOf((await w.core.storage.get('s', key))!) };
}

/** Both ways. */
export async function sync(a: Replica, b: Replica, space: string, keys: readonly string[]): Promise<void> {
  await exchange(a, b, space, keys);
  await exchange(b, a, space, keys);
}

/** The replica's change-log sequence (advances on every stored change). */
export async function seqOf(r: Replica): Promise<number> {
  return (await r.core.storage.getMeta<number>('seq')) ?? 0;
}

/** The library's seeded PRNG (mulberry32), so a failing run replays from its seed. */
import { prng } from '../../lib/check-merge.js';
export { prng };

/** A seed for a randomized test: SEED from the environment, else a random one (print it in assertion messages). */
export function testSeed(): number {
  return process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);
}
