/**
 * A peer met again under a new replicaId may still serve the same log. A relay opens under a fresh id at every start
 * (relay.ts, openReplica's `restored`): its storage goes on, and so does its change log with its epochs (identity.ts
 * keeps the history across the new id). (A replica that re-identifies after learning of its restore, reidentify.ts,
 * starts a fresh history today, so its peers cannot tell and keep what they stored of its old id.) What we
 * stored under the old id — a cursor per space (`c:<peer>:<space>`), `told:`, `dd:`, `da:` and `epochs:` — is then never read
 * again, and each relay restart used to leave a few such records per space in every client's metadata, for ever.
 *
 * Whether the log is the same is never taken on the id's word: a cursor of the old id counts only when the new peer's
 * hello names its epoch, at or past its seq (`cursorValid`), exactly as any cursor is judged. Another relay behind the
 * same address (another log, say behind a load balancer) proves nothing, and what we hold of the old id then stays.
 * A peer that learned our cursors' epochs (they travel in our hellos) and forges a history naming them can only make
 * us forget records of an id it answers for.
 *
 * The cursors are removed, not carried over to the new id, though they would often be good there: a client would then
 * stream from them at once instead of running anti-entropy. Tried, and dropped for now: where the relay and a writer
 * were both restored from copies, the writer's new writes then leave before the lost writes it would learn of its
 * restore from come back (test/sync/restore-escaped.test.ts, the case that passes today, fails with it). That is the
 * residual of issue 10, and carrying cursors waits for its fix.
 */
import { ATTESTATION_META } from '../attest.js';
import { EPOCH_INDEX_META, EPOCH_META } from '../epoch-store.js';
import { cursorValid, type EpochEntry } from '../epochs.js';
import type { StorageAdapter } from '../storage.js';

/** The cursor into a peer's log as stored (meta `c:<peer>:<space>`), with the reach (`re`, `rs`) beside it. */
export interface StoredCursor {
  e: string;
  s: number;
  re?: string;
  rs?: number;
}

export function cursorKey(peer: string, space: string): string {
  return `c:${peer}:${space}`;
}

/** A stored cursor, or undefined for anything else (none, removed, malformed). */
export function readCursor(v: unknown): StoredCursor | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const c = v as StoredCursor;
  return typeof c.e === 'string' && typeof c.s === 'number' ? c : undefined;
}

/** What the new peer announced of its log (its hello). */
export interface AnnouncedLog {
  readonly history: readonly EpochEntry[];
  readonly top: number;
}

/**
 * Whether a peer announcing `history` may serve the log whose epochs `known` are (the expected peer's, as last seen in
 * this process): when none is shared it cannot, and nothing is read. Unknown (a restart since): it may.
 */
export function mayServe(known: readonly string[] | undefined, history: readonly EpochEntry[]): boolean {
  return known === undefined || history.some(([e]) => known.includes(e));
}

/**
 * Per-peer records other than cursors, removed with the old id. Its epoch records too (epoch-store.ts): no stored
 * version names an epoch yet, and a relay takes a new id at every start, so keeping them would add a record set per
 * restart to every client. Once dots name epochs (epochs-build.md item 1), an id's records may go only when no stored
 * version names one of its epochs: left for then.
 */
const PEER_RECORDS = ['told:', 'dd:', ATTESTATION_META, EPOCH_META];

/**
 * Removes what we hold of `from` when the log a peer now announces (`log`, from its hello) is shown to be `from`'s
 * (above): its cursors and its `told:`, `dd:`, `da:` and epoch records. Returns whether it did (when the log is not shown
 * to be the same, nothing changes).
 */
export async function retireOldId(storage: StorageAdapter, spaces: Iterable<string>, from: string, log: AnnouncedLog): Promise<boolean> {
  const names = [...new Set(spaces)];
  return storage.transact(async (tx) => {
    const cursors = names.map((s) => cursorKey(from, s));
    const records = [...cursors, ...PEER_RECORDS.map((p) => p + from)];
    const held = await Promise.all(records.map((name) => tx.getMeta(name)));
    const same = held.slice(0, cursors.length).some((v) => {
      const c = readCursor(v);
      return c !== undefined && cursorValid(log.history, log.top, c.e, c.s);
    });
    if (!same) return false;
    records.forEach((name, i) => {
      if (held[i] !== undefined && held[i] !== null) tx.setMeta(name, null);
    });
    const index = await tx.getMeta<string[]>(EPOCH_INDEX_META);
    if (index?.includes(from)) tx.setMeta(EPOCH_INDEX_META, index.filter((id) => id !== from));
    return true;
  });
}

/**
 * After a hello from `peer`, where our hello expected `expected` (its id, and its log's epochs as last seen in this
 * process): `retireOldId` over every space that may hold a cursor of the expected id, when the peer answers under
 * another id and may serve the same log. Returns whether anything was removed.
 */
export async function retire(
  storage: StorageAdapter,
  opened: Iterable<string>,
  expected: { id: string | undefined; epochs: readonly string[] | undefined },
  peer: AnnouncedLog & { replicaId: string },
): Promise<boolean> {
  const from = expected.id;
  if (from === undefined || from === peer.replicaId || !mayServe(expected.epochs, peer.history)) return false;
  return retireOldId(storage, [...opened, ...(await storage.spaces())], from, peer);
}
