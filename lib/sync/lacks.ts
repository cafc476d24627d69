/**
 * LEFT (protocol 12): a key state a link could not carry — a version over the connection's frame limit, or siblings over
 * what the peer stages in parts (wire.ts: VALUE_TOO_LARGE at the sender) — is told to the peer by name, with the dots
 * of the versions it left out. Before 12 only the sender knew: the peer's cursor passed the key, and it reported
 * `synced` while it lacked the version (an app showing "up to date" with data missing).
 *
 *   sender     after the frame that left the key out is held for its withhold (wire.ts WITHHELD), one LEFT of the
 *              key and its state's dots, before the key's context alone: only to a peer whose hello listed 12
 *   receiver   a client: reports VALUE_TOO_LARGE once per LEFT, and counts the key as lacked from that peer (`Lacks`,
 *              across that peer's links, the app's closing them, and the replica's restarts): while a key is lacked from a peer a
 *              link runs to, the replica's status is not 'synced' (its links' are: they carried what they could) and
 *              whenSynced waits. A lack ends once the
 *              replica's state of the key covers every dot told (the version came, in parts or by another link, or a
 *              state that superseded it: a smaller write, a delete). A later link to the peer asks for the keys still
 *              lacked (NEED, space-sync.ts `decide`): they come if that link carries them (a wider frame limit), else
 *              are told again. A server (a relay) keeps none: its clients' frame limits are theirs, its status no app's.
 *
 * Kept with the replica's storage (meta LACKS_META; read at open, while which the status is not 'synced'): a restarted
 * replica whose cursor had passed such a key still lacks it, and is not 'synced'. A change is written at once, in the
 * storage's order, so before the join of any later frame: no durable cursor passes a key whose lack is not (rev48a: a
 * write chained after the previous one's durability left a window). A write carries only the lacks changed here onto
 * what is stored, and a client's session reads what is stored after its cursor, where other instances (tabs) write
 * the same storage: the instance that takes the links learns what the one that held them was told.
 *
 * Bounded: a LEFT names at most what a frame holds; of a key, MAX_LACK_DOTS dots are kept (the lack ends once those are
 * covered); a peer at most MAX_LACKS keys lacked from it, past which its LEFT is refused (protocol error); lacks of at
 * most MAX_PEERS peers, those whose links the app closed and no link runs to dropped first: a peer cannot make more.
 */
import { coversDot, type Causal, type EpochRegistry } from '../dvv.js';
import type { StoredChange } from '../core-types.js';
import { ConcordError } from '../errors.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { EPOCH, key, replicaId, space } from './fields.js';
import { MsgType, type Entry, type Left, type LeftDot } from './messages.js';
import { MAX_COUNTER } from './wire-state.js';

/** The first protocol version with LEFT. */
export const TELLS_LEFT = 12;
/** At most this many keys lacked from one peer, over its spaces. */
export const MAX_LACKS = 4096;
/** At most this many dots kept of a key lacked (a peer names more only for a state of more siblings: those are waited for). */
export const MAX_LACK_DOTS = 32;
/** Lacks kept of at most this many peers (those of peers no link runs to any more go first). */
export const MAX_PEERS = 64;

/** LEFT's wire form: space, then the keys, each with the dots left out (replica, epoch or '', counter). */
export function writeLeft(w: Writer, m: Left): void {
  w.str(m.space);
  w.uint(m.keys.length);
  for (const [k, dots] of m.keys) {
    w.str(k);
    w.uint(dots.length);
    for (const d of dots) (w.sym(d.r), w.str(d.e), w.uint(d.n));
  }
}

export function readLeft(r: Reader): Omit<Left, 'type'> {
  const s = space(r);
  const keys: Array<readonly [string, LeftDot[]]> = [];
  for (let i = 0, n = r.count(2); i < n; i++) {
    const k = key(r);
    const dots: LeftDot[] = [];
    for (let j = 0, nd = r.count(3); j < nd; j++) {
      const d = { r: replicaId(r), e: r.str(), n: r.uint() };
      if (!EPOCH.test(d.e) || d.n <= 0 || d.n > MAX_COUNTER) throw new ProtocolError('invalid dot');
      dots.push(d);
    }
    if (dots.length === 0) throw new ProtocolError('a LEFT key without dots');
    keys.push([k, dots]);
  }
  return { space: s, keys };
}

/**
 * The LEFT frame of `entry`, a state left out (`encode` frames it): its versions' dots, as many as fit a frame (a state of
 * more siblings than that is rare; the lack then ends once those are covered); undefined when none fits.
 */
export function leftFrame(space: string, [key, st]: Entry, maxFrameBytes: number, encode: (m: Left) => Uint8Array): [Uint8Array, Left] | undefined {
  for (let dots = st.vs.map((v) => ({ r: v.r, e: v.ep ?? '', n: v.n })); dots.length > 0; dots = dots.slice(0, dots.length >> 1)) {
    const m: Left = { type: MsgType.Left, space, keys: [[key, dots]] };
    const frame = encode(m);
    if (frame.byteLength <= maxFrameBytes) return [frame, m];
  }
  return undefined;
}

/** Where lacks are kept beside memory (the replica's storage, meta LACKS_META). */
export interface LacksStore {
  read(): Promise<unknown>;
  /**
   * Writes the list `edit` makes of the stored one, in one transaction taken in the storage's order at the call (so
   * before any write asked for after it: a cursor that passes a key left out is never durable before its lack is).
   */
  update(edit: (stored: unknown) => unknown): Promise<void>;
  /** A key's stored state: a lack read back that it covers is over. */
  get(space: string, key: string): Promise<Causal | undefined>;
  /** Other instances (tabs) write the same storage: a session reads what they stored before it asks (`fresh`). */
  shared?: boolean;
}

/** The meta record holding the lacks: [peer, space, key, dots][] (lists only what was written, never trusted past its shape). */
export const LACKS_META = 'lacks';

/** The keys lacked from each peer (a client's replica: one, across that peer's links and its restarts). */
export class Lacks {
  /** peer → space → key → the dots told left out and not covered here yet. */
  private readonly peers = new Map<string, Map<string, Map<string, readonly LeftDot[]>>>();
  /** The read of the stored lacks under way (at open, or `fresh`): counted as lacking, so no status says 'synced' before. */
  private loading: Promise<void> | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  /** Lacks changed here and not written yet, by id (peer, space, key): the write queued takes them when it runs. */
  private dirty: Set<string> | undefined;
  /** Lacks a failed write carried: the next write takes them (each carries only its changes onto what is stored). */
  private unwritten: Set<string> | undefined;
  /** Peers whose last link the app closed, oldest first: their lacks are kept (not counted), the oldest dropped past MAX_PEERS. */
  private readonly unlinked: string[] = [];

  constructor(
    private readonly reg: () => EpochRegistry,
    /** Keys lacked changed: the status is computed again. */
    private readonly moved: () => void,
    private readonly report: (e: unknown) => void,
    private readonly store?: LacksStore,
    /** Whether a link runs to the peer now (hub.ts): one linked again, or by a second link, is never dropped for room. */
    private readonly linked: (peer: string) => boolean = () => false,
  ) {
    if (store) void this.load();
  }

  /** A read queued behind the one under way, not begun: a call before it begins is answered by it. */
  private queued: Promise<void> | undefined;

  /** Reads the stored lacks (after a read under way), lacking meanwhile. */
  private load(): Promise<void> {
    if (this.queued) return this.queued;
    const read: Promise<void> = (this.loading ?? Promise.resolve())
      .then(() => {
        if (this.queued === read) this.queued = undefined;
        return this.store!.read();
      })
      .then((v) => this.restore(v))
      .catch(this.report)
      .finally(() => {
        if (this.loading !== read) return;
        this.loading = undefined;
        this.moved();
      });
    return (this.queued = this.loading = read);
  }

  /** `peer` left out `m`'s keys on a link to us; kept by a client only (`kept`). */
  told(peer: string | undefined, m: Left, kept: boolean): void {
    if (peer === undefined) throw new ProtocolError('expected hello first');
    if (!kept) return;
    const ids: string[] = [];
    for (const [k, dots] of m.keys) {
      if (!this.set(peer, m.space, k, dots.slice(0, MAX_LACK_DOTS))) throw new ProtocolError(`more than ${MAX_LACKS} keys left out by one peer, or lacks from more than ${MAX_PEERS} peers linked`);
      ids.push(idOf(peer, m.space, k));
      this.asking.get(peer)?.delete(m.space + '\0' + k); // its answer: still too large
      void this.recheck(peer, m.space, k);
      this.report(new ConcordError('VALUE_TOO_LARGE', `"${k}" in space "${m.space}" was not received from ${peer}: its state is over what the link carries (a version over the frame limit or over this replica's maxValueBytes × 4, or more siblings than one key in parts holds); this replica lacks it (not synced) until a link carries it or a smaller state supersedes it`));
    }
    this.changed(ids);
  }

  /**
   * Keys a link asked `peer` for (NEED, space-sync.ts `askLacked`) and not told again since: the peer's repair state of
   * one (its answer, whole) is all it holds of the key, so the lack of it from that peer ends once joined — even where
   * the state does not cover the dots told (the version was lost since, a restore: nobody holds it any more).
   */
  private readonly asking = new Map<string, Set<string>>();

  asked(peer: string, space: string, keys: readonly string[]): void {
    let ids = this.asking.get(peer);
    if (!ids) this.asking.set(peer, (ids = new Set()));
    for (const k of keys) ids.add(space + '\0' + k);
  }

  /** `peer`'s repair states of `keys` were joined. */
  answered(peer: string, space: string, keys: readonly string[]): void {
    const ids = this.asking.get(peer);
    if (!ids || ids.size === 0) return;
    const ended: string[] = [];
    for (const k of keys) if (ids.delete(space + '\0' + k) && this.drop(peer, space, k)) ended.push(idOf(peer, space, k));
    if (ended.length > 0) this.changed(ended);
  }

  /** The peer we knew as `from` is `to` now (a relay opens under a new id at every start): its lacks are its. */
  renamed(from: string, to: string): void {
    const spaces = this.peers.get(from);
    if (!spaces || from === to) return;
    this.peers.delete(from);
    this.asking.delete(from);
    const ids: string[] = [];
    for (const [space, keys] of spaces) for (const [k, dots] of keys) if (this.set(to, space, k, dots)) ids.push(idOf(from, space, k), idOf(to, space, k));
    this.changed(ids);
  }

  /** A lack just told that the stored state of the key may already cover (it came by another link first). */
  private async recheck(peer: string, space: string, key: string): Promise<void> {
    const rec = await this.store?.get(space, key).catch(() => undefined);
    const dots = this.peers.get(peer)?.get(space)?.get(key);
    if (!rec || !dots) return;
    if (this.uncovered(rec, dots).length === 0 && this.drop(peer, space, key)) this.changed([idOf(peer, space, key)]);
  }

  /** The dots told left out that `state` does not cover. */
  private uncovered(state: Causal, dots: readonly LeftDot[]): readonly LeftDot[] {
    return dots.filter((d) => !coversDot(this.reg(), state, d.r, d.e === '' ? undefined : d.e, d.n));
  }

  private drop(peer: string, space: string, key: string): boolean {
    const spaces = this.peers.get(peer);
    const keys = spaces?.get(space);
    if (!keys?.delete(key)) return false;
    if (keys.size === 0) spaces!.delete(space);
    if (spaces!.size === 0) this.peers.delete(peer);
    return true;
  }

  /** Keeps a lack; false past MAX_LACKS keys of `peer`, or a peer more than MAX_PEERS none of whose links was closed. */
  private set(peer: string, space: string, key: string, dots: readonly LeftDot[]): boolean {
    let spaces = this.peers.get(peer);
    if (!spaces) {
      if (!this.room()) return false;
      this.peers.set(peer, (spaces = new Map()));
    }
    const gone = this.unlinked.indexOf(peer);
    if (gone >= 0) this.unlinked.splice(gone, 1); // told again: linked again
    let keys = spaces.get(space);
    if (!keys) spaces.set(space, (keys = new Map()));
    if (!keys.has(key) && this.count(spaces) >= MAX_LACKS) return false;
    keys.set(key, dots);
    return true;
  }

  /** Room for one more peer: past MAX_PEERS, the lacks of the peer whose link was closed longest ago (none runs to it now) go. */
  private room(): boolean {
    while (this.peers.size >= MAX_PEERS) {
      const at = this.unlinked.findIndex((p) => !this.linked(p));
      if (at < 0) return false;
      const [oldest] = this.unlinked.splice(at, 1) as [string];
      const spaces = this.peers.get(oldest);
      if (!spaces) continue;
      this.peers.delete(oldest);
      const ids: string[] = [];
      for (const [space, keys] of spaces) for (const k of keys.keys()) ids.push(idOf(oldest, space, k));
      this.changed(ids);
    }
    return true;
  }

  private count(spaces: Map<string, Map<string, unknown>>): number {
    let n = 0;
    for (const keys of spaces.values()) n += keys.size;
    return n;
  }

  /**
   * The lacks of `ids` changed: the status again, and the store written. The write is asked for at once (in the
   * storage's order: before the join of any frame after the one that told), and carries only what changed here onto
   * what is stored (another instance's lacks stay); one write queued takes every change made until it runs. A failed
   * write is reported, memory stays, and what it carried goes with the next write (`unwritten`).
   */
  private changed(ids: readonly string[]): void {
    this.moved();
    if (!this.store || this.closing || ids.length === 0) return; // closing: what it held is stored (`close` waits for it)
    if (this.dirty) return void ids.forEach((id) => this.dirty!.add(id));
    const dirty = (this.dirty = new Set(this.unwritten ? [...this.unwritten, ...ids] : ids));
    this.unwritten = undefined;
    const write = this.store.update((stored) => {
      if (this.dirty === dirty) this.dirty = undefined;
      const list = (Array.isArray(stored) ? stored : []).filter((e): e is StoredLack => wellFormed(e) && !dirty.has(idOf(e[0], e[1], e[2])));
      for (const id of dirty) {
        const [peer, space, key] = id.split('\0') as [string, string, string];
        const dots = this.peers.get(peer)?.get(space)?.get(key);
        if (dots) list.push([peer, space, key, dots]);
      }
      return list.length > 0 ? list : null;
    });
    this.writing = Promise.all([this.writing, write.catch((e: unknown) => this.failed(dirty, e))]);
  }

  /** A write failed (before its edit ran, or after): its lacks go with the next one, not a write that ran without them. */
  private failed(dirty: Set<string>, e: unknown): void {
    if (this.dirty === dirty) this.dirty = undefined; // its edit never ran: no write is queued, the next change makes one
    const to = this.dirty ?? (this.unwritten ??= new Set());
    for (const id of dirty) to.add(id);
    this.report(e);
  }

  /**
   * Stored lacks: those of a well-formed entry whose dots the stored state of the key does not cover, not held here
   * already. Their peers count as unlinked (a link runs to none of them from an open; a tab that takes the links holds
   * none before): a replica that stored lacks of MAX_PEERS peers would else refuse every other peer's LEFT.
   */
  private async restore(v: unknown): Promise<void> {
    if (!Array.isArray(v)) return;
    let any = false;
    const over: string[] = [];
    for (const e of v) {
      if (!wellFormed(e)) continue;
      const [peer, space, key, dots] = e;
      if (this.peers.get(peer)?.get(space)?.has(key)) continue;
      const rec = await this.store!.get(space, key);
      const left = (rec ? this.uncovered(rec, dots) : dots).slice(0, MAX_LACK_DOTS);
      if (left.length === 0) over.push(idOf(peer, space, key));
      else {
        // Read back, not told: no link runs to a peer new here yet, and one unlinked stays so (`room` may drop them).
        const unlinked = !this.peers.has(peer) || this.unlinked.includes(peer);
        if (!this.set(peer, space, key, left)) continue;
        any = true;
        if (unlinked && !this.unlinked.includes(peer)) this.unlinked.push(peer);
      }
    }
    if (over.length > 0) this.changed(over); // no longer stored either
    else if (any) this.moved();
  }

  /**
   * Where other instances write the same storage (tabs): what they stored is read, before a session says what it lacks
   * — another instance may have been told of a key this one's cursor passes (it held the links then). Lacking while
   * read. Elsewhere only the read at open, if still under way.
   */
  fresh(): Promise<void> | undefined {
    return this.store?.shared && !this.closing ? this.load() : this.loading;
  }

  /** Every lack: peer, space, key, the dots told and not covered here yet. */
  list(): Array<[string, string, string, readonly LeftDot[]]> {
    const out: Array<[string, string, string, readonly LeftDot[]]> = [];
    for (const [peer, spaces] of this.peers) for (const [space, keys] of spaces) for (const [k, dots] of keys) out.push([peer, space, k, dots]);
    return out;
  }

  /** Whether any key is lacked (from any peer), or the stored lacks are still being read. */
  get any(): boolean {
    return this.peers.size > 0 || this.loading !== undefined;
  }

  /** Whether a key is lacked from one of `peers` (those a link runs to), or the stored lacks are still being read. */
  from(peers: Iterable<string>): boolean {
    if (this.loading !== undefined) return true;
    for (const p of peers) if (this.peers.has(p)) return true;
    return false;
  }

  /**
   * A link to `peer` was closed for good (`Link.close`, not the replica's): its lacks are no longer counted (`from`), but
   * kept: a later link to the peer resumes from a cursor that passed those keys, and asks for them.
   */
  forget(peer: string): void {
    this.asking.delete(peer);
    if (this.peers.has(peer) && !this.unlinked.includes(peer)) this.unlinked.push(peer);
    this.moved();
  }

  private closing = false;

  /** The replica closes (its links with it: they forget nothing); settles once what changed is stored. */
  close(): Promise<void> {
    this.closing = true;
    return this.writing.then(() => undefined);
  }

  /** The keys of `space` lacked from `peer` (a new link asks for them). */
  keys(peer: string, space: string): string[] {
    return [...(this.peers.get(peer)?.get(space)?.keys() ?? [])];
  }

  /** A stored change: where its state covers every dot a peer left out of the key, the lack ends. */
  stored(change: StoredChange): void {
    if (this.peers.size === 0) return;
    const ids: string[] = [];
    for (const [peer, spaces] of this.peers) {
      const keys = spaces.get(change.space);
      const dots = keys?.get(change.key);
      if (!dots) continue;
      const left = this.uncovered(change.rec, dots);
      if (left.length === dots.length) continue;
      ids.push(idOf(peer, change.space, change.key));
      if (left.length > 0) keys!.set(change.key, left);
      else this.drop(peer, change.space, change.key);
    }
    if (ids.length > 0) this.changed(ids);
  }
}

/** A stored lack: peer, space, key, dots. */
type StoredLack = [string, string, string, readonly LeftDot[]];

/** Whether `e` has a stored lack's shape (what is stored is never trusted past that). */
function wellFormed(e: unknown): e is StoredLack {
  if (!Array.isArray(e) || e.length !== 4 || !e.slice(0, 3).every((x) => typeof x === 'string') || !Array.isArray(e[3])) return false;
  return (e[3] as LeftDot[]).every((d) => d && typeof d.r === 'string' && typeof d.e === 'string' && Number.isSafeInteger(d.n));
}

function idOf(peer: unknown, space: unknown, key: unknown): string {
  return `${String(peer)}\0${String(space)}\0${String(key)}`;
}
