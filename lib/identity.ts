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
import { EMPTY_STATE, stripOwnDots, updateWith, type KeyState, type StoredVersion } from './dvv.js';
import { NO_EPOCHS, type EpochRegistry } from './epoch-points.js';
import { ROOT_LABEL, startEpoch, type EpochEntry } from './epochs.js';
import type { Hlc } from './hlc.js';
import { randomId } from './ids.js';
import type { StorageTx } from './storage.js';
import { valueType, type ValueType } from './typed.js';
import { encodeTyped, isTypedEncoding, typedParts } from './values.js';

export interface Identity {
  readonly id: string;
  readonly epoch: string;
  readonly history: readonly EpochEntry[];
  /**
   * The first epoch whose dots name it (docs/design/epochs-build.md, item 1): from its open on, every dot this identity
   * mints names the epoch it is minted in. Its record forks from the untagged root at its `from` (every untagged dot of
   * this id is at or below it); absent: no dot of this identity names an epoch. Set only by an open that starts an
   * epoch (or mints an id) for a replica speaking protocol 11 whose storage has met a peer speaking it
   * (EPOCH_PEER_META) or was opened at 11 before (AT11_META `opened`; not where it met only peers of earlier releases),
   * or at that meeting for a fresh id's storage untouched since its open (meetEpochPeer); kept by
   * every later open, tab and new id. Its label is a root label (epochs.ts ROOT_LABEL), which tells peers its record
   * from a hello — but at a meeting whose storage was opened fresh by a replica not speaking 11 (then its chain goes in
   * a chain frame, sync/epoch-chain.ts).
   */
  readonly tagged?: string;
}

interface StoredIdentity {
  id: string;
  epoch: string;
  history?: EpochEntry[];
  tagged?: string;
}

export const IDENTITY_META = 'replica';
/**
 * Set (to 1) once a session of the replica completed a hello with a peer that also announced protocol 11
 * (docs/design/epochs-build.md, "Item 6 — decided"). Tagging starts only at an open after it: a tagged state never
 * goes to a peer below 11, so a replica that tagged before any peer could take its states would keep its writes
 * pending behind a relay of an earlier release for ever. A storage that met only earlier peers stays untagged.
 */
export const EPOCH_PEER_META = 'epochPeer';
/**
 * What opens and sessions of a replica speaking protocol 11 found of this storage while it neither tagged nor had met a
 * peer speaking 11 (docs/design/epochs-build.md, "Item 6", "The second open tags"): `OPENED` once such an open saw it
 * (a fresh storage's first open at 11, or a storage of an earlier release at its first open by one at 11); `EARLIER`
 * once a session of such a replica settled below 11 (the peer runs an earlier release). An open at 11 that starts an
 * epoch for a storage holding an identity tags where the storage met a peer at 11 or this note says `OPENED`: from the
 * second open at 11 on, met anyone or not — but not where the storage met only earlier peers, whose releases could not
 * carry its tagged writes, nor at the first open at 11 of a storage from an earlier release (a client upgraded before
 * its relay syncs everything through it, as before). Absent: no open at 11 saw the storage untagged yet.
 */
export const AT11_META = 'at11';
export const AT11_OPENED = 'opened';
export const AT11_EARLIER = 'earlier';
/** Where the storage was when last opened (StorageAdapter `location`), kept beside the identity. */
export const LOCATION_META = 'location';

/**
 * The ids this storage's replica wrote under before its current one (a restore detected, a copy opened, a relay's
 * refusal), newest last: the versions it wrote under them before the change keep those ids (only writes past a restore
 * point are re-issued), and one no peer acknowledged is still a local write waiting (pending.ts). Bounded: past
 * MAX_FORMER the oldest are forgotten (their writes then no longer count as waiting after a reopen). A copy's former
 * id may be one the original goes on writing under: such versions arriving by a join count here as waiting until a
 * peer acknowledges their entry, as a forged version under our own id does (never for good).
 */
export const FORMER_META = 'former';
const MAX_FORMER = 64;

/** Adds `id` to the stored former ids, inside the transaction that leaves it. */
export function noteFormer(tx: StorageTx, id: string): void | Promise<void> {
  const write = (stored: unknown) => {
    const ids = Array.isArray(stored) ? stored.filter((x): x is string => typeof x === 'string' && x !== id) : [];
    ids.push(id);
    tx.setMeta(FORMER_META, ids.slice(-MAX_FORMER));
  };
  const got = tx.getMeta<unknown>(FORMER_META);
  return got instanceof Promise ? got.then(write) : write(got);
}

/** The stored former ids (none when the metadata is absent or not as `noteFormer` wrote it). */
export function readFormer(stored: unknown): string[] {
  return Array.isArray(stored) ? stored.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Epoch labels are short: unique within one replica's history is all they need to be. `root`: the epoch forks from the
 * untagged root by construction, and its label says so (epochs.ts ROOT_LABEL: one character fewer, the same draws).
 */
const newEpoch = (random?: () => number, root = false) => (root ? randomId(8, random).slice(0, ROOT_LABEL) : randomId(8, random));

/** `root`: the first epoch's label is a root label (it is one where the id tags from it; epochs.ts ROOT_LABEL). */
export function mintIdentity(top: number, random?: () => number, tags = false, root = tags): Identity {
  const epoch = newEpoch(random, root);
  const id = randomId(16, random);
  return tags ? { id, epoch, history: [[epoch, top]], tagged: epoch } : { id, epoch, history: [[epoch, top]] };
}

/** The epoch a dot this identity mints names: its current one once it tags, else none. */
export const mintEpoch = (identity: Identity): string | undefined => (identity.tagged === undefined ? undefined : identity.epoch);

/**
 * Reads the identity inside an open's transaction, minting it or starting a new epoch; stores the result. `copied`:
 * the storage is somewhere it was not at its last open (`location`), so it is a copy and opened as `restored`.
 */
export async function openIdentity(
  tx: StorageTx,
  /** `speaks11`: the replica speaks protocol 11 (it then tags from its storage's second open at 11, or after it met a peer speaking it: AT11_META). */
  options: { startEpoch: boolean; random?: (() => number) | undefined; restored?: boolean; location?: string | undefined; speaks11?: boolean },
): Promise<{ identity: Identity; copied: boolean; metEpochPeer: boolean; metEarlierPeer: boolean }> {
  const stored = await tx.getMeta<StoredIdentity>(IDENTITY_META);
  // Read only where 11 is spoken: a replica pinned below 11 reads and stores what it did before.
  const metEpochPeer = options.speaks11 === true && (await tx.getMeta<unknown>(EPOCH_PEER_META)) !== undefined;
  const top = (await tx.getMeta<number>('seq')) ?? 0;
  const old = readIdentity(stored);
  const seen = options.speaks11 === true && !metEpochPeer && old?.tagged === undefined ? await openedAt11(tx, old) : undefined;
  // Storage written before it kept its location, or one that cannot tell it, is never taken for a copy. A copy
  // opened while another instance has the storage open is not this open's to judge: that instance saw it first.
  const was = await tx.getMeta<string>(LOCATION_META);
  const moved = options.startEpoch && options.location !== undefined && options.location !== was;
  if (moved) tx.setMeta(LOCATION_META, options.location);
  const copied = moved && !!old && was !== undefined;
  // The second open at 11 on tags, met anyone or not, unless the storage met only earlier peers (AT11_META).
  const tags = metEpochPeer || (options.startEpoch && seen === AT11_OPENED);
  const identity = openedIdentity(tx, old, top, { ...options, restored: !!options.restored || copied, tags });
  if (old && identity.id !== old.id) await noteFormer(tx, old.id);
  return { identity, copied, metEpochPeer, metEarlierPeer: seen === AT11_EARLIER };
}

/**
 * AT11_META as this open finds it, for a storage that neither tags nor met a peer at 11 (`old`: its identity, none when
 * fresh); an open at 11 that finds it absent notes `OPENED`, in its transaction, so the storage's next open at 11 tags.
 */
async function openedAt11(tx: StorageTx, old: Identity | undefined): Promise<unknown> {
  const seen = old ? await tx.getMeta<unknown>(AT11_META) : undefined;
  if (seen === undefined) tx.setMeta(AT11_META, AT11_OPENED);
  return seen;
}

/** A session of a replica speaking 11 settled below 11 (core.ts noteEarlierPeer): the storage notes it (AT11_META). */
export function meetEarlierPeer(tx: StorageTx): void {
  tx.setMeta(AT11_META, AT11_EARLIER);
}

function openedIdentity(
  tx: StorageTx,
  old: Identity | undefined,
  top: number,
  options: { startEpoch: boolean; random?: (() => number) | undefined; restored: boolean; tags?: boolean; speaks11?: boolean },
): Identity {
  // Tagging starts only at an open that starts an epoch (or an id): that epoch's record ('' at its `from`) is then the
  // only one anyone can learn for it, and a copy of the storage taken at any later point holds the same. An open
  // beside a live instance continues the epoch and its tagging (tabs tag alike), and once on it stays on.
  const tags = !!options.tags || old?.tagged !== undefined;
  // Storage restored from a copy (the operator says so, or it is somewhere else): a new id before any write, so no
  // dot minted from here can name a value its lost writes gave the same dot (those come back under the old id).
  if (!old || options.restored) {
    // A fresh storage's first epoch forks from the untagged root whether it tags or not: where the replica speaks 11 its
    // label says so (epochs.ts ROOT_LABEL), so a peer learns its chain from its hello should it tag from it (meetEpochPeer).
    const minted = mintIdentity(top, options.random, tags, tags || (!old && options.speaks11 === true));
    // The log goes on under the new id, and so does its history: a cursor into what this copy holds stays good, one
    // into what it lost is refused (epochs.ts), and a peer can tell the log is the one it knew under the old id
    // (lineage.ts: it then forgets what it stored under that id).
    const identity = old ? { ...minted, history: startEpoch(old.history, minted.epoch, top) } : minted;
    tx.setMeta(IDENTITY_META, identity);
    return identity;
  }
  if (!options.startEpoch) return old;
  const epoch = newEpoch(options.random, tags && old.tagged === undefined);
  const history = startEpoch(old.history, epoch, top);
  const next = tags ? { id: old.id, epoch, history, tagged: old.tagged ?? epoch } : { id: old.id, epoch, history };
  tx.setMeta(IDENTITY_META, next);
  return next;
}

/**
 * At a session's first hello with a peer speaking 11 (core.ts noteEpochPeer), in one transaction: the storage notes
 * the meeting (EPOCH_PEER_META: its next open tags), and where it is untouched since a fresh id's open — one epoch in
 * the id's history, not tagging, the log where that open left it — tagging starts in that very epoch: its record is
 * already (epoch, '', from), what a tagging epoch's record is, and no dot of the id lies above `from` (a mint sets the
 * log's seq to its counter). No record changes and the epoch the hellos announced stays, so nothing peers learned
 * or remember moves. The log's seq moves by one, so that another instance sharing the storage reads the identity
 * before it next mints (local-write.ts mint). Returns the identity and seq when tagging started.
 */
export async function meetEpochPeer(tx: StorageTx, current: Identity): Promise<{ identity: Identity; seq: number } | undefined> {
  tx.setMeta(EPOCH_PEER_META, 1);
  const stored = readIdentity(await tx.getMeta<StoredIdentity>(IDENTITY_META));
  const seq = (await tx.getMeta<number>('seq')) ?? 0;
  if (!stored || stored.id !== current.id || stored.epoch !== current.epoch || stored.tagged !== undefined) return undefined;
  if (stored.history.length !== 1 || stored.history[0]![1] !== seq) return undefined;
  const identity: Identity = { ...stored, tagged: stored.epoch };
  tx.setMeta(IDENTITY_META, identity);
  tx.setMeta('seq', seq + 1);
  return { identity, seq: seq + 1 };
}

/** Reads the stored identity (another instance sharing the storage may have changed it). */
export function readIdentity(stored: StoredIdentity | undefined): Identity | undefined {
  if (!stored) return undefined;
  const identity = { id: stored.id, epoch: stored.epoch, history: stored.history ?? [[stored.epoch, 0]] };
  return typeof stored.tagged === 'string' ? { ...identity, tagged: stored.tagged } : identity;
}

/**
 * Whether this storage can have minted an untagged dot of `identity`'s id past `point` (a restore point): not where it
 * tags from an epoch whose fork (its `from`) is at or below `point` — every untagged dot this storage minted lies at or
 * below that fork (Identity.tagged). An untagged dot of ours past the point then came from elsewhere (a lost branch's
 * write, received): its own dot, colliding with nothing, which a re-issue would only copy under the new id.
 */
export function mintedUntaggedPast(identity: Identity, point: number): boolean {
  if (identity.tagged === undefined) return true;
  const entry = identity.history.find(([e]) => e === identity.tagged);
  return entry === undefined || entry[1] > point;
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
 * Re-identification, inside one transaction: a new identity, and the writes made under the old one past the
 * restore point re-issued under it (`reissueUnder`). Returns the records rewritten.
 */
export async function reissue(
  tx: StorageTx,
  old: Identity,
  point: number,
  touched: ReadonlyArray<readonly [space: string, key: string]>,
  tick: () => Hlc,
  random?: () => number,
): Promise<{ identity: Identity; rewritten: Reissued[]; seq: number }> {
  const identity = mintIdentity(0, random, old.tagged !== undefined);
  const { rewritten, seq } = await reissueUnder(tx, identity.id, old.id, point, touched, tick, mintEpoch(identity));
  // The log's seq moves even when nothing was re-issued: a tab that has not heard of the change sees it move
  // when it next writes, and reads the identity before minting (core.ts prepareWrite).
  tx.setMeta('seq', seq + 1);
  tx.setMeta(IDENTITY_META, identity);
  await noteFormer(tx, old.id);
  return { identity, rewritten, seq: seq + 1 };
}

/**
 * For each key of `touched`, `oldId`'s dots past the restore point stripped (dvv.ts stripOwnDots) and every
 * stripped version written again under `id`, as a sibling of whatever survived beside it — the write supersedes
 * exactly what it superseded before. Keys holding no such dot are left as they are. Returns the records rewritten.
 */
export async function reissueUnder(
  tx: StorageTx,
  id: string,
  oldId: string,
  point: number,
  touched: ReadonlyArray<readonly [space: string, key: string]>,
  tick: () => Hlc,
  /** The epoch the new id's dots name (mintEpoch), if it tags. */
  ep?: string,
): Promise<{ rewritten: Reissued[]; seq: number }> {
  let seq = (await tx.getMeta<number>('seq')) ?? 0;
  const rewritten: Reissued[] = [];
  for (const [space, key] of touched) {
    const rec = await tx.get(space, key);
    if (!rec) continue;
    const { state, removed } = stripOwnDots(rec, oldId, point);
    if (state === rec) continue;
    const again = mintAgain(state, retagged(state, removed, oldId, id), id, seq, tick, ep);
    seq = removed.length === 0 ? seq + 1 : again.seq;
    rewritten.push({ space, key, state: again.state, seq });
  }
  if (rewritten.length) tx.setMeta('seq', seq);
  return { rewritten, seq };
}

/**
 * `versions` (re-issued from `oldId` to `id`) with the value-level tags they minted moved along, for a value type
 * that keeps such tags (typed.ts ValueType.reissue); the live values of `state` beside them are the base, and so is
 * each version already moved (two siblings must not take the same new tag). Other versions are returned as they are.
 */
function retagged(state: KeyState, versions: readonly StoredVersion[], oldId: string, id: string): StoredVersion[] {
  const decoded = (v: StoredVersion): { name: string; type: ValueType; value: unknown } | undefined => {
    if (v.d) return undefined;
    try {
      const enc = valueOf(v);
      if (!isTypedEncoding(enc)) return undefined;
      const { name, payload } = typedParts(enc);
      const type = valueType(name);
      return type?.reissue ? { name, type, value: type.decode(payload) } : undefined;
    } catch {
      return undefined; // a value not derivable here, or not of a type loaded here, travels as written
    }
  };
  const base = state.vs.map(decoded).filter((x) => x !== undefined);
  return versions.map((v) => {
    const got = decoded(v);
    if (!got) return v;
    const value = got.type.reissue!(got.value, oldId, id, base.filter((b) => b.name === got.name).map((b) => b.value));
    base.push({ ...got, value });
    return { r: v.r, n: v.n, t: v.t, c: v.c, v: encodeTyped(got.name, got.type.encode(value)) };
  });
}

/**
 * `base` with `versions` written again under `id`, at the counters after `seq` (each with a fresh HLC, its value
 * whole: a version written as a delta holds none until read, deltas.ts valueOf), as siblings of what `base`
 * holds. `ep`: the epoch the new dots name (an identity that tags, mintEpoch), their points judged by `reg`. Returns
 * the state and the last counter taken.
 */
export function mintAgain(
  base: KeyState,
  versions: readonly StoredVersion[],
  id: string,
  seq: number,
  tick: () => Hlc,
  ep?: string,
  reg: EpochRegistry = NO_EPOCHS,
): { state: KeyState; seq: number } {
  if (ep !== undefined || base.pts !== undefined) {
    // Each a sibling of all the state holds: an update whose context covers nothing (dvv.ts updateWith adds its point).
    // So too for an untagged dot in a state holding points (another replica's tagged versions): the vector alone would
    // drop those points, and every peer at 11 then refuses the state (a version outside its causal context).
    let state = base;
    for (const v of versions) {
      const hlc = tick();
      const dot = ep === undefined ? { r: id, n: ++seq, t: hlc.ms, c: hlc.logical } : { r: id, ep, n: ++seq, t: hlc.ms, c: hlc.logical };
      const again: StoredVersion = v.d ? { ...dot, d: 1 } : { ...dot, v: valueOf(v) };
      state = updateWith(reg, state, EMPTY_STATE, again);
    }
    return { state, seq };
  }
  const vs: StoredVersion[] = [...base.vs];
  const cc: Record<string, number> = { ...base.cc };
  for (const v of versions) {
    seq++;
    const hlc = tick();
    vs.push(v.d ? { r: id, n: seq, t: hlc.ms, c: hlc.logical, d: 1 } : { r: id, n: seq, t: hlc.ms, c: hlc.logical, v: valueOf(v) });
    cc[id] = seq;
  }
  vs.sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : a.n - b.n));
  return { state: { vs, cc }, seq };
}
