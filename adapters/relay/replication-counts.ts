/**
 * Replication counts of one relay (driven by cluster.ts): when a client's changes are stored here (the session's
 * onStored hook gives our log seq for them and the keys of the frame), the relay counts itself plus the live members
 * that hold them, and sends `{ rep: { s, u, n } }` to the client whenever n grows (cluster-news.ts). A member holds
 * them once it acknowledged that seq in that space and holds each of the frame's keys at a state at least as new: our
 * log holds a key once, at its newest record, so a key written here again (another client, the same one, a join) before
 * the part of the log past the seq went to the member is not in what it acknowledged. What the member holds of a key is
 * known from the log frames that carried it to the member and were acknowledged by an ACK of the session they went on
 * (AckTracker onFrame, onStreamAck: the member holds the key as of every record of it at or below the frame's upTo — a
 * key saved faster than acknowledgements come back counts so; a frame lost with its connection is answered by no other
 * session), or else from where the key's record is now, read after the acknowledgement (records only move up the log:
 * one at or below what the member acknowledged then went to it, or came from it). Entries stored by a repair or a
 * held-back run have no keys here and are counted by the acknowledged seq alone. A report says "n relays hold your log
 * up to u": an entry's count is never above an earlier pending entry's.
 */
import type { MemberInfo, Swim } from '../../lib/membership/index.js';
import type { Replica } from '../../lib/replica.js';
import { encodeNews } from '../../lib/sync/cluster-news.js';
import type { NewsSink } from './cluster.js';

/** Pending replication counts kept per client session and space; the oldest are dropped beyond it. */
const MAX_PENDING = 1024;

/** Log frames to a member not acknowledged yet, kept per member and space at most (a stream's window: 32, or 128 small frames at protocol 12; past it the oldest go and count by `readPositions`). */
const MAX_CARRIED = 256;

interface Pending {
  upTo: number;
  localSeq: number;
  sent: number;
  /** The keys of the client's frame(s); undefined: stored by a repair or a held-back run (not known here). */
  keys: readonly string[] | undefined;
}

export const isLive = (m: MemberInfo): boolean => m.state === 'alive' || m.state === 'suspect';

export class ReplicationCounts {
  private closed = false;
  private readonly pending = new Map<NewsSink, Map<string, Pending[]>>();
  private readonly offAck: () => void;
  private readonly offStreamAck: () => void;
  private readonly offFrame: () => void;
  /** space → key → how many pending entries hold it (the keys whose carrying to members is noted). */
  private readonly watched = new Map<string, Map<string, number>>();
  /** member → space → the log frames that went to it carrying watched keys, not acknowledged yet, with the session they went on. */
  private readonly carried = new Map<string, Map<string, Array<{ upTo: number; keys: string[]; via: object | undefined }>>>();
  /** member → space → watched key → the member holds the key's state as of every record of it at or below this seq. */
  private readonly holds = new Map<string, Map<string, Map<string, number>>>();
  /** space → key → each member's acknowledgement when the key's record was last read (`readPositions`). */
  private readonly readAgainst = new Map<string, Map<string, Map<string, number>>>();

  constructor(private readonly replica: Replica, private readonly swim: Swim) {
    const acks = replica.core.acks;
    // An ACK answers the frames of its own session (`onStreamAck`, before `onPeerAck` of the same ACK).
    this.offStreamAck = acks.onStreamAck((peer, space, upTo, via) => {
      const m = this.swim.member(peer);
      if (!m || m.id === this.swim.id) return;
      // One that did not advance the member's acknowledgement (another session's reached further) counts here.
      if (this.ackedFrames(peer, space, upTo, via) && isLive(m) && acks.ackedBy(peer, space) >= upTo) this.recount(space);
    });
    this.offAck = acks.onPeerAck((peer, space) => {
      const m = this.swim.member(peer);
      if (m && m.id !== this.swim.id && isLive(m)) this.recount(space);
    });
    this.offFrame = acks.onFrame((peer, space, upTo, entries, via) => {
      const keys = this.watched.get(space);
      if (!keys?.size || peer === this.swim.id || !this.swim.member(peer)) return;
      const carriedKeys: string[] = [];
      for (const [key] of entries) if (keys.has(key)) carriedKeys.push(key);
      if (carriedKeys.length === 0) return;
      let bySpace = this.carried.get(peer);
      if (!bySpace) this.carried.set(peer, (bySpace = new Map()));
      let list = bySpace.get(space);
      if (!list) bySpace.set(space, (list = []));
      list.push({ upTo, keys: carriedKeys, via });
      // Frames of a session that ended are never acknowledged: the oldest go (their keys then count by `readPositions`).
      if (list.length > MAX_CARRIED) list.shift();
    });
  }

  /**
   * A client's changes in `space` up to its seq `upTo` are stored here, the newest at our log seq `localSeq`; `keys`:
   * the keys of the frame that brought them (undefined when not known).
   */
  stored(client: NewsSink, space: string, upTo: number, localSeq: number, keys?: readonly string[]): void {
    let bySpace = this.pending.get(client);
    if (!bySpace) this.pending.set(client, (bySpace = new Map()));
    let list = bySpace.get(space);
    if (!list) bySpace.set(space, (list = []));
    const p: Pending = { upTo, localSeq, sent: 1, keys: keys ? [...new Set(keys)] : undefined };
    this.watch(space, p.keys, 1);
    list.push(p);
    if (list.length > MAX_PENDING) {
      // The oldest is folded into the next (a report for the next one says the client's log up to it is held).
      const [first, next] = list.splice(0, 2) as [Pending, Pending];
      const merged: Pending = { upTo: next.upTo, localSeq: Math.max(first.localSeq, next.localSeq), sent: Math.min(first.sent, next.sent), keys: undefined };
      if (first.keys && next.keys) merged.keys = [...new Set([...first.keys, ...next.keys])];
      else if (first.keys || next.keys) merged.keys = first.keys ?? next.keys;
      this.watch(space, merged.keys, 1);
      this.watch(space, first.keys, -1);
      this.watch(space, next.keys, -1);
      list.unshift(merged);
    }
    this.recount(space);
  }

  /** The client session ended. */
  forget(client: NewsSink): void {
    const bySpace = this.pending.get(client);
    this.pending.delete(client);
    if (bySpace) for (const [space, list] of bySpace) for (const p of list) this.watch(space, p.keys, -1);
  }

  /** Counts `keys` in (`by` 1) or out (-1) of the watched keys of `space`; a key counted out drops what was known of it. */
  private watch(space: string, keys: readonly string[] | undefined, by: 1 | -1): void {
    if (!keys?.length) return;
    let counts = this.watched.get(space);
    if (!counts) this.watched.set(space, (counts = new Map()));
    for (const key of keys) {
      const n = (counts.get(key) ?? 0) + by;
      if (n > 0) {
        counts.set(key, n);
        continue;
      }
      counts.delete(key);
      for (const bySpace of this.holds.values()) bySpace.get(space)?.delete(key);
      this.readAgainst.get(space)?.delete(key);
    }
    if (counts.size === 0) {
      this.watched.delete(space);
      for (const bySpace of this.holds.values()) bySpace.delete(space);
      for (const bySpace of this.carried.values()) bySpace.delete(space);
      this.readAgainst.delete(space);
    }
  }

  /** `member` holds `key`'s state as of every record of it at or below `at`. */
  private hold(member: string, space: string, key: string, at: number): void {
    let bySpace = this.holds.get(member);
    if (!bySpace) this.holds.set(member, (bySpace = new Map()));
    let keys = bySpace.get(space);
    if (!keys) bySpace.set(space, (keys = new Map()));
    if ((keys.get(key) ?? 0) < at) keys.set(key, at);
  }

  /**
   * `member` acknowledged our log in `space` up to `upTo` on the session `via`: the watched keys that session's frames
   * up to there carried, it holds. Another session's frames the ACK passes are dropped unheld: they may have gone on a
   * connection that dropped before the member stored them, and the stream of this session, from the member's stored
   * cursor, may have passed their seqs without their keys (written again since: a log holds a key once, at its newest
   * record). Where such a key's record is now tells instead (`readPositions`). Returns whether a key was held.
   */
  private ackedFrames(member: string, space: string, upTo: number, via: object): boolean {
    const list = this.carried.get(member)?.get(space);
    if (!list) return false;
    const watched = this.watched.get(space);
    let kept = 0;
    let held = false;
    for (const f of list) {
      if (f.upTo > upTo) {
        list[kept++] = f;
        continue;
      }
      if (f.via !== via) continue;
      for (const key of f.keys) if (watched?.has(key)) (this.hold(member, space, key, f.upTo), (held = true));
    }
    list.length = kept;
    return held;
  }

  /** Whether `member` (which acknowledged `acked` in `space`) holds the entry; the keys it is not known to hold go to `unknown`. */
  private memberHolds(member: string, space: string, acked: number, p: Pending, unknown: Set<string>): boolean {
    if (acked < p.localSeq) return false;
    const acks = this.replica.core.acks;
    // An entry stored with no keys (a repair's) may hold any key: while the link to the member leaves one out, it does
    // not count (a conservative count: the writes of that entry wait for the key's next state, or another member).
    if (!p.keys) return !acks.hasWithheldFrom(member, space);
    const held = this.holds.get(member)?.get(space);
    let all = true;
    for (const key of p.keys) {
      // A key the link to it left out (over its frame, a type it lacks): however far it acknowledged, not there.
      if (acks.isWithheldFrom(member, space, key)) {
        all = false;
        continue;
      }
      if ((held?.get(key) ?? 0) >= p.localSeq) continue;
      all = false;
      unknown.add(key);
    }
    return all;
  }

  /**
   * Reads where these keys' records are now, after the members' acknowledgements (`acked`) came: a member that
   * acknowledged past a key's record holds it as of then (records only move up the log, so the record was in what
   * went to it — or came from it). Read again only once some member acknowledged more; then counts again.
   */
  private readPositions(space: string, keys: Iterable<string>, acked: ReadonlyMap<string, number>): void {
    let against = this.readAgainst.get(space);
    if (!against) this.readAgainst.set(space, (against = new Map()));
    const due: string[] = [];
    for (const key of keys) {
      const last = against.get(key);
      if (last && [...acked].every(([m, a]) => (last.get(m) ?? 0) >= a)) continue;
      against.set(key, new Map(acked));
      due.push(key);
    }
    if (due.length === 0) return;
    const { storage, acks } = this.replica.core;
    void Promise.all(due.map((key) => storage.get(space, key).then((rec) => rec?.seq, () => undefined))).then((seqs) => {
      if (this.closed) return;
      const watched = this.watched.get(space);
      due.forEach((key, i) => {
        const at = seqs[i];
        if (at === undefined || !watched?.has(key)) return;
        for (const [member, a] of acked) if (at <= a && !acks.isWithheldFrom(member, space, key)) this.hold(member, space, key, a);
      });
      this.recount(space);
    });
  }

  private recount(space: string): void {
    const known = this.swim.members();
    const peers = known.filter((m) => m.id !== this.swim.id && isLive(m));
    const acked = new Map(peers.map((m) => [m.id, this.replica.core.acks.ackedBy(m.id, space)] as const));
    // An entry is done once every member that may still hold it counts it: dead ones may come back (a
    // false suspicion, a restart), so only members that left are out.
    const all = known.filter((m) => m.state !== 'left').length;
    const unknown = new Set<string>();
    for (const [client, bySpace] of this.pending) {
      const list = bySpace.get(space);
      if (!list) continue;
      // A report says the client's log up to its upTo is held: an entry counts no more than the one before it (a key
      // of an earlier entry may not be held yet where a later one is). Of the entries whose count grew, report the
      // last one of each count (it implies the earlier ones).
      const news: Array<{ upTo: number; n: number }> = [];
      const keep: Pending[] = [];
      let cap = Infinity;
      for (const p of list) {
        let own = 1;
        for (const m of peers) if (this.memberHolds(m.id, space, acked.get(m.id)!, p, unknown)) own++;
        const n = Math.min(own, cap);
        cap = n;
        if (n > p.sent) {
          p.sent = n;
          const last = news[news.length - 1];
          if (last && last.n === n) last.upTo = p.upTo;
          else news.push({ upTo: p.upTo, n });
        }
        if (n < all) keep.push(p);
        else this.watch(space, p.keys, -1);
      }
      for (const { upTo, n } of news) client.sendCluster(encodeNews({ kind: 'replicated', space, upTo, count: n }));
      if (keep.length) bySpace.set(space, keep);
      else bySpace.delete(space);
    }
    if (unknown.size > 0) this.readPositions(space, unknown, acked);
  }

  /** Counts every space with pending entries again (a member counted out while suspected dead may be back). */
  recountAll(): void {
    const spaces = new Set<string>();
    for (const bySpace of this.pending.values()) for (const space of bySpace.keys()) spaces.add(space);
    for (const space of spaces) this.recount(space);
  }

  close(): void {
    this.closed = true;
    this.offAck();
    this.offStreamAck();
    this.offFrame();
    this.pending.clear();
    this.watched.clear();
    this.carried.clear();
    this.holds.clear();
    this.readAgainst.clear();
  }
}
