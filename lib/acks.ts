/**
 * Tracks which local changes peers have stored. Peers acknowledge per space "I hold your change log up
 * to seq s"; a write is synced once any peer acknowledged a seq at or beyond its own (the key's later
 * state contains or supersedes it). Waiters are only created when someone awaits `w.synced`.
 *
 * An acknowledgement covers the log as it was sent, which holds each key once, at its newest record: a key written
 * again (or joined with a peer's state) before the peer acknowledged the first write's seq left that seq empty, and
 * the log read for sending stops at the first record not durable yet, so an acknowledgement past the seq says nothing
 * of the key. A write waits, then, for where its key's record holding our versions is now, read after the
 * acknowledgement came (`where`: records only move up the log, so a record at or below it then was in what the peer
 * acknowledged), whenever that is past the acknowledgement; `w.replicated(n)` likewise, with the relays' reports of
 * how far n of them hold our log. `locate` answers the same from the pending-writes map
 * (pending.ts) for `w.durability`, which cannot wait for a read; it learns of a record once it is durable.
 *
 * Also kept: each peer's own acknowledgement per space (a relay counts how many relays of its cluster hold
 * a change), and the replication counts relays report to a client (`w.replicated(n)`): "n relays hold your
 * log in this space up to seq u" — monotone in u, since acknowledgements are cursors.
 *
 * Where instances share one storage (browser tabs), only the one holding the network role hears peers; it
 * passes what advanced on (`onAdvance`, `snapshot`) and the others apply it here without a peer (tabs.ts).
 */
import { dropOldest } from './evict.js';

interface Waiter {
  seq: number;
  /** The write's own seq. */
  origin: number;
  n: number;
  key: string | undefined;
  resolve: () => void;
  /** Resolved (it may still sit in a list it is dropped from later). */
  done?: boolean;
}

/** A waiter whose key could not be read under a live replica: it stays unresolved. */
const STALLED = -1;

/**
 * The most peers a withheld key names, past the peers always named (`exact`: a relay's cluster members): past them it
 * is withheld from every other peer (`overflow`). A relay meets countless clients and a withhold outlives their
 * sessions; a client chooses its id and the versions it speaks.
 */
const MAX_WITHHELD_PEERS = 32;
/** Stands for the overflow in what tabs tell each other and in `withheldList` (no replicaId is "*"). */
const ANY = '*';

/** A key some links left out (acks.ts `withhold`). */
interface Withheld {
  /**
   * The peers whose links left it out, each with the highest log position of a frame to it that did: the record that
   * frame left out lies at or below it, so a change of the key's record past it releases that peer (`release`) and not
   * the others — one link's frame reaching further says nothing of what another's carried (soak seed withheld
   * 1736400294 jittered: a frame to a protocol-5 peer past the key's newer record kept the peer that got it withheld).
   */
  readonly peers: Map<string, number>;
  /** More peers than MAX_WITHHELD_PEERS did: every peer not always named (`exact`) and not known to hold it counts as one. */
  overflow: boolean;
  /** The highest log position of a frame that left it out past the bound (as a peer's in `peers`). */
  overflowUpTo: number;
  /** The highest seq of our log that a peer whose link did not leave it out acknowledged (0: none). */
  elsewhere: number;
  /**
   * The highest log position of a frame that left it out, of every peer's (0: none known, as for repair states): the
   * record it left out lies at or below it, so a change of the key's record up to there is that record's (or an older
   * one's), heard late.
   */
  upTo: number;
}

interface SyncWaiter {
  /** The seq it waits for: the write's own, or where its key's record moved since. */
  seq: number;
  /** The write's own seq (a log frame reaching past it that carried the key holds the write). */
  origin: number;
  key: string;
  resolve: () => void;
  done?: boolean;
}

/** Keys remembered as shown held by a peer's state (`shownHeldBy`), at most. */
export const MAX_SHOWN_HELD = 4096;
/** Those that go together past MAX_SHOWN_HELD (evict.ts: one pass from the oldest for all of them). */
export const SHOWN_HELD_EVICT = MAX_SHOWN_HELD / 8;

export class AckTracker {
  private readonly acked = new Map<string, number>();
  private readonly waiters = new Map<string, SyncWaiter[]>();
  /**
   * The seq of the newest record of `key` that holds our unacknowledged versions (undefined when none does): set by
   * the replica to its pending-writes map; without it, a write counts as synced once its own seq was acknowledged.
   */
  locate: ((space: string, key: string) => number | undefined) | undefined;
  /**
   * The store of the withholds of pending keys under way (pending.ts), if any. A link holds back a frame that left a key
   * out, and every frame after it, until this resolves (wire.ts): the withhold must be durable before a peer can store a
   * cursor past the key without it.
   */
  withholdsStored: Promise<void> | undefined;
  /**
   * Where other instances share the storage (pending.ts): takes the withholds they stored (resolves true once read, false
   * when it never will be: the replica closed; undefined: nothing of `space` to take). A peer's resumed cursor may have
   * passed a key one of them withheld from it while it held the links; it counts here only after that withhold does
   * (`ack`), and every acknowledgement of the space after it waits its turn (a frame acknowledged past the cursor counts
   * the log below it too).
   */
  storedWithholds: ((space: string) => Promise<boolean> | undefined) | undefined;
  /**
   * space → the read of `storedWithholds` under way: that space's acknowledgements wait for it, in order. Those of other
   * spaces do not: a read that fails or hangs (pending.ts tries it again) holds back the one space's counts only.
   */
  private readonly taking = new Map<string, Promise<void>>();
  /**
   * Peers a withheld key always names, past MAX_WITHHELD_PEERS too (a relay's cluster members: cluster.ts counts how
   * many of them hold a write); without it, none.
   */
  exact: ((peer: string) => boolean) | undefined;
  /**
   * Whether the replica was closed: then `locate` answers (a clean close left every write durable, so the map is
   * right). A read by `where` that fails is a storage gone under a live replica (a crash): such a waiter resolves
   * never, as its process would not live to see it (the map may still place a key whose newer record the crash took).
   */
  closed: (() => boolean) | undefined;
  /** The seq of `key`'s record as stored now (applied) when it holds versions of ours, else undefined. */
  where: ((space: string, key: string) => Promise<number | undefined>) | undefined;
  /** space → key → the waiters on it (whose keys a log frame's carrying is noted for: `carried`). */
  private readonly waitingOn = new Map<string, Map<string, Set<SyncWaiter>>>();
  /** peer → space → key → the upTo of each log frame that carried the key to that peer, not acknowledged yet. */
  private readonly carried = new Map<string, Map<string, Map<string, number[]>>>();
  /**
   * space → keys a frame left out (the link could not send their state: VALUE_TOO_LARGE, TYPE_NOT_LOADED): no
   * acknowledgement counts them until their record changes (`release`); their waiters wait there (`parked`).
   */
  private readonly withheldKeys = new Map<string, Map<string, Withheld>>();
  /**
   * Keys a peer's state showed held (it holds or covers every version of ours in the record at the seq kept), for a
   * withhold made after it: space + '\n' + key → seq. Past MAX_SHOWN_HELD the oldest SHOWN_HELD_EVICT go (a withhold then waits as before).
   */
  private readonly shownHeld = new Map<string, number>();
  /** Parked waiters, with their spaces. */
  private readonly parked = new Map<SyncWaiter, string>();
  private readonly parkedReplicated = new Set<readonly [string, Waiter]>();
  /**
   * space → key → the highest upTo of a log frame that carried the key and that its peer acknowledged: the peer holds
   * the key's state as of then, every write of it at or below that upTo included (noted for awaited keys only, and
   * dropped once nobody waits on the key). Told to the other instances sharing the storage that wait on the key.
   */
  private readonly heldAt = new Map<string, Map<string, number>>();
  /** space → keys other instances sharing the storage (tabs) wait on: this one's frames note them (tab-waits.ts). */
  private readonly remoteWaits = new Map<string, Set<string>>();
  /** space → key → the `replicated(n)` waiters on it. */
  private readonly repOn = new Map<string, Map<string, Set<Waiter>>>();
  private readonly heldListeners = new Set<(space: string, key: string, at: number) => void>();
  private readonly waitListeners = new Set<(space: string, key: string) => void>();
  private readonly withholdListeners = new Set<(peer: string, space: string, key: string, elsewhere: number, fresh: boolean) => void>();
  /** peer → space → highest seq it acknowledged. */
  private readonly byPeer = new Map<string, Map<string, number>>();
  /**
   * peer → space → highest seq it acknowledged of log frames sent to it under that id (not a cursor it resumed from):
   * what counts a withheld key held by a peer whose link did not leave it out (`elsewhere`).
   */
  private readonly framed = new Map<string, Map<string, number>>();
  private readonly frameListeners = new Set<(peer: string, space: string, upTo: number, entries: Iterable<readonly [key: string, ...unknown[]]>, via: object | undefined) => void>();
  private readonly peerListeners = new Set<(peer: string, space: string, upTo: number) => void>();
  private readonly streamAckListeners = new Set<(peer: string, space: string, upTo: number, via: object) => void>();
  private readonly advanceListeners = new Set<(space: string, upTo: number, peer: string | undefined) => void>();
  private readonly repListeners = new Set<(space: string, upTo: number, count: number) => void>();
  /** space → [upTo, count] announcements, upTo increasing, count decreasing (dominated ones dropped). */
  private readonly reps = new Map<string, Array<readonly [number, number]>>();
  private readonly repWaiters = new Map<string, Waiter[]>();

  isAcked(space: string, seq: number): boolean {
    return (this.acked.get(space) ?? 0) >= seq;
  }

  /**
   * Whether the write of `key` at `seq` is synced, as far as the pending-writes map tells (`w.durability`): its seq
   * acknowledged, and its key's record holding our unacknowledged versions not past the acknowledgement.
   */
  isSynced(space: string, key: string, seq: number): boolean {
    const upTo = this.acked.get(space) ?? 0;
    if (seq > upTo) return false;
    const now = this.locate?.(space, key);
    // Withheld as far as where the key's record is now (as `settle` weighs it): a withhold made after the record moved
    // starts from what other peers acknowledged below it, which may pass the write's own seq.
    if (this.isWithheld(space, key, Math.max(seq, now ?? 0))) return false;
    return now === undefined || now <= upTo;
  }

  /** Resolves once the write of `key` at `seq` is synced: see the class comment. */
  wait(space: string, seq: number, key: string): Promise<void> {
    return new Promise((resolve) => {
      const w: SyncWaiter = { seq, origin: seq, key, resolve };
      this.file(this.waitingOn, space, key, w, resolve);
      this.settle(space, w);
    });
  }

  /** Files `w` under `on` (telling the wait listeners); its resolve then takes it out of every place it sits, once. */
  private file<W extends SyncWaiter | Waiter>(on: Map<string, Map<string, Set<W>>>, space: string, key: string, w: W, resolve: () => void): void {
    let keys = on.get(space);
    if (!keys) on.set(space, (keys = new Map()));
    let set = keys.get(key);
    if (!set) keys.set(key, (set = new Set()));
    const waiting = set;
    w.resolve = () => {
      if (w.done) return;
      w.done = true;
      waiting.delete(w);
      this.parked.delete(w as SyncWaiter);
      if (waiting.size === 0 && keys.get(key) === waiting) keys.delete(key);
      this.forgetHeld(space, key);
      resolve();
    };
    waiting.add(w);
    for (const l of this.waitListeners) l(space, key);
  }

  /**
   * A log frame (`upTo` > 0) went to `peer` carrying these keys. Its acknowledgement then says the peer holds each
   * key's state as sent, at or after every write of it at or below `upTo` (a frame reaching past a write was read
   * after it): a write of a key written again since still counts synced by it (a key saved faster than
   * acknowledgements come back would otherwise wait as long as the saves go on). Noted only for awaited keys.
   */
  sentFrame(peer: string, space: string, upTo: number, entries: Iterable<readonly [key: string, ...unknown[]]>, via?: object): void {
    if (upTo > 0 && this.frameListeners.size > 0) for (const l of this.frameListeners) l(peer, space, upTo, entries, via);
    // A relay's every delivery on every link comes here: with nothing waiting anywhere, no space is looked up.
    if (upTo === 0 || (this.waitingOn.size === 0 && this.remoteWaits.size === 0 && this.repOn.size === 0)) return;
    const waited = this.waitingOn.get(space);
    const remote = this.remoteWaits.get(space);
    const reps = this.repOn.get(space);
    if (upTo === 0 || (!waited?.size && !remote?.size && !reps?.size)) return;
    for (const [key] of entries) {
      if (!waited?.has(key) && !remote?.has(key) && !reps?.has(key)) continue;
      let spaces = this.carried.get(peer);
      if (!spaces) this.carried.set(peer, (spaces = new Map()));
      let byKey = spaces.get(space);
      if (!byKey) spaces.set(space, (byKey = new Map()));
      const list = byKey.get(key);
      if (list) list.push(upTo);
      else byKey.set(key, [upTo]);
    }
  }


  /**
   * A frame to `peer` left `key` out: that link cannot send its state. Until the key's record changes, that peer's
   * acknowledgements do not count the key, in this session or a later one (which streams from its cursor, past the
   * key); another peer's still do. Its writes stay pending meanwhile: the app was told by an error event.
   */
  withhold(peer: string, space: string, key: string, upTo = 0): void {
    let keys = this.withheldKeys.get(space);
    if (!keys) this.withheldKeys.set(space, (keys = new Map()));
    let entry = keys.get(key);
    if (!entry) {
      // What the peers heard so far already acknowledged (their links did not leave the key out): they hold it there.
      let elsewhere = 0;
      for (const [p, spaces] of this.framed) if (p !== peer) elsewhere = Math.max(elsewhere, spaces.get(space) ?? 0);
      // And what a peer's state showed it holds of our versions (its link may leave the key out, and its state come first).
      if (this.shownHeld.size > 0) elsewhere = Math.max(elsewhere, this.shownHeld.get(`${space}\n${key}`) ?? 0);
      keys.set(key, (entry = { peers: new Map(), elsewhere, overflow: false, overflowUpTo: 0, upTo }));
    }
    const rose = upTo > entry.upTo;
    if (rose) entry.upTo = upTo;
    const at = entry.peers.get(peer);
    if (at !== undefined) {
      if (upTo > at) entry.peers.set(peer, upTo);
      // A frame reaching further (a newer record) left the key out again: this entry outlives that record's change
      // (`release`), but a copy another instance was told (no position: tab-waits.ts) or the stored item (pending.ts, by
      // the key's entry) may have gone with it — the withhold is news again, to them (soak seed mixed 1734003284). Not
      // for the peers past the bound (ANY): a relay's countless clients reach a key at as many positions.
      if (rose) for (const l of this.withholdListeners) l(peer, space, key, entry.elsewhere, true);
      return;
    }
    // Past the bound, conservative: no acknowledgement but an always-named peer's raises `elsewhere` until the key changes.
    if (peer === ANY || (entry.peers.size >= MAX_WITHHELD_PEERS && !this.exact?.(peer))) {
      entry.overflowUpTo = Math.max(entry.overflowUpTo, upTo);
      if (entry.overflow) return;
      entry.overflow = true;
      peer = ANY;
    } else entry.peers.set(peer, upTo);
    for (const l of this.withholdListeners) l(peer, space, key, entry.elsewhere, true);
  }

  /**
   * A peer's state of `key`, joined, left our record (at `seq`) as it was and holds or covers every version of ours in it
   * (core.ts join): the peer holds our writes there — a state leaves its replica only once durable — though no link of
   * ours may carry the record (withheld from every one: too big, or naming an epoch). Counts as held up to `seq`, now
   * or for a withhold made later.
   */
  shownHeldBy(space: string, key: string, seq: number): void {
    const id = `${space}\n${key}`;
    if ((this.shownHeld.get(id) ?? 0) < seq) {
      this.shownHeld.delete(id);
      this.shownHeld.set(id, seq);
      if (this.shownHeld.size > MAX_SHOWN_HELD) dropOldest(this.shownHeld, SHOWN_HELD_EVICT);
    }
    this.heldElsewhere(space, key, seq);
    // The key's waiters at or below `seq` resolve now, as by an acknowledged frame that carried it: the peer holds them
    // now. Left to `elsewhere` alone they waited for our log's acknowledgement to reach `seq` from any peer — perhaps one
    // the key is withheld from, long after, when the peer that showed it may have lost it since (soak seed clock-skew
    // 1742700192: relay a's write reported synced after the only peer that had shown it held it was restored).
    this.held(space, key, seq);
  }

  /**
   * A peer whose link did not leave `key` out holds our log up to `upTo` (told by the instance that heard it: tabs): the
   * key counts as held up to there, after that peer's session ends too.
   */
  heldElsewhere(space: string, key: string, upTo: number): void {
    const entry = this.withheldKeys.get(space)?.get(key);
    if (!entry || entry.elsewhere >= upTo) return;
    entry.elsewhere = upTo;
    this.weighAgain(space, key);
  }

  /**
   * A withheld key counts as held further (or is withheld no more): its parked waiters, and the acknowledgements come
   * already (pending.ts kept the key past them while it was withheld), are weighed again.
   */
  private weighAgain(space: string, key: string): void {
    this.wake(space, key);
    const acked = this.acked.get(space) ?? 0;
    if (acked > 0) for (const l of this.advanceListeners) l(space, acked, undefined);
  }

  /** The highest log position of a frame that left `key` out (0: none known, or not withheld). */
  withheldUpTo(space: string, key: string): number {
    return (this.withheldKeys.size > 0 ? this.withheldKeys.get(space)?.get(key)?.upTo : undefined) ?? 0;
  }

  /** Whether a link to `peer` left `key` out (and its record has not changed since): `peer` does not hold it from us. */
  isWithheldFrom(peer: string, space: string, key: string): boolean {
    const entry = this.withheldKeys.size > 0 ? this.withheldKeys.get(space)?.get(key) : undefined;
    return entry !== undefined && this.withheldFrom(entry, peer);
  }

  /** Whether `peer` counts as one whose link left the key of `entry` out. */
  private withheldFrom(entry: Withheld, peer: string): boolean {
    return entry.peers.has(peer) || (entry.overflow && !this.exact?.(peer));
  }

  /** Whether a link to `peer` left any key of `space` out (that has not changed since). */
  hasWithheldFrom(peer: string, space: string): boolean {
    const keys = this.withheldKeys.size > 0 ? this.withheldKeys.get(space) : undefined;
    if (keys) for (const entry of keys.values()) if (this.withheldFrom(entry, peer)) return true;
    return false;
  }

  /** Every key withheld, with the peer whose link left it out and how far other peers hold it (`heldElsewhere`). */
  withheldList(): Array<[space: string, key: string, peer: string, elsewhere: number]> {
    const out: Array<[string, string, string, number]> = [];
    for (const [space, keys] of this.withheldKeys) {
      for (const [key, { peers, elsewhere, overflow }] of keys) {
        for (const peer of peers.keys()) out.push([space, key, peer, elsewhere]);
        if (overflow) out.push([space, key, ANY, elsewhere]);
      }
    }
    return out;
  }

  /**
   * Listens to keys newly withheld from a peer (`fresh`), and to a withheld key's `elsewhere` rising (then `peer` is one
   * of those it is withheld from): tab-waits.ts tells the other instances sharing the storage.
   */
  onWithhold(listener: (peer: string, space: string, key: string, elsewhere: number, fresh: boolean) => void): () => void {
    this.withholdListeners.add(listener);
    return () => void this.withholdListeners.delete(listener);
  }

  /**
   * Whether `key` is withheld for what reaches `seq`: some link left it out, and no peer whose link did not has
   * acknowledged our log up to `seq` (in a session still open or one that ended: `elsewhere` keeps it).
   */
  isWithheld(space: string, key: string, seq: number): boolean {
    const entry = this.withheldKeys.size > 0 ? this.withheldKeys.get(space)?.get(key) : undefined;
    return entry !== undefined && entry.elsewhere < seq;
  }

  /**
   * `key`'s record changed (to the one at `seq`): a withheld key's next state may go; its parked waiters are weighed
   * again. Not when a frame that left the key out reached `seq` already: its change was heard after a log read sent
   * that frame (the record is durable, and read, before its transaction's change is told), and it is the record left out.
   * An acknowledgement past `seq` may have come before the change was heard (a log frame reads a durable record first),
   * and kept the key pending while it was withheld: it counts now, or the key waited for the next one.
   */
  release(space: string, key: string, seq?: number): void {
    const keys = this.withheldKeys.get(space);
    const entry = keys?.get(key);
    if (!keys || !entry) return;
    if (seq !== undefined && entry.upTo >= seq) {
      const before = entry.peers.size + (entry.overflow ? 1 : 0);
      this.releaseBelow(space, key, entry, seq);
      if (entry.peers.size + (entry.overflow ? 1 : 0) < before) this.weighAgain(space, key);
      return;
    }
    keys.delete(key);
    if (keys.size === 0) this.withheldKeys.delete(space);
    this.weighAgain(space, key);
  }

  /**
   * Per peer, where a frame to some peer that left the key out reached `seq` (so `release` keeps the entry): the peers
   * whose own frames that left it out all lay below `seq` are released — their links read an older record, and what
   * they acknowledged since (`framed`) counts the key as any other peer's does; a frame to one that leaves the newer
   * record out names it again (`withhold`). A peer with no known position (0: a repair state, a copy told by another
   * instance) may have been left out of the newer record itself: it stays, as the whole entry did before.
   */
  private releaseBelow(space: string, key: string, entry: Withheld, seq: number): void {
    let upTo = entry.overflow ? entry.overflowUpTo : 0;
    for (const [peer, at] of entry.peers) {
      if (at >= seq || at === 0) {
        upTo = Math.max(upTo, at);
        continue;
      }
      entry.peers.delete(peer);
      entry.elsewhere = Math.max(entry.elsewhere, this.framed.get(peer)?.get(space) ?? 0);
    }
    if (entry.overflow && entry.overflowUpTo > 0 && entry.overflowUpTo < seq) entry.overflow = false;
    entry.upTo = upTo;
  }

  /**
   * The pending keys of `space` withheld from some peer, not from `peer`, and held by no peer as far as their records
   * reach (`locate`): a resumed cursor of `peer` past one of them says nothing of it (`ack`), so they go to it again
   * (withheld-passed.ts).
   */
  unheldFor(peer: string, space: string): string[] {
    const keys = this.withheldKeys.size > 0 ? this.withheldKeys.get(space) : undefined;
    const out: string[] = [];
    if (keys) {
      for (const [key, entry] of keys) {
        const at = this.locate?.(space, key);
        if (at !== undefined && entry.elsewhere < at && !this.withheldFrom(entry, peer)) out.push(key);
      }
    }
    return out;
  }

  /**
   * `peer` acknowledged frames sent under its id that carried `key`'s record at `at` (a repair state): unless its link
   * left the key out, the key counts as held up to there, as by an acknowledgement of a log frame (`countAck`).
   */
  heldBy(peer: string, space: string, key: string, at: number): void {
    const entry = this.withheldKeys.size > 0 ? this.withheldKeys.get(space)?.get(key) : undefined;
    if (!entry || entry.elsewhere >= at || this.withheldFrom(entry, peer)) return;
    entry.elsewhere = at;
    const [first = ANY] = entry.peers.keys();
    for (const l of this.withholdListeners) l(first, space, key, at, false);
    this.weighAgain(space, key);
  }

  /** Resolves once the read of stored withholds of `space` under way (`storedWithholds`), and the acknowledgements behind it, are done. */
  async reads(space: string): Promise<void> {
    for (let t = this.taking.get(space); t; t = this.taking.get(space)) await t;
  }

  /** Parked waiters of `space` (on `key`, when given) are weighed again. */
  private wake(space: string, key?: string): void {
    for (const [w, s] of [...this.parked]) {
      if (s !== space || (key !== undefined && w.key !== key)) continue;
      this.parked.delete(w);
      this.settle(space, w);
    }
    for (const entry of [...this.parkedReplicated]) {
      if (entry[0] !== space || (key !== undefined && entry[1].key !== key)) continue;
      this.parkedReplicated.delete(entry);
      this.settleReplicated(space, entry[1]);
    }
  }

  /** Whether some peer acknowledged a log frame that carried `key` and reached past `seq`. */
  private carriedPast(space: string, key: string, seq: number): boolean {
    for (const [peer, spaces] of this.carried) {
      const list = spaces.get(space)?.get(key);
      if (!list) continue;
      const upTo = this.ackedBy(peer, space);
      if (list.some((f) => f >= seq && f <= upTo)) return true;
    }
    return false;
  }

  /**
   * Resolves the waiter if its seq is acknowledged and its key's record is not past the acknowledgement (read after
   * it), or moves it to where the record is now; keeps it waiting while its seq is past what was acknowledged.
   */
  private settle(space: string, w: SyncWaiter): void {
    const upTo = this.acked.get(space) ?? 0;
    if (w.seq > upTo) {
      let list = this.waiters.get(space);
      if (!list) this.waiters.set(space, (list = []));
      list.push(w);
      return;
    }
    if (this.carriedPast(space, w.key, w.origin) || (this.heldAt.get(space)?.get(w.key) ?? 0) >= w.origin) return w.resolve();
    if (this.isWithheld(space, w.key, w.seq)) return void this.parked.set(w, space);
    void this.recordNow(space, w.key).then((at) => {
      if (at === STALLED) return;
      if (this.isWithheld(space, w.key, Math.max(w.seq, at ?? 0))) return void this.parked.set(w, space);
      if (at === undefined || at <= upTo) return w.resolve();
      w.seq = at;
      this.settle(space, w);
    });
  }

  /**
   * Where `key`'s record holding our versions is now (`where`, read after the acknowledgement that brought a waiter
   * here). A closed replica asks the pending-writes map (right after a clean close); a read that fails under a live one
   * is a storage gone in a crash: STALLED, and the waiter stays unresolved.
   */
  private recordNow(space: string, key: string): Promise<number | undefined> {
    if (!this.where || this.closed?.()) return Promise.resolve(this.locate?.(space, key));
    return this.where(space, key).catch(() => STALLED);
  }

  /**
   * A peer acknowledged our log in `space` up to `upTo` (`peer`: its replicaId, when known). `resumed`: the peer's cursor
   * our stream resumed from, not frames sent under this id — it may have been reached under another id (a peer restored
   * from a copy comes back under a new one) while a link to it left keys out, so it counts no withheld key held.
   * `via`: the session whose frames it answers (`sentFrame`'s), as `onStreamAck` tells it.
   */
  ack(space: string, seq: number, peer?: string, resumed = false, via?: object): void {
    // A closed replica's sessions may still drain frames: what they acknowledge counts for nothing now (after a crash
    // the pending-writes map may place a key whose newer record the crash took).
    if (this.closed?.()) return;
    const waiting = this.taking.size > 0 ? this.taking.get(space) : undefined;
    if (waiting) return void waiting.then(() => this.ack(space, seq, peer, resumed, via));
    const reading = resumed ? this.storedWithholds?.(space) : undefined;
    if (reading) {
      // A read that never will be (the replica closed) counts no resumed cursor.
      const read = reading.catch(() => false);
      const taking = read.then((ok) => {
        if (this.taking.get(space) === taking) this.taking.delete(space);
        if (ok) this.countAck(space, seq, peer, true);
      });
      this.taking.set(space, taking);
      return;
    }
    this.countAck(space, seq, peer, resumed, via);
  }

  private countAck(space: string, seq: number, peer: string | undefined, resumed: boolean, via?: object): void {
    if (this.closed?.()) return;
    if (peer !== undefined && seq > 0) {
      if (via && !resumed) for (const l of this.streamAckListeners) l(peer, space, seq, via);
      let m = this.byPeer.get(peer);
      if (!m) this.byPeer.set(peer, (m = new Map()));
      if ((m.get(space) ?? 0) < seq) {
        m.set(space, seq);
        for (const l of this.peerListeners) l(peer, space, seq);
        this.ackedCarried(peer, space, seq);
      }
      let f = this.framed.get(peer);
      if (!resumed && !f) this.framed.set(peer, (f = new Map()));
      if (f && !resumed && (f.get(space) ?? 0) < seq) {
        f.set(space, seq);
        // A peer whose link sent what another's left out: its acknowledgement counts those keys.
        const withheld = this.withheldKeys.get(space);
        let rose = false;
        if (withheld) {
          for (const [key, entry] of withheld) {
            if (entry.elsewhere >= seq || this.withheldFrom(entry, peer)) continue;
            entry.elsewhere = seq;
            rose = true;
            const [first = ANY] = entry.peers.keys();
            for (const l of this.withholdListeners) l(first, space, key, seq, false);
          }
        }
        // Only then: a relay's countless clients, each a withholding link, acknowledge all the time.
        if (rose) {
          this.wake(space);
          const upTo = this.acked.get(space) ?? 0;
          if (upTo >= seq) for (const l of this.advanceListeners) l(space, upTo, peer);
        }
      }
    }
    if ((this.acked.get(space) ?? 0) >= seq) return;
    this.acked.set(space, seq);
    for (const l of this.advanceListeners) l(space, seq, peer);
    const list = this.waiters.get(space);
    if (!list) return;
    const keep: SyncWaiter[] = [];
    const due: SyncWaiter[] = [];
    for (const w of list) (w.seq <= seq ? due : keep).push(w);
    if (keep.length) this.waiters.set(space, keep);
    else this.waiters.delete(space);
    for (const w of due) this.settle(space, w);
  }

  /** `peer` acknowledged up to `upTo`: the waiters on keys its acknowledged frames carried past their writes resolve. */
  private ackedCarried(peer: string, space: string, upTo: number): void {
    const byKey = this.carried.get(peer)?.get(space);
    if (!byKey) return;
    for (const [key, list] of byKey) {
      let at = 0;
      for (const f of list) if (f <= upTo && f > at) at = f;
      if (at > 0) this.held(space, key, at, true);
      // Weighed for every waiter it reached; a waiter made later reads where its key is (settle).
      const rest = list.filter((f) => f > upTo);
      if (rest.length) byKey.set(key, rest);
      else byKey.delete(key);
    }
  }

  /**
   * A peer holds `key`'s state as of log position `at` (an acknowledged frame carried it there): its waiters for writes
   * at or below `at` resolve, and `replicated(n)` ones once n relays hold the log up to `at`. `tell`: heard from our
   * own peer (not passed on by another instance), so instances waiting on the key are told (tab-waits.ts).
   */
  held(space: string, key: string, at: number, tell = false): void {
    let keys = this.heldAt.get(space);
    if ((keys?.get(key) ?? 0) >= at) return;
    if (!keys) this.heldAt.set(space, (keys = new Map()));
    keys.set(key, at);
    for (const w of [...(this.waitingOn.get(space)?.get(key) ?? [])]) if (w.origin <= at) w.resolve();
    for (const w of [...(this.repOn.get(space)?.get(key) ?? [])]) if (w.origin <= at && this.replicatedCount(space, at) >= w.n) w.resolve();
    if (tell && this.remoteWaits.get(space)?.delete(key)) for (const l of this.heldListeners) l(space, key, at);
    this.forgetHeld(space, key);
  }

  /** Nobody here waits on `key` any more: what a peer holds of it need not be kept. */
  private forgetHeld(space: string, key: string): void {
    if (this.waitingOn.get(space)?.get(key)?.size || this.repOn.get(space)?.get(key)?.size) return;
    const keys = this.heldAt.get(space);
    if (keys?.delete(key) && keys.size === 0) this.heldAt.delete(space);
  }

  /** Another instance sharing the storage waits on these keys: log frames to our peers note them (sentFrame). */
  remoteWait(space: string, keys: readonly string[]): void {
    let set = this.remoteWaits.get(space);
    if (!set) this.remoteWaits.set(space, (set = new Set()));
    for (const key of keys) if (set.size < 10_000) set.add(key);
  }

  /** This instance no longer hears peers (it gave the network role up): the other instances' waits are not its to note. */
  forgetRemoteWaits(): void {
    this.remoteWaits.clear();
  }

  /** Whether a waiter here waits on `key`. */
  waitsOn(space: string, key: string): boolean {
    return (this.waitingOn.get(space)?.get(key)?.size ?? 0) > 0 || (this.repOn.get(space)?.get(key)?.size ?? 0) > 0;
  }

  /** The keys waiters here wait on, per space (told to a new leader of the instances sharing the storage). */
  waitedKeys(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const on of [this.waitingOn, this.repOn]) {
      for (const [space, keys] of on) for (const [key, set] of keys) if (set.size > 0) (out.get(space) ?? out.set(space, []).get(space)!).push(key);
    }
    return out;
  }

  /** Called when a waiter on a key is made. Returns the unsubscribe function. */
  onWait(listener: (space: string, key: string) => void): () => void {
    this.waitListeners.add(listener);
    return () => void this.waitListeners.delete(listener);
  }

  /** Called when a peer was found to hold a key another instance waits on. Returns the unsubscribe function. */
  onHeld(listener: (space: string, key: string, at: number) => void): () => void {
    this.heldListeners.add(listener);
    return () => void this.heldListeners.delete(listener);
  }

  /**
   * The peer's last session ended: forget its acknowledgements (a relay meets countless clients; a peer that
   * comes back acknowledges again when its stream restarts from its cursor).
   */
  forgetPeer(peer: string): void {
    this.byPeer.delete(peer);
    this.framed.delete(peer);
    this.carried.delete(peer);
    // What its link could not send stays withheld from it: a next session streams from its cursor, past the key.
  }

  /**
   * A re-identification re-issued the writes after `point` at new seqs (`moved`: space, new seq): a write
   * waiting at an old seq past the point now waits for the newest re-issued seq of its space.
   */
  reissued(point: number, moved: ReadonlyArray<readonly [string, number]>): void {
    const top = new Map<string, number>();
    for (const [space, seq] of moved) top.set(space, Math.max(top.get(space) ?? 0, seq));
    for (const [space, list] of this.waiters) {
      const t = top.get(space);
      if (t !== undefined) for (const w of list) if (w.seq > point && w.seq < t) w.seq = w.origin = t;
    }
  }

  /** The seq up to which some peer acknowledged our log in `space` (0 when none did). */
  ackedUpTo(space: string): number {
    return this.acked.get(space) ?? 0;
  }

  /**
   * Called whenever the acknowledged seq of a space advances (`peer`: the peer that acknowledged, undefined
   * when another instance sharing the storage passed it on). Returns the unsubscribe function.
   */
  onAdvance(listener: (space: string, upTo: number, peer: string | undefined) => void): () => void {
    this.advanceListeners.add(listener);
    return () => void this.advanceListeners.delete(listener);
  }

  /** Called on every replication report that told something new. Returns the unsubscribe function. */
  onReplicated(listener: (space: string, upTo: number, count: number) => void): () => void {
    this.repListeners.add(listener);
    return () => void this.repListeners.delete(listener);
  }

  /** Every space's acknowledged seq, and the replication reports: what another instance needs to catch up. */
  snapshot(): { acks: Array<[string, number]>; reps: Array<[string, number, number]> } {
    const reps: Array<[string, number, number]> = [];
    for (const [space, list] of this.reps) for (const [u, n] of list) reps.push([space, u, n]);
    return { acks: [...this.acked], reps };
  }

  /** The seq up to which `peer` acknowledged our log in `space` (0 when it did not). */
  ackedBy(peer: string, space: string): number {
    return this.byPeer.get(peer)?.get(space) ?? 0;
  }

  /**
   * Called on every log frame (upTo > 0) that went to a peer, with its entries as sent (a relay notes which keys went
   * to its cluster's members: cluster.ts). Returns the unsubscribe function.
   */
  onFrame(listener: (peer: string, space: string, upTo: number, entries: Iterable<readonly [key: string, ...unknown[]]>, via: object | undefined) => void): () => void {
    this.frameListeners.add(listener);
    return () => void this.frameListeners.delete(listener);
  }

  /**
   * Called on every acknowledgement of log frames a session sent (`via`: that session, as `sentFrame` named it), before
   * `onPeerAck`'s and whether or not it advanced: it answers that session's frames up to `upTo`, and no other's — a
   * frame that went on a connection that dropped may never have been stored, and the next session streams from the
   * peer's stored cursor (past the frame's seq without its keys, when they were written again since). Returns the
   * unsubscribe function.
   */
  onStreamAck(listener: (peer: string, space: string, upTo: number, via: object) => void): () => void {
    this.streamAckListeners.add(listener);
    return () => void this.streamAckListeners.delete(listener);
  }

  /** Called on every per-peer acknowledgement that advanced; returns the unsubscribe function. */
  onPeerAck(listener: (peer: string, space: string, upTo: number) => void): () => void {
    this.peerListeners.add(listener);
    return () => void this.peerListeners.delete(listener);
  }

  // ---- replication counts reported by relays ------------------------------------------------------

  /** How many relays hold our log in `space` up to `seq`, as far as we were told (0 when unknown). */
  replicatedCount(space: string, seq: number): number {
    let best = 0;
    for (const [u, n] of this.reps.get(space) ?? []) if (u >= seq && n > best) best = n;
    return best;
  }

  /** A relay reported that `count` relays hold our log in `space` up to `upTo`. */
  replicated(space: string, upTo: number, count: number): void {
    const list = (this.reps.get(space) ?? []).filter(([u, n]) => !(u <= upTo && n <= count));
    if (list.some(([u, n]) => u >= upTo && n >= count)) return;
    list.push([upTo, count]);
    list.sort((a, b) => a[0] - b[0]);
    this.reps.set(space, list);
    for (const l of this.repListeners) l(space, upTo, count);
    // Waiters on keys a peer holds past their writes (held): resolved once n relays hold the log up to there.
    const heldHere = this.heldAt.get(space);
    if (heldHere) {
      for (const [key, set] of this.repOn.get(space) ?? []) {
        const at = heldHere.get(key);
        if (at !== undefined) for (const w of [...set]) if (w.origin <= at && this.replicatedCount(space, at) >= w.n) w.resolve();
      }
    }
    const waiting = this.repWaiters.get(space);
    if (!waiting) return;
    const keep = waiting.filter((w) => !w.done && this.replicatedCount(space, w.seq) < w.n);
    if (keep.length) this.repWaiters.set(space, keep);
    else this.repWaiters.delete(space);
    for (const w of waiting) if (!w.done && !keep.includes(w)) this.settleReplicated(space, w);
  }

  /** Resolves once `n` relays hold the write of `key` (when given) at `seq`: as `wait`, with the relays' reports. */
  waitReplicated(space: string, seq: number, n: number, key?: string): Promise<void> {
    if (key === undefined && this.replicatedCount(space, seq) >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const w: Waiter = { seq, origin: seq, n, key, resolve };
      if (key !== undefined) this.file(this.repOn, space, key, w, resolve);
      this.settleReplicated(space, w);
    });
  }

  /** As `settle`, for a replication waiter. */
  private settleReplicated(space: string, w: Waiter): void {
    const at = w.key === undefined ? undefined : this.heldAt.get(space)?.get(w.key);
    if (at !== undefined && at >= w.origin && this.replicatedCount(space, at) >= w.n) return w.resolve();
    if (this.replicatedCount(space, w.seq) < w.n) {
      let list = this.repWaiters.get(space);
      if (!list) this.repWaiters.set(space, (list = []));
      list.push(w);
      return;
    }
    if (w.key === undefined) return w.resolve();
    const held = w.seq;
    void this.recordNow(space, w.key).then((at) => {
      if (at === STALLED) return;
      // Left out of what we sent: relays hold our log past it without it. Weighed again at the key's next change.
      if (this.isWithheld(space, w.key!, Math.max(held, at ?? 0))) return void this.parkedReplicated.add([space, w]);
      if (at === undefined || at <= held || this.replicatedCount(space, at) >= w.n) return w.resolve();
      w.seq = at;
      this.settleReplicated(space, w);
    });
  }
}
