/**
 * A new identity for this replica, two ways.
 *
 * After a restore was detected (epochs.ts lostWrites: a peer holds a dot of ours that our storage lost, so this
 * storage was restored from an older copy, or copied), `reidentify` mints a new replicaId (and log epoch) and
 * re-issues under it the writes made under the old id past the restore point (identity.ts), so no dot ever names
 * two values and nothing written since the restore is lost. Another tab sharing the storage may write under the
 * old id meanwhile: a write it committed while the keys to re-issue were read is re-issued by a second pass; one
 * after the new identity is stored reads that identity before it mints (core.ts prepareWrite), since the
 * re-identification moves the log's seq. The own writes joins dropped (dropped-own.ts) go in the first transaction,
 * with the identity: under the new id, drops note in the same slots. That pass, and one for drops noted under the old
 * id after it, run in a second transaction; the first notes them (REISSUE_META), so a failure or a crash between the
 * two leaves them for a retry (at a session's hello, at the next open: `finishReissue`), never undone for good. No
 * hello goes while one is left (core.ts refreshIdentity: its finish failing fails the hello, in any tab that adopts the
 * new id): a tab's write under the old id past the point would leave under it, a dot naming two values.
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
import { IDENTITY_META, mintedUntaggedPast, mintEpoch, mintIdentity, noteFormer, readIdentity, reissue, reissueUnder, type Identity, type Reissued } from './identity.js';
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
  /** Whether re-issues are left to finish (`finishReissue`: retried at a session's hello). */
  unfinished(left: boolean): void;
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
  const changes = await rewrite(owner, strips ? await keysPast(owner.storage, point) : [], async (tx, touched, keep) => {
    const out = await reissue(tx, old, point, touched, tick, owner.seeded);
    identity = out.identity;
    // What the passes after this one re-issue is noted with the identity: a failure or a crash before they commit
    // leaves it for a retry (`finishReissue`), never half done for good.
    tx.setMeta(REISSUE_META, [...readLeft(await tx.getMeta(REISSUE_META)), strips ? { r: old.id, p: point, s: 1 } : { r: old.id, p: point }]);
    await keep(out);
    // The own writes joins dropped go with the identity: their notes share slots with the new id's (the counter modulo
    // MAX_DROPPED, dropped-own.ts), and a drop under the new id before the finish would take a note's place for good.
    return keep(await reissueDropped(tx, identity.id, old.id, point, tick, mintEpoch(identity)));
  });
  owner.setIdentity(identity);
  // Told before the finish: its commit clears the note, and a process dying after that commit would leave nothing for
  // the next open to tell again (finishReissue). Told now, a death before the telling leaves the note, so it is told then.
  owner.unfinished(true);
  told(owner, point, changes, { oldId: old.id, newId: identity.id });
  // Then what this one and an earlier re-identification left (its point may lie lower).
  await finishReissue(owner, false);
}

/**
 * Storage meta: the re-issues a re-identification left to do after its first transaction (REISSUE_META), one entry a
 * re-identification: the id left (`r`), its restore point (`p`), and whether the keys past it are read again for a tab's
 * writes under the old id (`s`).
 */
export const REISSUE_META = 'reissuing';
interface Left {
  r: string;
  p: number;
  s?: 1;
}

/** The stored entries (none when absent or not as written). */
export function readLeft(value: unknown): Left[] {
  if (!Array.isArray(value)) return [];
  return value.filter((x): x is Left => typeof x === 'object' && x !== null && typeof (x as Left).r === 'string' && Number.isSafeInteger((x as Left).p));
}

/**
 * Finishes the re-issues a re-identification left (a later pass failed, or the process died after its first
 * transaction): at the next open, or at a session's hello in this process. Idempotent: what is already re-issued is
 * found so (no old-id dot past the point, no note left), and another instance may have finished them first. `open`:
 * RESTORED is told again (the instance that re-identified may have died before telling it).
 */
export async function finishReissue(owner: IdentityOwner, open: boolean): Promise<void> {
  let changes: Array<StoredChange & { point: number }>;
  try {
    changes = await finishPasses(owner);
  } catch (e) {
    owner.unfinished(true);
    throw e;
  }
  owner.unfinished(false);
  const point = changes.length ? Math.min(...changes.map((c) => c.point)) : 0;
  if (changes.length || open) told(owner, point, changes, open ? { newId: owner.identity().id } : undefined);
}

/**
 * In one transaction, under the identity the storage holds: for each entry left, the writes a tab sharing the storage
 * made under the old id while the keys were read (those keys are read again), and the writes since the restore that
 * joins dropped before we knew (a peer's context saw their dots used before). The entries go with it.
 */
async function finishPasses(owner: IdentityOwner): Promise<Array<StoredChange & { point: number }>> {
  const first = readLeft(await owner.storage.getMeta(REISSUE_META));
  if (first.length === 0) return [];
  const reread = first.filter((l) => l.s);
  const keys = reread.length ? await keysPast(owner.storage, Math.min(...reread.map((l) => l.p))) : [];
  const tick = () => owner.clock.tick();
  const points: number[] = [];
  const changes = await rewrite(owner, keys, async (tx, touched, keep) => {
    points.length = 0;
    const left = readLeft(await tx.getMeta(REISSUE_META));
    const now = readIdentity(await tx.getMeta(IDENTITY_META));
    let seq = (await tx.getMeta<number>('seq')) ?? 0;
    if (left.length === 0 || !now) return seq;
    tx.setMeta(REISSUE_META, null);
    for (const { r, p, s } of left) {
      if (r === now.id) continue; // not a former id (nothing to move)
      if (s) seq = await keep(await reissueUnder(tx, now.id, r, p, touched, tick, mintEpoch(now)), () => points.push(p));
      seq = await keep(await reissueDropped(tx, now.id, r, p, tick, mintEpoch(now)), () => points.push(p));
    }
    return seq;
  });
  return changes.map((c, i) => ({ ...c, point: points[i] ?? 0 }));
}

/** Tells what a re-identification re-issued (`restored`: and that it happened). */
function told(owner: IdentityOwner, point: number, changes: readonly StoredChange[], restored?: { oldId?: string; newId: string }): void {
  owner.acks.reissued(point, changes.map((c) => [c.space, c.rec.seq] as const));
  if (restored) {
    if (restored.oldId !== undefined) owner.events.emit('reidentified', { oldId: restored.oldId, newId: restored.newId });
    owner.events.emit('error', new ConcordError('RESTORED', `a peer holds writes of this replica that its storage lost (restored from an older copy?): it now writes as a new replica ${restored.newId}, and re-issued ${changes.length} write(s) made after the restore point`));
  }
  for (const change of changes) {
    owner.noteOwn(change.space, change.rec.seq);
    owner.events.emit('change', { space: change.space, key: change.key, rec: change.rec, prev: change.prev, origin: change.origin });
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

/** Keeps a pass's rewritten records in the transaction (`each`: called per record); returns the pass's seq. */
type Keep = (out: { rewritten: Reissued[]; seq: number }, each?: () => void) => Promise<number>;

/** Runs re-issue passes in one transaction and stores the records they rewrote (`keep`): their changes. */
async function rewrite(
  owner: IdentityOwner,
  touched: ReadonlyArray<readonly [string, string]>,
  reissueIn: (tx: StorageTx, touched: ReadonlyArray<readonly [string, string]>, keep: Keep) => Promise<number>,
): Promise<StoredChange[]> {
  const changes: StoredChange[] = [];
  const seq = await owner.storage
    .transact(async (tx) => {
      changes.length = 0;
      return reissueIn(tx, touched, async (out, each) => {
        for (const r of out.rewritten) {
          const prev = await tx.get(r.space, r.key);
          const rec = record(r.key, r.state, r.seq);
          tx.put(r.space, r.key, rec);
          changes.push({ space: r.space, key: r.key, rec, prev, origin: 'local' });
          each?.();
        }
        return out.seq;
      });
    })
    .catch((e: unknown) => {
      owner.failed();
      throw e;
    });
  owner.committed(seq);
  return changes;
}
