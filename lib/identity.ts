/**
 * A replica's identity in its storage: its replicaId, the epoch of its change log and the history of epochs
 * (epochs.ts). Minted when the storage is empty; every open of the storage starts a new epoch (unless another
 * live instance shares it); a restore detected later mints a new replicaId and re-issues the writes made
 * under the old one after the restore point (`reissue`), in one transaction.
 *
 * Stored as metadata 'replica' = { id, epoch, history }. Storage written before epochs had histories holds
 * { id, epoch }: its epoch then covers the log from the start.
 */
import { valueOf } from './deltas.js';
import { stripOwnDots, type KeyState, type StoredVersion } from './dvv.js';
import { startEpoch, type EpochEntry } from './epochs.js';
import type { Hlc } from './hlc.js';
import { randomId } from './ids.js';
import type { StorageTx } from './storage.js';

export interface Identity {
  readonly id: string;
  readonly epoch: string;
  readonly history: readonly EpochEntry[];
}

interface StoredIdentity {
  id: string;
  epoch: string;
  history?: EpochEntry[];
}

export const IDENTITY_META = 'replica';

/** Epoch labels are short: unique within one replica's history is all they need to be. */
const newEpoch = (random?: () => number) => randomId(8, random);

export function mintIdentity(top: number, random?: () => number): Identity {
  const epoch = newEpoch(random);
  return { id: randomId(16, random), epoch, history: [[epoch, top]] };
}

/** Reads the identity inside an open's transaction, minting it or starting a new epoch; stores the result. */
export async function openIdentity(tx: StorageTx, options: { startEpoch: boolean; random?: (() => number) | undefined }): Promise<Identity> {
  const stored = await tx.getMeta<StoredIdentity>(IDENTITY_META);
  const top = (await tx.getMeta<number>('seq')) ?? 0;
  if (!stored) {
    const minted = mintIdentity(top, options.random);
    tx.setMeta(IDENTITY_META, minted);
    return minted;
  }
  const history: EpochEntry[] = stored.history ?? [[stored.epoch, 0]];
  if (!options.startEpoch) return { id: stored.id, epoch: stored.epoch, history };
  const epoch = newEpoch(options.random);
  const next = { id: stored.id, epoch, history: startEpoch(history, epoch, top) };
  tx.setMeta(IDENTITY_META, next);
  return next;
}

/** Reads the stored identity (another instance sharing the storage may have changed it). */
export function readIdentity(stored: StoredIdentity | undefined): Identity | undefined {
  return stored ? { id: stored.id, epoch: stored.epoch, history: stored.history ?? [[stored.epoch, 0]] } : undefined;
}

/** A key's record rewritten by a re-identification: its suspect own dots stripped, their versions re-issued. */
export interface Reissued {
  readonly space: string;
  readonly key: string;
  readonly state: KeyState;
  /** The log seq the record moves to. */
  readonly seq: number;
}

/**
 * Re-identification, inside one transaction: a new identity, and for each key touched after the restore
 * point (`touched`), the old id's dots past the point stripped (dvv.ts stripOwnDots) and every stripped version
 * written again under the new id, as a sibling of whatever survived beside it — the write supersedes exactly
 * what it superseded before. Returns the records rewritten.
 */
export async function reissue(
  tx: StorageTx,
  old: Identity,
  point: number,
  touched: ReadonlyArray<readonly [space: string, key: string]>,
  tick: () => Hlc,
  random?: () => number,
): Promise<{ identity: Identity; rewritten: Reissued[]; seq: number }> {
  let seq = (await tx.getMeta<number>('seq')) ?? 0;
  const identity = mintIdentity(0, random);
  const rewritten: Reissued[] = [];
  for (const [space, key] of touched) {
    const rec = await tx.get(space, key);
    if (!rec) continue;
    const { state, removed } = stripOwnDots(rec, old.id, point);
    if (state === rec) continue;
    const vs: StoredVersion[] = [...state.vs];
    const cc: Record<string, number> = { ...state.cc };
    for (const v of removed) {
      seq++;
      const hlc = tick();
      vs.push(v.d ? { r: identity.id, n: seq, t: hlc.ms, c: hlc.logical, d: 1 } : { r: identity.id, n: seq, t: hlc.ms, c: hlc.logical, v: valueOf(v) });
      cc[identity.id] = seq;
    }
    if (removed.length === 0) seq++;
    vs.sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : a.n - b.n));
    rewritten.push({ space, key, state: { vs, cc }, seq });
  }
  tx.setMeta('seq', seq);
  tx.setMeta(IDENTITY_META, identity);
  return { identity, rewritten, seq };
}
