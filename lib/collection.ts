/**
 * Tombstone collection (relays, by default): a key whose surviving versions are all tombstones older than
 * `grace` ms keeps only its causal context — no versions. Both invariants of DESIGN.md then follow from the
 * join itself, on every replica and whatever path a version takes: a version the delete superseded is covered
 * by that context and dropped wherever the collected state arrives (also beside a newer write of the key,
 * which joins with it), and nothing the context does not cover is ever refused. The collected state is a
 * change like any other (a new seq, streamed to peers, who drop their tombstones likewise); a collected key
 * is never collected again.
 *
 * A key holding a tombstone of ours that no peer has acknowledged yet (`pending`: replica.pending counts it) is not
 * collected until one has: collected, our delete would live on only in the key's context, which names no version of
 * ours — nothing then tells that the write still waits for a peer (`w.synced` and replica.pending read our versions
 * in the record), and a peer's acknowledgement of a log that never carried the key would count it held.
 */
import { contextOnly } from './dvv.js';
import type { ReplicaCore, StoredChange } from './core.js';
import { record } from './record.js';
import type { KeyRecord } from './storage.js';

/**
 * Collects the tombstones older than `grace` ms in every space; returns how many keys were collected. `pending`: whether
 * the key's record holds a version of ours no peer has acknowledged (such a key is left for a later round).
 */
export async function collectTombstones(core: ReplicaCore, grace: number, pending?: (space: string, key: string, rec: KeyRecord) => boolean): Promise<number> {
  const cutoff = core.now() - grace;
  const expired = (rec: KeyRecord) => rec.vs.length > 0 && rec.vs.every((v) => v.d && v.t < cutoff);
  let collected = 0;
  for (const space of await core.storage.spaces()) {
    const doomed = (key: string, rec: KeyRecord) => expired(rec) && !pending?.(space, key, rec);
    const keys: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await core.storage.scan(space, { limit: 512, ...(after !== undefined ? { after } : {}) });
      for (const [key, rec] of page) if (doomed(key, rec)) keys.push(key);
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
        if (!prev || !doomed(key, prev)) continue;
        const rec = record(key, contextOnly(prev), ++seq);
        tx.put(space, key, rec);
        // Heard in log order per key: a write of the key applied after this one may be heard first (change-order.ts).
        core.noteApplied(space, key, rec.seq);
        changes.push({ space, key, rec, prev, origin: 'remote', collected: true });
      }
      tx.setMeta('seq', seq);
      return seq;
    }).catch((e: unknown) => {
      // Nothing of it stays: the rollback may let the log be read on (a stream held behind a record it replaced).
      for (const c of changes) core.abandonApplied(space, c.key, c.rec.seq);
      throw e;
    });
    core.noteDurable(seq);
    for (const change of changes) core.tellApplied(change);
    collected += changes.length;
  }
  return collected;
}
