/**
 * LEFT (protocol 12): a key state a link could not carry — a version over the connection's frame limit, or siblings over
 * what the peer stages in parts (wire.ts: VALUE_TOO_LARGE at the sender) — is told to the peer by name, with the dots
 * of the versions it left out. Before 12 only the sender knew: the peer's cursor passed the key, and it reported
 * `synced` while it lacked the version (an app showing "up to date" with data missing).
 *
 *   sender     after the frame that left the key out is held for its withhold (wire.ts WITHHELD), one LEFT of the
 *              key and its state's dots, before the key's context alone: only to a peer whose hello listed 12
 *   receiver   a client: reports VALUE_TOO_LARGE once per LEFT, and counts the key as lacked from that peer (`Lacks`,
 *              across that peer's links until one is closed by the app): while any key is lacked the replica's status
 *              is not 'synced' (its links' are: they carried what they could) and whenSynced waits. A lack ends once the
 *              replica's state of the key covers every dot told (the version came, in parts or by another link, or a
 *              state that superseded it: a smaller write, a delete). A later link to the peer asks for the keys still
 *              lacked (NEED, space-sync.ts `decide`): they come if that link carries them (a wider frame limit), else
 *              are told again. A server (a relay) keeps none: its clients' frame limits are theirs, its status no app's.
 *
 * Bounded: a LEFT names at most what a frame holds, and a peer at most MAX_LACKS keys lacked from it, past which its
 * LEFT is refused (protocol error): a peer cannot make this replica hold more.
 */
import { coversDot, type EpochRegistry } from '../dvv.js';
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

/** The keys lacked from each peer (a client's replica: one, across that peer's links). */
export class Lacks {
  /** peer → space → key → the dots told left out and not covered here yet. */
  private readonly peers = new Map<string, Map<string, Map<string, readonly LeftDot[]>>>();

  constructor(
    private readonly reg: () => EpochRegistry,
    /** Keys lacked from `peer` changed: its links' status is computed again. */
    private readonly moved: (peer: string) => void,
    private readonly report: (e: ConcordError) => void,
  ) {}

  /** `peer` left out `m`'s keys on a link to us; kept by a client only (`kept`). */
  told(peer: string | undefined, m: Left, kept: boolean): void {
    if (peer === undefined) throw new ProtocolError('expected hello first');
    if (!kept) return;
    let spaces = this.peers.get(peer);
    if (!spaces) this.peers.set(peer, (spaces = new Map()));
    let keys = spaces.get(m.space);
    if (!keys) spaces.set(m.space, (keys = new Map()));
    for (const [k, dots] of m.keys) {
      if (!keys.has(k) && this.count(spaces) >= MAX_LACKS) throw new ProtocolError(`more than ${MAX_LACKS} keys left out by one peer`);
      keys.set(k, dots);
      this.report(new ConcordError('VALUE_TOO_LARGE', `"${k}" in space "${m.space}" was not received from ${peer}: its state is over what the link carries (a version over the frame limit, or more siblings than one key in parts holds); this replica lacks it (not synced) until a link carries it or a smaller state supersedes it`));
    }
    this.moved(peer);
  }

  private count(spaces: Map<string, Map<string, unknown>>): number {
    let n = 0;
    for (const keys of spaces.values()) n += keys.size;
    return n;
  }

  /** Every lack: peer, space, key, the dots told and not covered here (for inspection). */
  list(): Array<[string, string, string, readonly LeftDot[]]> {
    const out: Array<[string, string, string, readonly LeftDot[]]> = [];
    for (const [peer, spaces] of this.peers) for (const [space, keys] of spaces) for (const [k, dots] of keys) out.push([peer, space, k, dots]);
    return out;
  }

  /** Whether any key is lacked (from any peer). */
  get any(): boolean {
    return this.peers.size > 0;
  }

  /** A link to `peer` was closed for good (`Link.close`): what it could not send is no longer waited for. */
  forget(peer: string): void {
    if (this.peers.delete(peer)) this.moved(peer);
  }

  /** The keys of `space` lacked from `peer` (a new link asks for them). */
  keys(peer: string, space: string): string[] {
    return [...(this.peers.get(peer)?.get(space)?.keys() ?? [])];
  }

  /** A stored change: where its state covers every dot a peer left out of the key, the lack ends. */
  changed(change: StoredChange): void {
    if (this.peers.size === 0) return;
    for (const [peer, spaces] of this.peers) {
      const keys = spaces.get(change.space);
      const dots = keys?.get(change.key);
      if (!dots) continue;
      const left = dots.filter((d) => !coversDot(this.reg(), change.rec, d.r, d.e === '' ? undefined : d.e, d.n));
      if (left.length === dots.length) continue;
      if (left.length > 0) keys!.set(change.key, left);
      else {
        keys!.delete(change.key);
        if (keys!.size === 0) spaces.delete(change.space);
        if (spaces.size === 0) this.peers.delete(peer);
      }
      this.moved(peer);
    }
  }
}
