/**
 * A new identity for this replica, two ways.
 *
 * After a restore was detected (epochs.ts lostWrites: a peer holds a dot of ours that our storage lost, so this
 * storage was restored from an older copy, or copied), `reidentify` mints a new replicaId (and log epoch) and
 * re-issues under it the writes made under the old id past the restore point (identity.ts), so no dot ever names
 * two values and nothing written since the restore is lost. Another tab sharing the storage may write under the
 * old id meanwhile: a write it committed while the keys to re-issue were read is re-issued by a second pass; one
 * after the new identity is stored reads that identity before it mints (core.ts prepareWrite), since the
 * re-identification moves the log's seq.
 *
 * When a relay refuses our replicaId, `renewIdentity` mints a new one and re-issues nothing.
 */
import type { AckTracker } from './acks.js';
import type { CoreEvents, StoredChange } from './core.js';
import { reissueDropped } from './dropped-own.js';
import { epochEnd, restorePoint, type EpochEntry, type Seen } from './epochs.js';
import { ConcordError } from './errors.js';
import type { Emitter } from './events.js';
import type { HybridClock } from './hlc.js';
import { IDENTITY_META, mintedUntaggedPast, mintEpoch, mintIdentity, noteFormer, reissue, reissueUnder, type Identity, type Reissued } from './identity.js';
import { record } from './record.js';
import type { StorageAdapter, StorageTx } from './storage.js';

/** What of the replica core a re-identification reads and changes. */
export interface IdentityOwner {
  readonly storage: StorageAdapter;
  readonly clock: HybridClock;
  readonly acks: AckTracker;
  readonly events: Emitter<CoreEvents>;
  readonly seeded: (() => number) | undefined;
  identity(): Identity;
  setIdentity(identity: Identity): void;
  /** The log's top as the storage holds it (core.ts storedTop). */
  storedTop(): Promise<number>;
  /** Every transaction up to `seq` committed and is durable. */
  committed(seq: number): void;
  /** This instance committed `seq` in `space` (external.ts). */
  noteOwn(space: string, seq: number): void;
  /** A transaction of the change failed: an identity read meanwhile from one not durable goes (core.ts `unsure`). */
  failed(): void;
}

/**
 * Re-identifies the replica after `peer` told it of writes its storage lost (the restore point is the end of the
 * epoch we last told it of), or after a received state claimed counters of ours past the log's top (`point`: the
 * latest open, restore-claims.ts). The caller closes every session.
 */
export async function reidentify(owner: IdentityOwner, cause: Cause): Promise<void> {
  const old = owner.identity();
  // Sessions stop first: a log page read before the re-issue may hold dots past the restore point that it strips.
  owner.events.emit('reidentifying', { oldId: old.id });
  try {
    await reissueAll(owner, old, cause);
  } finally {
    owner.events.emit('reidentifying', { oldId: old.id, over: true });
  }
}

/**
 * What showed the restore: a peer's word (`claims`: what it holds of ours, the epoch we announced then), or a
 * received state's counters (`point`: restore-claims.ts).
 */
export type Cause = { peer: string; claims: readonly Seen[] } | { point: number };

/**
 * Where the writes to re-issue begin. A peer's claim names the epoch its dots were delivered in: our history
 * continued that epoch only up to its end here, so everything past that end is suspect, even across later opens
 * (a restored copy opened, crashed and opened again); else the end of the epoch we last told that peer of.
 */
async function pointOf(owner: IdentityOwner, history: readonly EpochEntry[], cause: Cause): Promise<number> {
  if ('point' in cause) return cause.point;
  const top = await owner.storedTop();
  let point = restorePoint(history, top, await owner.storage.getMeta<string>('told:' + cause.peer));
  for (const seen of cause.claims) {
    const end = epochEnd(history, seen.e, top);
    if (end !== undefined && seen.n > end && end < point) point = end;
  }
  return point;
}

async function reissueAll(owner: IdentityOwner, old: Identity, cause: Cause): Promise<void> {
  const point = await pointOf(owner, old.history, cause);
  const tick = () => owner.clock.tick();
  let identity = old;
  // A tagging storage whose untagged dots all lie at or below the point strips none: one past it is a lost write, received.
  const strips = mintedUntaggedPast(old, point);
  const changes = await rewrite(owner, strips ? await keysPast(owner.storage, point) : [], async (tx, touched) => {
    const out = await reissue(tx, old, point, touched, tick, owner.seeded);
    identity = out.identity;
    return out;
  });
  owner.setIdentity(identity);
  // A tab sharing the storage may have written under the old id while the keys were read: those too.
  if (strips) changes.push(...(await rewrite(owner, await keysPast(owner.storage, point), (tx, touched) => reissueUnder(tx, identity.id, old.id, point, touched, tick, mintEpoch(identity)))));
  // And the writes since the restore that joins dropped before we knew (a peer's context saw their dots used before).
  changes.push(...(await rewrite(owner, [], (tx) => reissueDropped(tx, identity.id, old.id, point, tick, mintEpoch(identity)))));
  owner.acks.reissued(point, changes.map((c) => [c.space, c.rec.seq] as const));
  owner.events.emit('reidentified', { oldId: old.id, newId: identity.id });
  owner.events.emit('error', new ConcordError('RESTORED', `a peer holds writes of this replica that its storage lost (restored from an older copy?): it now writes as a new replica ${identity.id}, and re-issued ${changes.length} write(s) made after the restore point`));
  for (const change of changes) {
    owner.noteOwn(change.space, change.rec.seq);
    owner.events.emit('change', change);
  }
}

/**
 * A relay refused our replicaId (another principal uses it there, principals.ts): take a new one. Unlike
 * `reidentify` nothing is re-issued — our dots so far are ours and name what they named.
 */
export async function renewIdentity(owner: IdentityOwner): Promise<void> {
  const old = owner.identity();
  const next = mintIdentity(0, owner.seeded, old.tagged !== undefined);
  await owner.storage
    .transact((tx) => {
      tx.setMeta(IDENTITY_META, next);
      return noteFormer(tx, old.id);
    })
    .catch((e: unknown) => {
      owner.failed();
      throw e;
    });
  owner.setIdentity(next);
  owner.events.emit('reidentified', { oldId: old.id, newId: next.id });
  owner.events.emit('error', new ConcordError('UNAUTHORIZED', `a relay refused replicaId ${old.id} (in use by another user there): this replica now writes as ${next.id}`));
}

/** Every key, of every space, whose record sits past `seq` in the log. */
async function keysPast(storage: StorageAdapter, seq: number): Promise<Array<[string, string]>> {
  const keys: Array<[string, string]> = [];
  for (const space of await storage.spaces()) {
    for (const e of await storage.index(space)) if (e.seq > seq) keys.push([space, e.key]);
  }
  return keys;
}

/** Runs a re-issue in one transaction and stores the records it rewrote: their changes. */
async function rewrite(
  owner: IdentityOwner,
  touched: ReadonlyArray<readonly [string, string]>,
  reissueIn: (tx: StorageTx, touched: ReadonlyArray<readonly [string, string]>) => Promise<{ rewritten: Reissued[]; seq: number }>,
): Promise<StoredChange[]> {
  const changes: StoredChange[] = [];
  const seq = await owner.storage
    .transact(async (tx) => {
      changes.length = 0;
      const out = await reissueIn(tx, touched);
      for (const r of out.rewritten) {
        const prev = await tx.get(r.space, r.key);
        const rec = record(r.key, r.state, r.seq);
        tx.put(r.space, r.key, rec);
        changes.push({ space: r.space, key: r.key, rec, prev, origin: 'local' });
      }
      return out.seq;
    })
    .catch((e: unknown) => {
      owner.failed();
      throw e;
    });
  owner.committed(seq);
  return changes;
}
