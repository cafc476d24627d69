/**
 * Tombstone collection (relays, by default): a key whose surviving versions are all tombstones older than
 * `grace` ms keeps only its causal context — no versions. Both invariants of DESIGN.md then follow from the
 * join itself, on every replica and whatever path a version takes: a version the delete superseded is covered
 * by that context and dropped wherever the collected state arrives (also beside a newer write of the key,
 * which joins with it), and nothing the context does not cover is ever refused. The collected state is a
 * change like any other (a new seq, streamed to peers, who drop their tombstones likewise); a collected key
 * is never collected again.
 */
import type { ReplicaCore, StoredChange } from './core.js';
import { record } from './record.js';
import type { KeyRecord } from './storage.js';

/** Collects the tombstones older than `grace` ms in every space; returns how many keys were collected. */
export async function collectTombstones(core: ReplicaCore, grace: number): Promise<number> {
  const cutoff = core.now() - grace;
  const doomed = (rec: KeyRecord) => rec.vs.length > 0 && rec.vs.every((v) => v.d && v.t < cutoff);
  let collected = 0;
  for (const space of await core.storage.spaces()) {
    const keys: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await core.storage.scan(space, { limit: 512, ...(after !== undefined ? { after } : {}) });
      for (const [key, rec] of page) if (doomed(rec)) keys.push(key);
      if (page.length < 512) break;
      after = page[page.length - 1]![0];
    }
    if (keys.length === 0) continue;
    const changes: StoredChange[] = [];
    const seq = await core.storage.transact(async (tx) => {
      changes.length = 0;
      let seq = (await tx.getMeta<number>('seq')) ?? 0;
      for (const key of keys) {
        const prev = await tx.get(space, key);
        if (!prev || !doomed(prev)) continue;
        const rec = record(key, { vs: [], cc: prev.cc }, ++seq);
        tx.put(space, key, rec);
        changes.push({ space, key, rec, prev, origin: 'remote', collected: true });
      }
      tx.setMeta('seq', seq);
      return seq;
    });
    core.noteDurable(seq);
    for (const change of changes) core.events.emit('change', change);
    collected += changes.length;
  }
  return collected;
}
