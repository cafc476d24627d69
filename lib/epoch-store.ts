/**
 * The epoch registry in storage (docs/design/epochs-build.md, stage 2 item 3): every epoch record a replica learns,
 * its own (one per open, from its identity's history) and its peers' (hellos, chain frames), is kept, so a reopened
 * replica judges a stored version by the ancestry it judged it by before — also once its own history passed the 64
 * epochs the identity keeps (MAX_STORED_EPOCHS), and for peers it does not meet again.
 *
 * Stored as metadata, which every adapter keeps alike (storage.ts): 'epochs' lists the replica ids that have records,
 * and 'epochs:' + id holds that replica's records, each [epoch, parent, fork] in the order they were learned. A store
 * only adds: it reads what is there (another instance sharing the storage may have added records) and appends the
 * records it lacks; a record it holds for an epoch stays (an epoch's record never changes).
 */
import { Epochs, type EpochRecord } from './epoch-points.js';
import { MAX_STORED_EPOCHS } from './epochs.js';
import type { KeyState } from './dvv.js';
import type { Identity } from './identity.js';
import type { StorageAdapter, StorageTx } from './storage.js';

export const EPOCH_INDEX_META = 'epochs';
export const EPOCH_META = 'epochs:';

type Stored = Array<[e: string, parent: string, fork: number]>;

const valid = (x: unknown): x is [string, string, number] =>
  Array.isArray(x) && x.length === 3 && typeof x[0] === 'string' && typeof x[1] === 'string' && typeof x[2] === 'number';

/** A registry holding every record `storage` (or an open transaction) keeps (none of them counted as fresh). */
export async function loadEpochs(storage: Pick<StorageAdapter | StorageTx, 'getMeta'>): Promise<Epochs> {
  const reg = new Epochs();
  const ids = (await storage.getMeta<string[]>(EPOCH_INDEX_META)) ?? [];
  const all = await Promise.all(ids.map((id) => storage.getMeta<Stored>(EPOCH_META + id)));
  ids.forEach((id, i) => {
    for (const x of all[i] ?? []) if (valid(x)) reg.add(id, x[0], x[1], x[2]);
  });
  reg.takeFresh();
  return reg;
}

/**
 * At an open, in the transaction that opens the identity (core.ts): the registry as stored, with the identity's
 * history learned (whole below the stored history's cap) and what it added stored in that same transaction — so the
 * open's epoch record is durable with the epoch itself, and an open costs no transaction more than before.
 */
export async function openEpochs(tx: StorageTx, identity: Pick<Identity, 'id' | 'history' | 'tagged'>): Promise<Epochs> {
  // Reads that a storage answers at once are taken at once: an open adds no step to its transaction's work then.
  const now = <T>(v: T | Promise<T>): T | Promise<T> => v;
  const index = now(tx.getMeta<string[]>(EPOCH_INDEX_META));
  const ids = (index instanceof Promise ? await index : index) ?? [];
  const reg = new Epochs();
  for (const id of ids) {
    const got = now(tx.getMeta<Stored>(EPOCH_META + id));
    for (const x of (got instanceof Promise ? await got : got) ?? []) if (valid(x)) reg.add(id, x[0], x[1], x[2]);
  }
  reg.takeFresh();
  reg.learn(identity.id, identity.history, identity.history.length < MAX_STORED_EPOCHS, identity.tagged);
  const fresh = reg.takeFresh();
  if (fresh.length > 0) storeRecordsNow(tx, reg, fresh, ids);
  return reg;
}

/** Replicas whose stored records one transaction reads at most (learnStored: a hostile state may name any number). */
export const MAX_STORED_READS = 64;

/**
 * Before a transaction joins states (`stored`: its stored records; `received`: the entries it joins): reads the stored records of the replicas whose
 * epochs they name and `reg` does not know. Another instance sharing the storage (a tab) may have learned them and stored
 * them — before any state naming them, as saveEpochs goes first — while this instance's registry holds what it read at
 * its open: judged without them, such an epoch is a root, and a join keeps a point its history holds (restore-once
 * 1744200165 at 11: tab g/1 took the links from g/0, which had learned f's epoch fDmc…, and kept 3@yH-G… beside 4@fDmc…).
 * Undefined when nothing is to read or the storage answered at once.
 */
export function learnStored(
  tx: Pick<StorageTx, 'getMeta'>,
  reg: Epochs,
  stored: ReadonlyArray<Pick<KeyState, 'vs' | 'pts'> | undefined>,
  received: ReadonlyArray<readonly [unknown, Pick<KeyState, 'vs' | 'pts'>]> = [],
): Promise<void> | undefined {
  // The usual case, every epoch named known (each join of a received frame asks): answered with nothing built.
  if (!namesUnknown(reg, stored, received)) return undefined;
  const ids = new Set<string>();
  const want = (r: string, e: string | undefined): void => {
    if (e !== undefined && ids.size < MAX_STORED_READS && !reg.knows(r, e)) ids.add(r);
  };
  const scan = (s: Pick<KeyState, 'vs' | 'pts'> | undefined): void => {
    if (s === undefined) return;
    for (const v of s.vs) want(v.r, v.ep);
    for (const [r, points] of Object.entries(s.pts ?? {})) for (const p of points) want(r, p.e);
  };
  for (const s of stored) scan(s);
  for (const [, s] of received) scan(s);
  const take = (id: string, got: Stored | undefined): void =>
    reg.stored(id, (got ?? []).filter(valid).map(([e, parent, fork]) => ({ e, parent, fork })));
  const pending: Array<Promise<void>> = [];
  for (const id of ids) {
    const got = tx.getMeta<Stored>(EPOCH_META + id);
    if (got instanceof Promise) pending.push(got.then((x) => take(id, x)));
    else take(id, got);
  }
  return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
}

/** Whether a state of `stored` or `received` names an epoch `reg` does not know (learnStored's walk, allocating nothing). */
function namesUnknown(
  reg: Epochs,
  stored: ReadonlyArray<Pick<KeyState, 'vs' | 'pts'> | undefined>,
  received: ReadonlyArray<readonly [unknown, Pick<KeyState, 'vs' | 'pts'>]>,
): boolean {
  for (const s of stored) if (unknownIn(reg, s)) return true;
  for (let i = 0; i < received.length; i++) if (unknownIn(reg, received[i]![1])) return true;
  return false;
}

function unknownIn(reg: Epochs, s: Pick<KeyState, 'vs' | 'pts'> | undefined): boolean {
  if (s === undefined) return false;
  for (const v of s.vs) if (v.ep !== undefined && !reg.knows(v.r, v.ep)) return true;
  const pts = s.pts;
  if (pts !== undefined) for (const r in pts) for (const p of pts[r]!) if (!reg.knows(r, p.e)) return true;
  return false;
}

/** Stores the records `reg` learned since its last store (one transaction; on failure they stay fresh). */
export async function saveEpochs(storage: StorageAdapter, reg: Epochs): Promise<void> {
  const ids = reg.takeFresh();
  if (ids.length === 0) return;
  try {
    await storage.transact((tx) => storeRecords(tx, reg, ids));
  } catch (e) {
    reg.unsaved(ids);
    throw e;
  }
}

/** storeRecords with the index read already (`index`) and the records of `ids` known to be the registry's (openEpochs). */
function storeRecordsNow(tx: StorageTx, reg: Epochs, ids: readonly string[], index: readonly string[]): void {
  const listed = new Set(index);
  for (const id of ids) {
    tx.setMeta(EPOCH_META + id, reg.recordsOf(id).map((r): [string, string, number] => [r.e, r.parent, r.fork]));
    if (!listed.has(id)) listed.add(id);
  }
  if (listed.size > index.length) tx.setMeta(EPOCH_INDEX_META, [...listed]);
}

async function storeRecords(tx: StorageTx, reg: Epochs, ids: readonly string[]): Promise<void> {
  const index = (await tx.getMeta<string[]>(EPOCH_INDEX_META)) ?? [];
  const listed = new Set(index);
  let grew = false;
  const held = await Promise.all(ids.map((id) => tx.getMeta<Stored>(EPOCH_META + id)));
  ids.forEach((id, i) => {
    const stored: Stored = (held[i] ?? []).filter(valid);
    const have = new Set(stored.map(([e]) => e));
    const add = reg.recordsOf(id).filter((r: EpochRecord) => !have.has(r.e));
    if (add.length === 0) return;
    tx.setMeta(EPOCH_META + id, [...stored, ...add.map((r): [string, string, number] => [r.e, r.parent, r.fork])]);
    if (!listed.has(id)) (index.push(id), listed.add(id), (grew = true));
  });
  if (grew) tx.setMeta(EPOCH_INDEX_META, index);
}
