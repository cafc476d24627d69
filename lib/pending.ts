/**
 * `replica.pending`: the local writes no relay or peer has acknowledged yet, counted per key.
 *
 * A key counts while its stored state holds a version this replica wrote (its own dot `(replicaId, n)`, or one under an
 * id it wrote under before a re-identification: ReplicaCore.formerIds) with `n` above its space's acknowledged floor,
 * until some peer acknowledges our log up to the key's entry in it (`rec.seq`: the peer then holds that state, every
 * version of ours in it included). A key written five times offline counts once: the log keeps one entry per key, and
 * its latest write is acknowledged together with the earlier ones it superseded. A version of ours that another
 * replica's write superseded does not count (that replica held it), nor does one in a state a peer sent us exactly as
 * stored (that peer holds it). Every space in storage counts, opened or not; the replica syncs the spaces that hold
 * pending keys (replica.ts). A version under our id that we never wrote (a forged one, arriving by a join) counts like
 * ours until its entry is acknowledged: it never blocks the count for good.
 *
 * The floor of a space: every own write at or below it was acknowledged by some peer ("I hold your log up to
 * u" acknowledges every write at or below u). Floors are stored (meta `af:<space>`), so the count is derived
 * from the log and the stored floors after a reload, never from memory: at open, each space's log after its
 * stored floor is read. Invariants:
 * - A floor only ever names a seq at or below which every own write was acknowledged (or superseded by
 *   another replica's write): it advances to an acknowledgement `u`; at open to the last entry read when no
 *   pending write was read before it (safe while other instances write: a commit after the read takes a higher
 *   seq than anything read); at run time past a change only where this instance sees every commit (storage not
 *   shared by tabs) and the space holds no pending key.
 * - Stored with the larger of the stored and the new value (instances sharing storage store floors too): when
 *   a peer's acknowledgement cleared pending keys (at once: that is the count a reload shows), when the floor
 *   moved 1024 past the stored one (bounds what the next open reads), after the open's read, and at close.
 *   A floor stored late only makes a reload count a write that was acknowledged: its next session's catch-up
 *   acknowledges it again (the peer's cursor), never the other way round.
 *
 * Reading every pending record at open costs a decode per record (100 000 unacknowledged writes: ~0.3 s). So a
 * clean close also stores the pending keys themselves (meta `pending`: the replica id, the log's top, and per space
 * each key with its entry's seq), and the next open starts from them: it reads the log only after that top, and
 * drops the keys the stored floors have passed since (an instance sharing the storage may have been acknowledged
 * meanwhile). Keys whose record moved up the log after the top are judged again from the log, as at any open; a
 * key's record never leaves the log without a newer entry (a collected key keeps its context, at a new seq). The
 * stored keys are ignored when they were counted for another replica id (a re-identification) or name a top the
 * log has not reached (storage restored from a copy older than them), and when there are more than MAX_STORED.
 */
import type { ReplicaCore, StoredChange } from './core.js';
import { AheadNotes } from './ahead-notes.js';
import { ConcordError } from './errors.js';
import { summaryOf, type KeyRecord, type StorageTx } from './storage.js';

const FLOOR_META = 'af:';
const KEYS_META = 'pending';
/**
 * The withheld keys (acks.ts `withhold`) that are pending here: [space, key, peer, elsewhere, the key's entry seq]. A
 * withhold must outlive the process: the peer acknowledged our log past the key without it, so its next session,
 * streaming from that cursor, never sends the key, and its acknowledgement would clear it. An item whose key's entry
 * moved since (a write, a join) is stale and dropped at the open.
 */
const WITHHELD_META = 'withheld';
type StoredWithheld = Array<[space: string, key: string, peer: string, elsewhere: number, at: number]>;
const MAX_WITHHELD_STORED = 10_000;
/** A failed store of the withholds is tried again after this long, doubling up to the second bound. */
const WITHHELD_RETRY_MS = 50;
const WITHHELD_RETRY_MAX_MS = 5_000;
/** A storage read counts and frames wait on (`retried`) is tried again when it takes longer than this. */
const READ_TIMEOUT_MS = 10_000;
/** Above this many pending keys a clean close stores none (the next open reads the log as before). */
const MAX_STORED = 250_000;
/**
 * Below this many a clean close stores none either: reading so few records costs less than the write (a close
 * then also never waits on a storage that does not get durable). Kept keys stored earlier stay right as a base.
 */
export const MIN_STORED = 1024;

/**
 * The pending keys a clean close stored: per space the keys, each after its length and a colon, and their entries'
 * seqs in base 36 joined by commas (two strings: storage copies metadata as JSON, and 100 000 small arrays cost far
 * more to copy than this).
 */
interface StoredKeys {
  id: string;
  top: number;
  spaces: Record<string, { k: string; s: string }>;
}

function encodeKeys(keys: ReadonlyMap<string, number>, fresh: { seqs: number[]; keys: string[] } | undefined): { k: string; s: string } {
  let k = '';
  const s: string[] = [];
  for (const [key, n] of keys) {
    k += key.length + ':' + key;
    s.push(n.toString(36));
  }
  // A space's fresh keys (PendingWrites `fresh`) after its map's: none of them is in the map.
  if (fresh) {
    for (const key of fresh.keys) k += key.length + ':' + key;
    for (const n of fresh.seqs) s.push(n.toString(36));
  }
  return { k, s: s.join(',') };
}

/** The stored keys of every space, or undefined when anything in them is not as `encodeKeys` wrote it. */
function decodeKeys(kept: StoredKeys): Map<string, Array<[string, number]>> | undefined {
  const out = new Map<string, Array<[string, number]>>();
  for (const [space, e] of Object.entries(kept.spaces)) {
    if (!e || typeof e.k !== 'string' || typeof e.s !== 'string') return undefined;
    const seqs = e.s === '' ? [] : e.s.split(',').map((x) => parseInt(x, 36));
    const keys: Array<[string, number]> = [];
    for (let at = 0; at < e.k.length; ) {
      const colon = e.k.indexOf(':', at);
      const length = colon < 0 ? NaN : Number(e.k.slice(at, colon));
      if (!Number.isSafeInteger(length) || length <= 0 || colon + 1 + length > e.k.length) return undefined;
      const seq = seqs[keys.length];
      if (seq === undefined || !Number.isSafeInteger(seq)) return undefined;
      keys.push([e.k.slice(colon + 1, colon + 1 + length), seq]);
      at = colon + 1 + length;
    }
    if (keys.length !== seqs.length) return undefined;
    out.set(space, keys);
  }
  return out;
}
const STRIDE = 1024;
const PAGE = 512;

/**
 * The lowest counter of `replicaId`'s versions in `rec` above `floor`, or 0 when there is none; `former`: ids the replica
 * wrote under before (ReplicaCore.formerIds), whose versions are its writes too. None for a record whose exact state
 * came from a peer (`src`): that peer holds it, our versions in it included (and it is never streamed back to it,
 * so its log entry would never be acknowledged).
 */
export function ownAbove(rec: KeyRecord, replicaId: string, floor: number, former?: ReadonlySet<string>): number {
  // A number, not an object: this runs on every change (a put's too), and counters start at 1.
  if (rec.src !== undefined) return 0;
  let min = Infinity;
  const others = former !== undefined && former.size > 0;
  for (const v of rec.vs) if ((v.r === replicaId || (others && former.has(v.r))) && v.n > floor && v.n < min) min = v.n;
  return min < Infinity ? min : 0;
}

export class PendingWrites {
  private readonly floors = new Map<string, number>();
  private readonly stored = new Map<string, number>();
  /** space → key → the key's log seq: the acknowledgement that clears it. */
  private readonly keys = new Map<string, Map<string, number>>();
  /**
   * Spaces whose kept keys (a clean close's) are not in `keys` yet: the list, turned into a map the first time the
   * space's keys are needed (a write, an acknowledgement, the next close), not during the open.
   */
  private readonly lazy = new Map<string, Array<[string, number]>>();
  private total = 0;
  private readonly dirty = new Set<string>();
  private scheduled = false;
  /** While the open reads the log: the seq each key was last seen at by a change event (newer wins). */
  private loading: Map<string, number> | undefined;
  /**
   * space → key → the seq of the key's newest record applied by this instance and not heard of as durable yet (a
   * local write or a join waiting for its fsync). A record not durable yet is not in the log a peer is sent, so an
   * acknowledgement past a key's durable entry says nothing of it while a newer record of it waits: the key stays
   * counted until the acknowledgement passes that record too. An entry at or below the durable seq is stale (its
   * change was heard, or its transaction failed) and counts for nothing. Queued while nothing asks (ahead-notes.ts).
   */
  private readonly ahead = new AheadNotes();
  /**
   * space → key → the lowest counter of our versions in a counted key's record, where that lies below the record's seq
   * (a join kept our version beside a peer's, or we wrote beside our own earlier sibling). An acknowledgement past the
   * counter but below the entry says nothing of the key (the log it covers did not hold the key there): the floor may
   * not pass the counter while the key is counted. Rare, so kept apart from `keys`.
   */
  private readonly lows = new Map<string, Map<string, number>>();
  /** The top of the stored keys the open started from, while they still say what is pending (no key changed since). */
  private keptTop: number | undefined;
  /**
   * space → counted keys not in `keys` yet, in write order (their seqs rise): a local write of a key the storage did not
   * hold (a put of a new key, the common case) is appended here instead of inserted into the map — an insert into a
   * large map was a put's costliest step. Its keys are distinct and none is in `keys` (each was new, and any other
   * change of the space folds the list into the map first). An acknowledgement cuts the acknowledged front off without
   * touching the map; anything asking after one key folds the list in (`fold`). A space with a list is in `keys` too
   * (with an empty map, maybe): `keys.has(space)` still says whether it holds pending keys.
   */
  private readonly fresh = new Map<string, { seqs: number[]; keys: string[] }>();

  constructor(
    private readonly core: ReplicaCore,
    private readonly hooks: {
      /** Whether other live instances may commit to the same storage (browser tabs). */
      shared: boolean;
      /** The count changed. */
      onCount: (n: number) => void;
      /** A space got its first pending key. */
      onSpace: (space: string) => void;
    },
  ) {
    // Optional call: unit tests hand in a core whose tracker has only what they use.
    // A key whose record was applied here but whose change is not heard yet counts too (`entryOf`): a frame reads the
    // log once the record is durable, which may be before its transaction's change is told.
    // Where other instances write to the storage, a key not counted here may be another instance's write whose change this
    // one has not heard yet (its hint lost or late): its record is read first (`learnWithheld`).
    core.acks.onWithhold?.((_peer, space, key, _elsewhere, fresh) => {
      if (!fresh) return;
      if (this.entryOf(space, key) !== undefined) this.saveWithheld();
      else if (hooks.shared) this.learnWithheld(space, key);
    });
    // Also where this instance counts nothing in the space: a withhold another instance stored may be of a write whose
    // change was not heard here yet (`takeWithheld` reads its record).
    if (hooks.shared) {
      core.acks.storedWithholds = (space) =>
        this.retried(() => this.takeWithheld(space), 'reading the keys other instances withheld failed; pending counts of the space wait until it is read').then((r) => r !== undefined);
    }
  }

  /**
   * How long one storage read this instance waits on before its answers count (`retried`) may take before it is tried
   * again: a read that hangs (an IndexedDB request never answered) is as one that failed.
   */
  readTimeoutMs = READ_TIMEOUT_MS;

  /**
   * `read` until it succeeds; undefined once the replica closed. A read that fails, or does not settle within
   * `readTimeoutMs`, is reported (once a streak: `what`) and tried again, after a wait doubling up to WITHHELD_RETRY_MAX_MS.
   * What waits on it stays as it is meanwhile (counts do not fall), and nothing else waits: a storage that recovers
   * lets it go on.
   */
  private async retried<T>(read: () => Promise<T>, what: string): Promise<T | undefined> {
    let delay = WITHHELD_RETRY_MS;
    for (;;) {
      if (this.core.isClosed) return undefined;
      let timer: unknown;
      const late = new Promise<never>((_, reject) => {
        timer = this.core.timers.setTimeout(() => reject(new ConcordError('STORAGE_ERROR', `a storage read took longer than ${this.readTimeoutMs} ms`)), this.readTimeoutMs);
      });
      try {
        return await Promise.race([read(), late]);
      } catch (e) {
        if (this.core.isClosed) return undefined;
        if (delay === WITHHELD_RETRY_MS) this.core.events.emit('error', new ConcordError('STORAGE_ERROR', `${what}; trying again`, { cause: e }));
        await new Promise<void>((resolve) => this.core.timers.setTimeout(resolve, delay));
        delay = Math.min(delay * 2, WITHHELD_RETRY_MAX_MS);
      } finally {
        this.core.timers.clearTimeout(timer);
      }
    }
  }

  /** The store of the withholds last begun (`saveWithheld`), until it is durable. */
  private lastSave: Promise<void> | undefined;

  /**
   * `key` was withheld here while this instance does not count it: it may be another instance's write whose change was
   * not heard here yet (a link reads the log from the storage). Its record is read; holding a write of ours above the
   * floor, it counts now, as its change would make it, and its withhold is stored. Until then the link holds the frame
   * that left it out, and every frame after it (this read is the tracker's `withholdsStored`): an acknowledgement past
   * the key must not come first — the floor would pass it, and its change, heard late, count nothing.
   */
  private learnWithheld(space: string, key: string): void {
    const acks = this.core.acks;
    const before = acks.withholdsStored;
    let settle!: () => void;
    const learning = new Promise<void>((resolve) => (settle = resolve));
    acks.withholdsStored = learning;
    const done = () => {
      if (acks.withholdsStored === learning) acks.withholdsStored = undefined;
      settle();
    };
    this.retried(() => this.core.storage.get(space, key), 'reading a key a link left out failed; its frames wait until it is read')
      .then(async (rec) => {
        if (rec && !this.core.isClosed && this.countedAt(space, key) === undefined && this.counts(space, key, rec)) this.saveWithheld();
        await Promise.all([before, this.lastSave]);
      })
      .then(done, done);
  }

  /**
   * Counts `key` at `rec` (read from the storage: another instance's write whose change this one has not heard) where it
   * holds a write of ours above the floor; whether it does. Not where an acknowledgement counted here reached it: that
   * peer held the key (this instance heard its change and the acknowledgement cleared it; or, not heard, it went with
   * the floor already).
   */
  private counts(space: string, key: string, rec: KeyRecord): boolean {
    if (this.core.acks.ackedUpTo(space) >= rec.seq) return false;
    const own = ownAbove(rec, this.core.replicaId, this.floors.get(space) ?? 0, this.core.formerIds);
    if (own === 0) return false;
    this.setKey(space, key, rec.seq, own);
    this.emitSoon();
    return true;
  }

  /** A rise of the count waits to be told (emitSoon); the count last told. */
  private emitting = false;
  private told = 0;

  /** The keys whose withholds the last save stored (`${space}\n${key}`): a change of one stores the list again. */
  private withheldSaved = new Set<string>();
  private withheldSaving = false;

  /** `key`'s entry seq while it is counted. */
  private countedAt(space: string, key: string): number | undefined {
    if (this.lazy.size > 0) this.materialize(space);
    if (this.fresh.size > 0) this.fold(space);
    return this.keys.get(space)?.get(key);
  }

  /**
   * The entry a withhold of `key` is stored with: the record the frames that left it out read — the one it is counted
   * at, or a newer one whose change is not heard yet (`ahead`, stale or not: a frame may read a durable record before its
   * change is told, and leave it out) where such a frame's log position reached it. Undefined when neither: no write of
   * ours waits in it. A record heard later that holds no version of ours is not counted, and the open drops its item
   * (`loadWithheld`); one whose change releases the withhold stores the list again (`changed`). A newer record no such
   * frame reached is not the entry: hearing its change releases the withhold (acks.ts `release`), and an item stored
   * under it would match the key's entry then and come back at the next open — withheld from a peer the newer record
   * reached (simulator seed withheld 21249 at SIM_SPEAKS=mixed).
   */
  private entryOf(space: string, key: string): number | undefined {
    const at = this.countedAt(space, key);
    const a = this.ahead.any ? this.ahead.get(space, key) : undefined;
    return a !== undefined && a > (at ?? 0) && a <= this.core.acks.withheldUpTo(space, key) ? a : at;
  }

  /**
   * Stores the withholds of pending keys (once per turn). The store is told to the tracker at once (acks.ts
   * `withholdsStored`), before the turn's frames go: a link holds back the frame that left a key out, and every frame
   * after it, until the store is durable (wire.ts). Else the peer may store a cursor past the key while a crash still
   * takes the withhold, and the next session's resumed cursor clears a key the peer never got.
   */
  private saveWithheld(): void {
    if (this.withheldSaving) return;
    this.withheldSaving = true;
    let settle!: () => void;
    const storing = new Promise<void>((resolve) => (settle = resolve));
    const acks = this.core.acks;
    acks.withholdsStored = this.lastSave = storing;
    const done = () => {
      if (acks.withholdsStored === storing) acks.withholdsStored = undefined;
      settle();
    };
    let delay = WITHHELD_RETRY_MS;
    const attempt = (): void => {
      if (this.core.isClosed) return done();
      const list: StoredWithheld = [];
      const saved = new Set<string>();
      for (const [space, key, peer, elsewhere] of this.core.acks.withheldList()) {
        const at = this.entryOf(space, key);
        if (at === undefined) continue;
        list.push([space, key, peer, elsewhere, at]);
        saved.add(`${space}\n${key}`);
      }
      if (list.length === 0 && this.withheldSaved.size === 0) return done();
      this.withheldSaved = saved;
      // Tabs share the list: the items of keys this instance does not count stay (another tab's; a stale one is
      // dropped at the open, its key's entry having moved), up to a bound.
      const write = (tx: StorageTx, stored: StoredWithheld | undefined) => {
        const all = [...list];
        const mine = new Set(list.map(([sp, k, p]) => `${sp}\n${k}\n${p}`));
        if (Array.isArray(stored)) {
          for (const item of stored) {
            if (all.length >= MAX_WITHHELD_STORED) break;
            if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string' || mine.has(`${item[0]}\n${item[1]}\n${String(item[2])}`)) continue;
            // Kept unless this instance counts the key at another entry (it moved: that withhold went with it).
            const at = this.countedAt(item[0], item[1]);
            if (at === undefined || at === item[4]) all.push(item);
          }
        }
        tx.setMeta(WITHHELD_META, all.length > 0 ? all : null);
      };
      // A failed store (a transient storage error) is reported (once a streak) and tried again, from the list as it is
      // then: the frames held behind it must not go before it is durable (a crash would then take the withhold the
      // peer's cursor skips past).
      this.core.storage
        .transact((tx) => {
          const stored = tx.getMeta<StoredWithheld>(WITHHELD_META);
          if (stored instanceof Promise) return stored.then((v) => write(tx, v));
          write(tx, stored);
        })
        .then(done, (e: unknown) => {
          if (this.core.isClosed) return done();
          // The storage is closed under a live replica (a crash, a close racing this): nothing is stored any more, and
          // the held frames must not go either; the replica's links end with it.
          if (e instanceof ConcordError && e.code === 'CLOSED') return;
          if (delay === WITHHELD_RETRY_MS) this.core.events.emit('error', new ConcordError('STORAGE_ERROR', 'storing the keys a link left out failed; trying again until it is stored', { cause: e }));
          this.core.timers.setTimeout(attempt, delay); // unref'd: a closed replica's retry ends at once; it keeps no process alive
          delay = Math.min(delay * 2, WITHHELD_RETRY_MAX_MS);
        });
    };
    queueMicrotask(() => {
      this.withheldSaving = false;
      attempt();
    });
  }

  /** At the open: the stored withholds whose keys' entries have not moved since. */
  private async loadWithheld(): Promise<void> {
    const [list, valid] = await this.takeWithheld();
    // The open read every key: the items of keys not counted at their entries (acknowledged, changed) go.
    if (valid.length < list.length) await this.core.storage.transact((tx) => tx.setMeta(WITHHELD_META, valid.length > 0 ? valid : null));
  }

  /**
   * Takes the stored withholds whose keys are counted at their items' entries: at the open, and (storage shared with
   * other instances) before a peer's resumed cursor counts (acks.ts `storedWithholds`) — another instance may have
   * withheld a key from that peer while it held the links, and stored it without a word to this one (no port between
   * them, or the message lost): that cursor passed the key the peer never got (soak seed mixed 1734003284). Then (`space`:
   * the cursor's) an item of a key this instance does not count at its entry is judged by the key's record: that write's
   * change may not have been heard here yet (its hint lost or late), and the floor would pass it.
   */
  private async takeWithheld(space?: string): Promise<[list: unknown[], valid: StoredWithheld]> {
    const list = await this.core.storage.getMeta<StoredWithheld>(WITHHELD_META);
    if (!Array.isArray(list)) return [[], []];
    const valid: StoredWithheld = [];
    for (const item of list) {
      if (!Array.isArray(item) || item.length !== 5) continue;
      const [itemSpace, key, peer, elsewhere, at] = item;
      if (typeof itemSpace !== 'string' || typeof key !== 'string' || typeof peer !== 'string' || typeof elsewhere !== 'number' || typeof at !== 'number') continue;
      const counted = this.countedAt(itemSpace, key);
      if (counted !== at && (itemSpace !== space || (counted ?? 0) > at || !(await this.unheld(itemSpace, key, at)))) continue;
      valid.push(item);
      // At the item's entry: the change of that record, heard here late, is no newer record to release it.
      this.core.acks.withhold(peer, itemSpace, key, at);
      if (elsewhere > 0) this.core.acks.heldElsewhere(itemSpace, key, elsewhere);
    }
    return [list, valid];
  }

  /** Whether `key`'s record is at `at` and holds a write of ours this instance had not counted (it counts now). */
  private async unheld(space: string, key: string, at: number): Promise<boolean> {
    const rec = await this.core.storage.get(space, key);
    if (!rec || rec.seq !== at || this.core.isClosed) return false;
    return this.countedAt(space, key) === at || this.counts(space, key, rec);
  }

  get count(): number {
    return this.total;
  }

  /**
   * The log seq an acknowledgement must reach for `key`'s unacknowledged versions of ours to be held (undefined when it
   * holds none): its record's, or a newer one's applied since and not durable yet.
   */
  seqOf(space: string, key: string): number | undefined {
    if (this.lazy.size > 0) this.materialize(space);
    if (this.fresh.size > 0) this.fold(space);
    const n = this.keys.get(space)?.get(key);
    if (n === undefined) return undefined;
    const a = this.aheadOf(space, key);
    return a !== undefined && a > n ? a : n;
  }

  /**
   * A record of `key` was applied at `seq`, not durable yet (ReplicaCore.onApplied). Noted for every key: one not
   * counted now may be by the time an acknowledgement comes (an earlier write of it, not durable either, is heard of
   * first), and that acknowledgement must not clear it below this record. Its change, once heard, drops the note.
   */
  applied(space: string, key: string, seq: number): void {
    this.ahead.note(space, key, seq);
  }

  /** The transaction that applied `key`'s record at `seq` failed (ReplicaCore.onAbandoned): the note goes. */
  abandoned(space: string, key: string, seq: number): void {
    this.ahead.dropIf(space, key, seq);
  }

  /** The seq of `key`'s newest applied record not durable yet, if any (stale entries dropped). */
  private aheadOf(space: string, key: string): number | undefined {
    const a = this.ahead.get(space, key);
    if (a === undefined) return undefined;
    if (a > this.core.durableSeq) return a;
    this.ahead.delete(space, key);
    return undefined;
  }

  /** How many keys of `space` hold our unacknowledged versions. */
  countIn(space: string): number {
    return this.lazy.get(space)?.length ?? (this.keys.get(space)?.size ?? 0) + (this.fresh.get(space)?.seqs.length ?? 0);
  }

  /** The space's fresh keys into `keys`. */
  private fold(space: string): void {
    const list = this.fresh.get(space);
    if (!list) return;
    this.fresh.delete(space);
    const keys = this.keys.get(space)!;
    for (let i = 0; i < list.seqs.length; i++) keys.set(list.keys[i]!, list.seqs[i]!);
  }

  /** Spaces holding at least one pending key. */
  spaces(): IterableIterator<string> {
    return this.lazy.size === 0 ? this.keys.keys() : new Set([...this.keys.keys(), ...this.lazy.keys()]).values();
  }

  /** The space's kept keys into `keys`, if they are not there yet. */
  private materialize(space: string): void {
    const list = this.lazy.get(space);
    if (!list) return;
    this.lazy.delete(space);
    this.keys.set(space, new Map(list));
  }

  /** Derives the count from the log after each space's stored floor (once, at open), or after the stored keys' top. */
  async load(): Promise<void> {
    const storage = this.core.storage;
    this.loading = new Map();
    try {
      const [spaces, kept, top] = await Promise.all([storage.spaces(), storage.getMeta<StoredKeys>(KEYS_META), this.core.storedTop()]);
      const floors = await Promise.all(spaces.map((s) => storage.getMeta<number>(FLOOR_META + s)));
      spaces.forEach((s, i) => {
        const f = typeof floors[i] === 'number' ? floors[i]! : 0;
        this.stored.set(s, f);
        if (f > (this.floors.get(s) ?? 0)) this.floors.set(s, f);
      });
      const trusted = kept && kept.id === this.core.replicaId && typeof kept.top === 'number' && kept.top <= top && typeof kept.spaces === 'object';
      const keys = trusted ? decodeKeys(kept) : undefined;
      const base = keys ? { top: kept!.top, keys } : undefined;
      this.keptTop = base && base.top === top ? top : undefined;
      for (const space of spaces) await this.scan(space, base, top);
    } finally {
      this.loading = undefined;
    }
    await this.loadWithheld();
    this.emitCount();
    await this.flush();
  }

  private async scan(space: string, base: { top: number; keys: Map<string, Array<[string, number]>> } | undefined, top: number): Promise<void> {
    const floor = this.stored.get(space) ?? 0;
    let last = floor;
    // The floor may not pass a pending own version, nor the entry of a key still pending (a version under our id
    // above that entry's seq is none we wrote; it must be read again next time all the same).
    let minOwn = Infinity;
    let from = floor;
    if (base && base.top > floor) {
      // The keys pending at the clean close, less those the floors passed since; the log after its top says the rest.
      // A change event during this read already said what its key is now (`loading`): that wins.
      const heard = this.loading!;
      const all = base.keys.get(space) ?? [];
      const kept = all.filter(heard.size === 0 ? ([, seq]) => seq > floor : ([key, seq]) => seq > floor && (heard.get(`${space}\n${key}`) ?? 0) < seq);
      if (kept.length > 0 && !this.keys.has(space) && heard.size === 0) {
        // Counted now, mapped when first needed: building the map was most of an open's work when many writes wait.
        // (A key is listed once per space: the close wrote a map's keys.)
        this.lazy.set(space, kept);
        this.total += kept.length;
        this.hooks.onSpace(space);
      } else for (const [key, seq] of kept) this.setKey(space, key, seq);
      for (const [, seq] of kept) if (seq < minOwn) minOwn = seq;
      from = last = base.top;
    }
    for (let after = from; ; ) {
      const page = await this.core.storage.readLog(space, after, PAGE);
      for (const [key, rec] of page) {
        last = Math.max(last, rec.seq);
        const own = ownAbove(rec, this.core.replicaId, this.floors.get(space) ?? 0, this.core.formerIds);
        if (own > 0) minOwn = Math.min(minOwn, own, rec.seq);
        const seen = this.loading!.get(`${space}\n${key}`);
        if (seen === undefined || seen < rec.seq) this.setKey(space, key, own > 0 ? rec.seq : undefined, own > 0 ? own : undefined);
      }
      if (page.length > 0) after = page[page.length - 1]![1].seq;
      if (page.length === PAGE) continue;
      // A short page is the log's end, or where the read stopped before a record another instance's write holds back
      // (StorageAdapter readLog: not durable yet, or a key's durable record that write replaced). Records at or below
      // the top this instance opened at are never reported as external changes, so the read goes on once everything
      // applied so far is durable (an empty transaction), until it reaches the space's own top at or below the open's:
      // a read after the wait may be held again by a later rewrite, so "a read after a wait adds nothing" is no end.
      // The space's top only falls while this runs (a key's record moves up past `top` when rewritten), and each wait
      // makes what was applied before it durable, so the loop ends once the other instance stops rewriting keys below
      // the top. A read that reached the top read at the load's start, or the space's top, is whole (no wait).
      if (!this.hooks.shared || last >= top || last >= (await summaryOf(this.core.storage, space, top)).lastSeq) break;
      await this.core.storage.transact(() => undefined);
    }
    this.raise(space, minOwn === Infinity ? last : Math.min(last, minOwn - 1), true);
  }

  /** A change was stored (any origin, any instance): the key's pending state follows its new record. */
  changed(change: StoredChange): void {
    const { space, key, rec } = change;
    if (this.loading) {
      const id = `${space}\n${key}`;
      if ((this.loading.get(id) ?? 0) < rec.seq) this.loading.set(id, rec.seq);
    }
    // Changes of one key may be heard out of order: two transactions' completions (a local write's, a join's) resolve in
    // either order (the core drops such a change of its own transactions, change-order.ts; this keeps the count right
    // whatever tells it). One older than the entry the key is counted at says nothing of it now (that entry superseded it
    // in the log); taken, it would move the key back below its entry, and an acknowledgement between the two would clear
    // it. The map alone is asked, not the list of new keys (`countedAt` would fold that list on every write): a newer
    // record of a key that had one before is never on that list, which holds first records only.
    if (this.lazy.size > 0) this.materialize(space);
    const at = this.keys.get(space)?.get(key);
    if (at !== undefined && at > rec.seq) return;
    // Its withhold goes (acks.ts `release`, just after; the save waits for the turn's end): the stored list follows.
    if (this.withheldSaved.size > 0 && this.withheldSaved.has(`${space}\n${key}`)) this.saveWithheld();
    this.ahead.heard(space, key, rec.seq, this.core.durableSeq); // heard durable: drops it
    const floor = this.floors.get(space) ?? 0;
    const before = this.total;
    const own = ownAbove(rec, this.core.replicaId, floor, this.core.formerIds);
    if (own === rec.seq && change.prev === undefined && change.origin === 'local' && !change.external && !this.hooks.shared && !this.loading && this.lazy.size === 0 && this.lows.size === 0) {
      // A new key written here: counted at its record's seq, its only version ours at that seq (no low counter).
      this.appendFresh(space, key, rec.seq);
      if (this.total !== before) this.emitCount();
      return;
    }
    this.setKey(space, key, own > 0 ? rec.seq : undefined, own > 0 ? own : undefined);
    if (!this.hooks.shared && !this.keys.has(space)) this.raise(space, rec.seq, false);
    // A commit of several keys (a re-issue, a join) tells its changes one by one: a count that rose is told once they
    // all were, so the event never says fewer keys than the commit left pending (the count went 1 while 2 were).
    if (this.total > before) this.emitSoon();
    else if (this.total !== before) this.emitCount();
  }

  /** Tells the count at the end of this turn's synchronous work (once), unless it was told as it is meanwhile. */
  private emitSoon(): void {
    if (this.emitting) return;
    this.emitting = true;
    queueMicrotask(() => {
      this.emitting = false;
      if (this.total !== this.told) this.emitCount();
    });
  }

  /** A new key's first write (see `fresh`). */
  private appendFresh(space: string, key: string, seq: number): void {
    this.keptTop = undefined;
    let keys = this.keys.get(space);
    if (!keys) {
      this.keys.set(space, (keys = new Map()));
      this.hooks.onSpace(space);
    } else if (keys.size > 0 && keys.has(key)) {
      // Counted already though the storage held no record of it (not expected): the map keeps it, at its new entry.
      if (this.fresh.size > 0) this.fold(space);
      keys.set(key, seq);
      return;
    }
    let list = this.fresh.get(space);
    if (!list) this.fresh.set(space, (list = { seqs: [], keys: [] }));
    else if (list.seqs[list.seqs.length - 1]! >= seq) {
      // Out of order (not expected: seqs rise): the map takes them all.
      this.fold(space);
      keys.set(key, seq);
      this.total++;
      return;
    }
    list.seqs.push(seq);
    list.keys.push(key);
    this.total++;
  }

  /**
   * The front of `space`'s fresh keys that `upTo` acknowledged: each cleared, or, when it must stay (as in `acked`), moved
   * into the map. Returns the lowest seq that stays (Infinity when none).
   */
  private ackFresh(space: string, upTo: number): number {
    const list = this.fresh.get(space);
    if (!list || list.seqs[0]! > upTo) return Infinity;
    const keys = this.keys.get(space)!;
    let kept = Infinity;
    let i = 0;
    for (; i < list.seqs.length && list.seqs[i]! <= upTo; i++) {
      const key = list.keys[i]!;
      const n = list.seqs[i]!;
      const a = this.ahead.any ? this.aheadOf(space, key) : undefined;
      if ((a !== undefined && a > upTo) || this.core.acks.isWithheld(space, key, n)) {
        kept = Math.min(kept, n);
        keys.set(key, n);
      } else this.total--;
    }
    if (i === list.seqs.length) this.fresh.delete(space);
    else {
      list.seqs.splice(0, i);
      list.keys.splice(0, i);
    }
    if (keys.size === 0 && !this.fresh.has(space)) this.keys.delete(space);
    return kept;
  }

  /** Some peer acknowledged our log in `space` up to `upTo` (`peer` undefined: another instance passed it on). */
  acked(space: string, upTo: number, peer: string | undefined): void {
    const before = this.total;
    this.materialize(space);
    const keys = this.keys.get(space);
    // A key whose newer record waits to be durable stays (the peer was sent nothing of it past its entry), as does one
    // a frame left out (acks.ts `withhold`: the link cannot send it); and the floor stays below them (a crash before that record is durable leaves the entry the peer never got).
    let kept = this.fresh.size > 0 ? this.ackFresh(space, upTo) : Infinity;
    if (keys) {
      const lows = this.lows.get(space);
      for (const [key, n] of keys) {
        if (n > upTo) {
          // Its entry is past what was acknowledged, but our versions in it may not be: the floor stays below them.
          const low = lows?.get(key);
          if (low !== undefined && low <= upTo) kept = Math.min(kept, low);
          continue;
        }
        const a = this.ahead.any ? this.aheadOf(space, key) : undefined;
        if ((a !== undefined && a > upTo) || this.core.acks.isWithheld(space, key, n)) kept = Math.min(kept, n);
        else this.setKey(space, key, undefined, undefined, false);
      }
    }
    // The instance that heard the peer stores the floor; the others were told and need not. While a key stays, the floor
    // does not move: its own versions lie anywhere above the floor, below its entry's seq (a record moves up the log by a
    // join or a later write, and the map knows its entry, not its lowest own counter), and a floor passing one drops it
    // from the count at the key's next change.
    if (kept === Infinity) this.raise(space, upTo, peer !== undefined && this.total !== before);
    if (this.total !== before) this.emitCount();
  }

  private setKey(space: string, key: string, n: number | undefined, low?: number, fold = true): void {
    if (!this.loading) this.keptTop = undefined;
    if (this.lazy.size > 0) this.materialize(space);
    if (fold && this.fresh.size > 0) this.fold(space);
    if (n !== undefined && low !== undefined && low < n) {
      const lows = this.lows.get(space) ?? this.lows.set(space, new Map()).get(space)!;
      lows.set(key, low);
    } else if (this.lows.size > 0) {
      const lows = this.lows.get(space);
      if (lows?.delete(key) && lows.size === 0) this.lows.delete(space);
    }
    let keys = this.keys.get(space);
    if (n === undefined) {
      if (keys?.delete(key)) {
        this.total--;
        if (keys.size === 0 && !this.fresh.has(space)) this.keys.delete(space);
      }
      return;
    }
    if (!keys) {
      this.keys.set(space, (keys = new Map()));
      this.hooks.onSpace(space);
    }
    const size = keys.size;
    keys.set(key, n);
    if (keys.size !== size) this.total++; // one lookup, not has() then set()
  }

  /** Advances a space's floor; stores it now (`store`) or once it moved a stride past the stored one. */
  private raise(space: string, floor: number, store: boolean): void {
    // Not past a record applied here whose change is not heard yet (transactions resolve in no set order): it may hold
    // a write of ours that nothing acknowledged (a later write's change, or an acknowledgement, came first).
    // (untoldLow walks the records in flight: asked only when the floor would move.)
    const was = this.floors.get(space) ?? 0;
    if (floor <= was) return;
    floor = Math.min(floor, (this.core.untoldLow ?? Infinity) - 1);
    if (floor <= was) return;
    this.floors.set(space, floor);
    if (store || floor - (this.stored.get(space) ?? 0) >= STRIDE) this.markDirty(space);
  }

  private markDirty(space: string): void {
    this.dirty.add(space);
    if (this.scheduled || this.loading) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush().catch((e) => {
        if (!this.core.isClosed) this.core.events.emit('error', e);
      });
    });
  }

  private emitCount(): void {
    if (this.loading) return;
    this.told = this.total;
    this.hooks.onCount(this.total);
  }

  /**
   * At a clean close: every floor that moved, and the pending keys themselves (with the log's top they were counted
   * at), so the next open need not read their records.
   */
  async close(): Promise<void> {
    if (this.loading || this.core.isClosed) return;
    await this.flush(true);
    const top = await this.core.storedTop();
    // Opened from stored keys, and nothing changed since: they are still right (no frame of them again in the log).
    if (this.keptTop === top || this.total < MIN_STORED) return;
    // Stored keys say their entries' seqs, not our lowest counters in them: with a key whose counters lie lower, the next
    // open reads the log instead (its floor must stay below them).
    const kept: StoredKeys | null = this.total <= MAX_STORED && this.lows.size === 0 ? { id: this.core.replicaId, top, spaces: {} } : null;
    for (const space of [...this.lazy.keys()]) this.materialize(space);
    if (kept) for (const [space, keys] of this.keys) kept.spaces[space] = encodeKeys(keys, this.fresh.get(space));
    await this.core.storage.transact((tx) => tx.setMeta(KEYS_META, kept));
  }

  /** Stores the floors marked for storing, or (`all`, at close) every floor that moved. */
  async flush(all = false): Promise<void> {
    const todo: Array<[string, number]> = [];
    for (const space of all ? this.floors.keys() : this.dirty) {
      const f = this.floors.get(space) ?? 0;
      if (f > (this.stored.get(space) ?? 0)) todo.push([space, f]);
    }
    this.dirty.clear();
    if (todo.length === 0 || this.core.isClosed) return;
    await this.core.storage.transact((tx) => {
      const current = todo.map(([space]) => tx.getMeta<number>(FLOOR_META + space));
      const write = (values: Array<number | undefined>) => {
        todo.forEach(([space, f], i) => {
          if (!(typeof values[i] === 'number' && values[i]! >= f)) tx.setMeta(FLOOR_META + space, f);
        });
      };
      if (current.some((c) => c instanceof Promise)) return Promise.all(current).then(write);
      write(current as Array<number | undefined>);
    });
    for (const [space, f] of todo) if (f > (this.stored.get(space) ?? 0)) this.stored.set(space, f);
  }
}
