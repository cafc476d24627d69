/**
 * Keys a link asked a peer below protocol 11 for (NEED: wire.ts, peer-model.ts `toAsk`) and that are not settled yet:
 * they outlive the link that asked, per peer, in the replica's memory and in its storage (open-asks-store.ts).
 *
 * Why: the ask is made once, by the link whose frame left the key out (its state names an epoch); the peer's answer —
 * its state of the key — is what lets that link tell the key's context alone lowered to it (need-answers.ts `heard`).
 * A link dropped between the NEED and its answer lost both, and the next link never met the key again: the peer's
 * cursor had passed the frame that left it out, so nothing sent, left out or asked it, and without anti-entropy the
 * peer kept a version the state superseded for good (review r0010's probe, the restore-once 1743400010 outcome). So
 * the next link to the peer sends each key still open here as a repair state (need-answers.ts `reask`): left out again,
 * it is noted and asked for as on the first link, and the answer settles it.
 *
 * An ask settles once a link holding the key's note hears the peer's state of it (the context alone then goes lowered
 * to it), once a link leaves the key out knowing the peer's state (no ask needed), or once its state goes whole (the peer
 * upgraded, or the key's state names no epoch now). Each link asks a key once (peer-model.ts `asked`): a link that keeps
 * dropping asks once per link, no more.
 *
 * Stored with the replica's sync state (open-asks-store.ts): a restarted replica, and a new leader tab on a storage
 * shared by tabs, ask them again on the next link to the peer. Bounded: MAX_OPEN ids across peers (read-only sessions'
 * included, held apart: `readers`), in memory and so in storage (the store writes what memory holds); past it the peer
 * that asked least recently loses all its asks — a forged or fresh id (every client of a relay may make one up) pushes
 * out the quietest peer, never the peer asking now — and a single peer past it its oldest. An ask lost so is as before
 * open asks: the peer keeps the superseded version until an anti-entropy run or the key's next write.
 */
export const MAX_OPEN = 16_384;

/** `space\0key` ids of one peer's open asks. */
export class PeerAsks {
  readonly ids = new Set<string>();
  /** Its peer's asks went past MAX_OPEN (OpenAsks `room`): a link still holding this keeps none. */
  gone = false;

  constructor(
    readonly peer: string,
    private readonly all: OpenAsks,
    /**
     * Kept with the replica's storage (open-asks-store.ts). A read-only session's asks are not (wire.ts): a session
     * that may store nothing makes the replica write nothing either — they live in memory only, as all asks did
     * before stop 46 (the reader keeps a superseded version past a restart until a run or the key's next write).
     */
    readonly kept = true,
  ) {}

  add(id: string): void {
    if (this.gone) return;
    if (this.ids.has(id)) return this.all.touched(this, id); // asked again: the most recent, no more held
    this.ids.add(id);
    this.all.added(this, id);
  }

  delete(id: string): void {
    if (!this.ids.delete(id)) return;
    this.all.size--;
    if (this.kept) this.all.changed();
  }

  /** Once every ask added so far is stored (open-asks-store.ts); undefined when nothing waits to be stored. */
  stored(): Promise<void> | undefined {
    return this.kept ? this.all.store?.durable() : undefined;
  }

  /** While the stored asks are being read (a link's first, or each where tabs share them): what reads them waits. */
  loading(): Promise<void> | undefined {
    return this.all.store?.loading();
  }
}

/** What keeps the asks with the replica's storage (open-asks-store.ts). */
export interface AsksStore {
  /**
   * The asks changed: they are stored again. `peer`'s ask of `id` was opened: what waits for it (`durable`) waits for a
   * write holding it; other changes (settled, evicted, more recent) go with a later write (open-asks-store.ts).
   */
  changed(peer?: string, id?: string): void;
  /** `peer`'s ask of `id`, held in memory, was made again: written (and waited for) where storage may lack it. */
  asked(peer: string, id: string): void;
  /** Once the asks as they are now are stored durably; undefined when nothing is being stored. */
  durable(): Promise<void> | undefined;
  /** A link to a peer starts (`earlier`: below 11): where other instances may have changed the stored asks, they are read. */
  linked(earlier: boolean): void;
  loading(): Promise<void> | undefined;
}

export class OpenAsks {
  /** peer → its open asks, least recently asking first. */
  private readonly peers = new Map<string, PeerAsks>();
  size = 0;
  /** Where the asks are kept beside memory (none: memory only, as unit tests use it). */
  store: AsksStore | undefined;
  /**
   * Read-only sessions' asks (`kept` false), apart: a reader asking now pushed out the quietest peers' asks, writers'
   * stored ones too — any client may read, under fresh ids, and make the relay ask below 11. They share MAX_OPEN with the
   * writers' (held, all together, never past it): readers have the room writers leave, and a writer's ask past it pushes
   * readers' out first (each held up to 2 × MAX_OPEN ids before).
   */
  private readers: OpenAsks | undefined;

  /** `writers`: this holds the readers' asks of those writers' (its room is what theirs leave). */
  constructor(private readonly writers?: OpenAsks) {}

  /** The ids this may hold: MAX_OPEN, less the writers' where this holds readers'. */
  private get room(): number {
    return MAX_OPEN - (this.writers?.size ?? 0);
  }

  /** Asks held, readers' included. */
  get held(): number {
    return this.size + (this.readers?.size ?? 0);
  }

  /** The open asks of `peer` (a link to it binds them: peer-model.ts); `kept`: with the storage (PeerAsks), else apart. */
  of(peer: string, kept = true): PeerAsks {
    if (!kept && !this.writers) return (this.readers ??= new OpenAsks(this)).of(peer, false);
    let asks = this.peers.get(peer);
    if (!asks) this.peers.set(peer, (asks = new PeerAsks(peer, this, kept)));
    return asks;
  }

  /** A link to `peer` starts (`earlier`: below 11, whom links ask): its open asks, the stored ones read first (`loading`). */
  link(peer: string, earlier: boolean): PeerAsks {
    this.store?.linked(earlier);
    return this.of(peer);
  }

  /** `asks` asked again for `id`, which it holds: it is the most recent, and `id` is stored before its frame goes. */
  touched(asks: PeerAsks, id: string): void {
    if (asks.kept) this.store?.asked(asks.peer, id);
    if (this.newest === asks) return; // the most recent already: nothing to store again
    this.newest = asks;
    this.peers.delete(asks.peer);
    this.peers.set(asks.peer, asks);
    if (asks.kept) this.changed();
  }

  /** The peer last moved to the end of `peers` by an ask (undefined: not known, as after `restore`). */
  private newest: PeerAsks | undefined;

  changed(): void {
    this.store?.changed();
  }

  /** `asks` took `id`: it is the most recent; past MAX_OPEN the least recent peers' go, then its own oldest. */
  added(asks: PeerAsks, id: string): void {
    this.newest = asks;
    this.peers.delete(asks.peer);
    this.peers.set(asks.peer, asks);
    this.size++;
    const trimmed = this.trim(asks);
    // All asks together stay within MAX_OPEN: a writer's takes the readers' room (readers never push writers out).
    if (asks.kept) this.readers?.trim(undefined);
    if (asks.kept) this.store?.changed(asks.peer, id);
    else if (trimmed) this.changed(); // kept asks went for it: storage holds them until a write
  }

  /** Past its room: the least recent peers' asks go (all of each), then `keep`'s oldest. Whether kept asks went. */
  private trim(keep: PeerAsks | undefined): boolean {
    let kept = false;
    const room = this.room;
    for (const a of this.peers.values()) {
      if (this.size <= room || a === keep) break;
      kept ||= a.kept && a.ids.size > 0;
      this.size -= a.ids.size;
      a.ids.clear();
      a.gone = true;
      this.peers.delete(a.peer);
    }
    if (keep) for (const id of keep.ids) {
      if (this.size <= room) break;
      keep.ids.delete(id);
      this.size--;
      kept ||= keep.kept;
    }
    return kept;
  }

  /**
   * Asks read from storage (least recently asking peer first) join those in memory: peers that asked in this process
   * stay the most recent.
   */
  restore(stored: ReadonlyArray<readonly [string, readonly string[]]>): void {
    const before = this.size;
    const older = new Map<string, PeerAsks>();
    for (const [peer, ids] of stored) {
      const live = this.peers.get(peer);
      const asks = live ?? older.get(peer) ?? new PeerAsks(peer, this);
      for (const id of ids) if (!asks.ids.has(id)) (asks.ids.add(id), this.size++);
      if (!live && asks.ids.size > 0) older.set(peer, asks);
    }
    if (this.size === before) return;
    const live = [...this.peers];
    this.peers.clear();
    for (const [peer, asks] of older) this.peers.set(peer, asks);
    for (const [peer, asks] of live) this.peers.set(peer, asks);
    this.trim(undefined);
    this.readers?.trim(undefined);
  }

  /** Every peer's open asks, least recently asking first (what the store writes). */
  list(): Array<[string, string[]]> {
    const out: Array<[string, string[]]> = [];
    for (const [peer, asks] of this.peers) if (asks.kept && asks.ids.size > 0) out.push([peer, [...asks.ids]]);
    return out;
  }
}
