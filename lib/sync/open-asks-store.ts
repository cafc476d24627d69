/**
 * The open asks (open-asks.ts) kept with the replica's stored sync state (meta `openAsks`: each peer's `space\0key` ids,
 * least recently asking peer first), so that a restarted replica, or a new leader tab on a storage shared by tabs,
 * sends them again on the next link to each peer (need-answers.ts `reask`) and the peer still drops the version the
 * left-out state superseded.
 *
 * - Written from memory (the whole list), only once something was asked: a replica that never asks an earlier-release
 *   peer writes nothing. An opened ask storage lacks is written in its turn (frames wait for it: below); writes begin
 *   WRITE_GAP_MS apart at least (a change within goes at the gap's end); a settle, an eviction, recency and an ask storage
 *   holds already go with the next write, within SETTLE_MS. So a peer's frames — an answer settles an ask, a NEED has a
 *   settled key asked again — cost no write each: before, each rewrote every peer's asks (up to MAX_OPEN ids of up to a
 *   key's length: 32 frames of one peer, beside 16 384 ids of 100-character keys, wrote 60.9 MB; test/sync/open-asks-store).
 * - Bounded as memory is (MAX_OPEN ids, open-asks.ts): the write is what memory holds, and a read joins memory through
 *   the same bound (a stored value past it, or not as written here, loses the least recent peers' asks, or is ignored).
 * - Crash between the frame that left a key out and the ask's store: the frame is not sent before the store is durable
 *   (wire.ts holds it, and every frame after it, as for a withhold): the peer's cursor cannot pass the key while a
 *   crash can still take the ask. A crash before then loses both; the peer's cursor stays before the key, and the next
 *   link's stream leaves it out and asks again. A store that fails (not a crash) is reported, the frames go, and it is
 *   tried again: the ask then lives in memory only until a store succeeds (the defect before this store, in that window).
 * - Stale asks (storage restored from an old copy, a settle whose write a crash took, a stalled old leader tab writing
 *   late): an ask that is no longer needed costs a repair state of the key to the peer, and a NEED when it is still left
 *   out; the peer's answer settles it. Nothing is joined or dropped on the peer but by the key's own state and its
 *   context alone, which are right to send at any time (test/review/left-out-ask-stored.test.ts).
 * - Tabs: the leader alone runs links, so it alone changes the asks; a link's start to a peer below 11 reads them again
 *   (other instances may have led since), and a later write keeps what the read added. Where tabs share the storage
 *   every change is written in its turn (no gap, no SETTLE_MS): a settle written by a timer after the role moved would
 *   drop the new leader's asks as a stalled leader's write does (relays, whose clients make the frames, share none). A
 *   stalled leader that writes after the role moved may drop asks the new leader made until that one's next write.
 */
import { ConcordError } from '../errors.js';
import type { ReplicaCore } from '../core.js';
import type { StorageAdapter } from '../storage.js';
import type { Timers } from './session-state.js';
import { MAX_OPEN, OpenAsks, type AsksStore } from './open-asks.js';

export const OPEN_ASKS_META = 'openAsks';
const VERSION = 1;
const RETRY_MAX_MS = 5_000;
/** Writes of the asks begin this far apart at least (a change within waits for the gap's end). */
const WRITE_GAP_MS = 250;
/** A change that opens no ask storage lacks (a settle, recency, an eviction) is written within this. */
const SETTLE_MS = 2_000;
/** A failed write is tried again after this, doubling up to RETRY_MAX_MS (past the gap: it writes then). */
const RETRY_MS = WRITE_GAP_MS;

/** What the store needs of its replica (ReplicaCore). */
export interface AsksHost {
  readonly storage: StorageAdapter;
  /** Other instances may have changed the stored asks since they were read (tabs), and this replica may ask (it speaks 11). */
  rereads(): boolean;
  readonly timers: Timers;
  readonly isClosed: boolean;
  report(e: unknown): void;
}

/** The stored value: [version, [peer, ids][]]. */
type Stored = [number, Array<[string, string[]]>];

/** The peers' ids of a stored value, or undefined when it is not one `write` made (at most MAX_OPEN ids read). */
export function readStored(v: unknown): Array<[string, string[]]> | undefined {
  if (!Array.isArray(v) || v[0] !== VERSION || !Array.isArray(v[1])) return undefined;
  const out: Array<[string, string[]]> = [];
  let n = 0;
  // The most recent peers are last: read from the end, so a value past the bound keeps those.
  for (let i = v[1].length - 1; i >= 0 && n < MAX_OPEN; i--) {
    const item: unknown = v[1][i];
    if (!Array.isArray(item) || typeof item[0] !== 'string' || !Array.isArray(item[1])) return undefined;
    const ids = (item[1] as unknown[]).filter((id): id is string => typeof id === 'string').slice(-(MAX_OPEN - n));
    n += ids.length;
    out.push([item[0], ids]);
  }
  return out.reverse();
}

export class StoredAsks implements AsksStore {
  /** The read of the stored asks under way (`linked`). */
  private reading: Promise<void> | undefined;
  /** The write an opened ask waits for, not begun yet. */
  private next: { done: Promise<void>; settle: () => void } | undefined;
  /** The last write begun, until it is durable (or failed). */
  private writing: Promise<void> | undefined;
  /** Whether storage may hold asks (a write of some, or a read found some): a write of none is needed then only. */
  private holds = false;
  private delay = RETRY_MS;
  /** Memory changed since the last write began. */
  private dirty = false;
  /** A write is due: in this turn's microtask (`soon`) or at a timer (`later`: settles, or the gap after a write). */
  private soon = false;
  private later = false;
  /** Within WRITE_GAP_MS of the last write's start: the next waits for the gap's end. */
  private cooling = false;
  /** Each peer's ids as storage holds them (the last write begun, or the last read): undefined where not known. */
  private written: Map<string, ReadonlySet<string>> | undefined = new Map();

  constructor(
    private readonly asks: OpenAsks,
    private readonly host: AsksHost,
    /** The stored value the replica's open read (ReplicaCore.storedAsks). */
    opened: unknown,
  ) {
    this.take(opened);
  }

  /**
   * Stored asks join memory: nothing to write for them (storage holds them already; what the bound drops goes later).
   * What was read is what storage holds now (a leader tab's links start with a read: no other instance writes then).
   */
  private take(value: unknown): void {
    const stored = readStored(value);
    if (stored && stored.length > 0) this.holds = true;
    if (stored) this.asks.restore(stored);
    // A write of ours under way may land after the read: what storage holds is not known then (every ask written again).
    this.written = this.writing ? undefined : new Map((stored ?? []).map(([peer, ids]) => [peer, new Set(ids)]));
  }

  /**
   * A link starts. To a peer below 11 (`earlier`: the only peers asked), where other instances may have written the asks
   * since they were read (a tab taking the network role), they are read again, and join memory (a stale one costs a
   * repair state and a NEED: see the header). Not to a peer at 11: no read more for every link of every tab; what
   * another leader asked of a peer that has upgraded since waits for that instance's next open (as before stop 46).
   */
  linked(earlier: boolean): void {
    if (!earlier || this.reading || !this.host.rereads()) return;
    const reading = this.host.storage
      .getMeta<unknown>(OPEN_ASKS_META)
      .then((v) => this.take(v))
      .catch((e: unknown) => {
        this.written = undefined;
        if (!this.host.isClosed) this.host.report(new ConcordError('STORAGE_ERROR', 'reading the open asks of earlier-release peers failed; asked again only as links meet their keys', { cause: e }));
      })
      .finally(() => {
        if (this.reading === reading) this.reading = undefined;
      });
    this.reading = reading;
  }

  loading(): Promise<void> | undefined {
    return this.reading;
  }

  durable(): Promise<void> | undefined {
    return this.next?.done ?? this.writing;
  }

  /**
   * An opened ask storage does not hold yet is written in this turn (or at the gap's end), and what waits for it waits
   * for that write; any other change (a settle, an eviction, recency, an ask storage holds already) waits for the next
   * write, within SETTLE_MS: a peer's frames (an answer settles an ask, a NEED has a settled one asked again) cost no write
   * each, and writes are WRITE_GAP_MS apart at least, each of the whole list (at most MAX_OPEN ids).
   */
  changed(peer?: string, id?: string): void {
    this.dirty = true;
    const opens = peer !== undefined && id !== undefined && (this.reading !== undefined || !this.written?.get(peer)?.has(id));
    if (opens && !this.next) {
      let settle!: () => void;
      const done = new Promise<void>((resolve) => (settle = resolve));
      this.next = { done, settle };
    }
    // Where tabs share the storage, every change is written in its turn, as before: a write a timer made late could
    // drop what a new leader tab asked since (the header's stalled leader, without a stall).
    const shared = this.host.rereads();
    if (this.soon || (this.cooling && !shared)) return; // this turn's write, or the gap's end, takes it
    if (this.next || shared) {
      this.soon = true;
      queueMicrotask(() => {
        this.soon = false;
        void this.flush();
      });
    } else if (!this.later) {
      this.later = true;
      this.host.timers.setTimeout(() => {
        this.later = false;
        void this.flush();
      }, SETTLE_MS);
    }
  }

  asked(peer: string, id: string): void {
    if (this.reading !== undefined || !this.written?.get(peer)?.has(id)) this.changed(peer, id);
  }

  /** Writes what changed, unless within the gap after the last write (its end writes). */
  private async flush(): Promise<void> {
    if (this.soon || (this.cooling && !this.host.rereads())) return;
    if (!this.dirty) return this.next?.settle();
    await this.write();
  }

  /** Writes the asks as memory holds them (after the stored ones were read: they join memory first). */
  private async write(): Promise<void> {
    this.cooling = true;
    this.host.timers.setTimeout(() => {
      this.cooling = false;
      if (this.next) void this.flush();
      else if (this.dirty) (this.dirty = false, this.changed());
    }, WRITE_GAP_MS);
    const writing = this.store();
    this.writing = writing;
    await writing;
    if (this.writing === writing) this.writing = undefined;
  }

  private async store(): Promise<void> {
    await this.reading;
    const next = this.next;
    this.next = undefined;
    this.dirty = false;
    const list = this.asks.list();
    if (this.host.isClosed || (list.length === 0 && !this.holds)) return next?.settle();
    this.holds = list.length > 0;
    this.written = new Map(list.map(([peer, ids]) => [peer, new Set(ids)]));
    const value: Stored | null = list.length > 0 ? [VERSION, list] : null;
    await this.host.storage.transact((tx) => tx.setMeta(OPEN_ASKS_META, value)).then(
      () => {
        this.delay = RETRY_MS;
        next?.settle();
      },
      (e: unknown) => {
        this.written = undefined; // not known: every ask opened is written again
        // The storage went with its replica (a crash): the frames held behind this write must not go either.
        if (this.host.isClosed || (e instanceof ConcordError && e.code === 'CLOSED')) return;
        if (this.delay === RETRY_MS) this.host.report(new ConcordError('STORAGE_ERROR', 'storing the open asks of earlier-release peers failed; trying again', { cause: e }));
        next?.settle();
        this.holds = true;
        this.host.timers.setTimeout(() => ((this.dirty = true), void this.flush()), this.delay);
        this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
      },
    );
  }
}

const byReplica = new WeakMap<ReplicaCore, OpenAsks>();

/** The open asks of a replica, made on first use, kept with its storage. */
export function openAsksOf(core: ReplicaCore): OpenAsks {
  let asks = byReplica.get(core);
  if (asks) return asks;
  byReplica.set(core, (asks = new OpenAsks()));
  const host: AsksHost = {
    storage: core.storage,
    get timers() {
      return core.timers;
    },
    get isClosed() {
      return core.isClosed;
    },
    report: (e) => core.events.emit('error', e),
    rereads: () => core.sharesStorage && core.takesEpochs,
  };
  asks.store = new StoredAsks(asks, host, core.storedAsks);
  core.storedAsks = undefined;
  return asks;
}
