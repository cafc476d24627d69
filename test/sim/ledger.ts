/**
 * The operation-history oracle. Each replica instance's storage is wrapped (`ledger.spy`) so every record a
 * transaction replaces is seen with the record it replaced — and counted only once the transaction resolved,
 * that is once it is durable (a transaction lost in a crash never happened). A version disappears from a
 * key's state in exactly three ways:
 *
 *   a local write superseded it   the write's new dot is in the record; the versions of the old record
 *                                 missing from the new one are what its context covered → `superseded`
 *   a join dropped it             legitimate only if some local write somewhere superseded that dot
 *   tombstone collection          a key whose versions are all tombstones is removed outright, or kept as its
 *                                 context alone (then joins elsewhere drop the tombstones it covers) → `collected`
 *
 * At the end (see `violations`):
 *   - every dot a join or a removal dropped is in `superseded` (a removal may drop tombstones only);
 *   - every write whose promise resolved is, on every replica, still a version of its key *with the value it
 *     wrote*, or is in `superseded`, or is a tombstone a collection covered, or was lost with its writer's
 *     storage (a restore from an older copy, before any other replica stored it: `forgive`);
 *   - a write with an explicit context supersedes nothing but the versions the read behind that context saw;
 *   - no version a collected tombstone superseded (its dot covered by the collected record's context) is
 *     held anywhere at the end, nor stored again by the collector at any time after it collected.
 *
 * "After" is the order the transactions were applied in (each disk serializes them), not the order they were seen
 * durable: one group commit makes several durable at once, and under storage jitter their `transact()` promises
 * settle in any order (seed 116 of crash, jittered: a store of a version and the later collection that covered it
 * settled collection first).
 */
import { DROPPED_META } from '../../lib/dropped-own.js';
import { coversDot, sameDot, samePoints, sameVector, type Causal } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { MAX_STORED_EPOCHS } from '../../lib/epochs.js';
import { IDENTITY_META, readIdentity, type Identity } from '../../lib/identity.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { Carried } from './carried.js';
import { bodyOf } from './doc-values.js';
import { TYPED } from '../../lib/values.js';
import { readsOf } from '../support/delegate.js';

/**
 * A dot as text: `r:n` untagged, `r:n@e` when it names its epoch (protocol 11: after a restore the lost branch and the
 * restored one mint the same counters in two epochs, two dots).
 */
export type Dot = string;

export const dotOf = (r: string, n: number, ep?: string): Dot => (ep === undefined ? `${r}:${n}` : `${r}:${n}@${ep}`);

/** A version's dot, its epoch included. */
export const versionDot = (v: { readonly r: string; readonly n: number; readonly ep?: string }): Dot => dotOf(v.r, v.n, v.ep);

export interface ResolvedWrite {
  node: string;
  space: string;
  key: string;
  dot: Dot;
  what: string;
  /** For a write with an explicit context: that context (all it may supersede is what it covers). */
  mayCover?: Causal;
}

interface Drop {
  node: string;
  space: string;
  key: string;
  dot: Dot;
  how: 'join' | 'remove';
  tombstone: boolean;
}

/** A key removed by tombstone collection: its context (`cc`, and `pts` where points name epochs), and the tombstones it held. */
export interface Collected extends Causal {
  node: string;
  space: string;
  key: string;
  cc: Readonly<Record<string, number>>;
  tombstones: ReadonlySet<Dot>;
  /** The tombstones' writes (writeKey): what they superseded is in the ledger's supersession map. */
  tombstoneWrites?: readonly string[];
  /** The collector's disk was replaced since (a restore, a dead disk): it no longer knows of this collection. */
  diskGone?: boolean;
  /** When the collecting transaction was applied (the ledger's apply order); absent: before every store. */
  applied?: number;
}

/** A value a node stored (a version added to its key's record), with when its transaction was applied. */
interface Stored {
  node: string;
  space: string;
  key: string;
  dot: Dot;
  body: string;
  applied: number;
}

/** What a final version looks like to the checker: its dot, and its value (encoded) or a tombstone. */
export interface FinalVersion {
  dot: Dot;
  body: string;
}

const id = (space: string, key: string) => `${space}\u0000${key}`;
/**
 * A version's value as comparable text (doc-values.ts): a tombstone, a JSON/superjson text as it is, a document
 * by its text and state vector (a derived version is materialized on a copy), other bytes by their contents.
 */
export { bodyOf };

/**
 * One write, as stored: its dot, its HLC and its value. After a restore one dot can name two writes, and even with
 * the same value (a counter counted to the same figure twice), their HLCs differ. A typed value's version is keyed
 * without its body: one write is held whole on one disk and as a delta on another (or on one disk before and after a
 * crash), and a delta whose bases are not at hand reads as underivable — its body would name two keys for one write
 * and break the chain of writes it superseded (soak clock-skew 1736400272 jittered: a's document edits, lost with its
 * disk before they left it, were not forgiven past the first delta).
 */
export const writeKey = (v: KeyRecord['vs'][number]): string => `${versionDot(v)}\u0000${v.t}.${v.c}\u0000${typedForm(v) ? '<typed>' : bodyOf(v)}`;

/** Whether a version holds a typed value (whole, or as a delta: only typed values are). */
const typedForm = (v: KeyRecord['vs'][number]): boolean => v.x !== undefined || (v.v instanceof Uint8Array && v.v[0] === TYPED);

/** A local write of `key` under `dot` storing `body`, as `byWrite` keys it. */
const writeOf = (space: string, key: string, dot: Dot, body: string | undefined) => `${id(space, key)}\u0000${dot}\u0000${body}`;

/** A write's dot and value from its writeKey (the HLC left out; the value is everything after the second separator). */
function dotAndBody(write: string): string {
  const first = write.indexOf('\u0000');
  return write.slice(0, first) + write.slice(write.indexOf('\u0000', first + 1));
}

export class Ledger {
  private readonly superseded = new Map<string, Set<Dot>>();
  /**
   * Per local write (key, dot and body: a dot minted twice after a restore names two writes, under one key or two, and
   * two deletes have one body): the dots it superseded (`writeOf`).
   */
  private readonly byWrite = new Map<string, Dot[]>();
  /** The same, by write on both sides (writeKey: dot, HLC and body). */
  private readonly byWriteBodies = new Map<string, string[]>();
  /** Versions local writes minted (dot and HLC): one coming back later (from a peer, after a restore) is no write. */
  private readonly minted = new Set<string>();
  /** Per node: the body of each local write it made durable, by key and dot (the latest, should a dot be minted twice). */
  private readonly localBodies = new Map<string, Map<Dot, string>>();
  /** Per node: the dot of its latest local write of a key at a seq (the write's seq names it; its replicaId may
   * have changed by the time the write resolves, when the replica re-identified meanwhile). */
  private readonly localDots = new Map<string, Map<string, Dot>>();
  private readonly drops: Drop[] = [];
  readonly collected: Collected[] = [];
  /** Resolved writes, each with its body and the dots it superseded, as the spy saw them when it resolved. */
  readonly writes: Array<ResolvedWrite & { body: string | undefined; gone: readonly Dot[] }> = [];
  private readonly forgiven = new Map<Dot, string>();
  /** Per key, the contexts of resolved writes made with an explicit context (what they may supersede). */
  private readonly contexts = new Map<string, Causal[]>();
  /** Per node and key, own versions a join dropped (a re-identification may re-issue them: lib/dropped-own.ts). */
  private readonly droppedOwn = new Map<string, Array<KeyRecord['vs'][number]>>();
  /** Per node: whether a replicaId is one of its ids (spy's `isOwn`). */
  private readonly idsOf = new Map<string, (r: string) => boolean>();
  /** Nodes whose disk was replaced (restored from an older copy, or lost): their counters may name two writes. */
  private readonly replaced = new Set<string>();
  /** Versions a collector stored again after its collection superseded them. */
  private readonly reappeared: string[] = [];
  /** Spied puts and removes, counted as they are applied (inside their transaction, which its disk serializes). */
  private appliedCount = 0;
  /** Values stored, seen durable: a collection seen durable after a store applied later than it is judged by them. */
  private readonly stored: Stored[] = [];
  /** What became of each node's own dots (carried.ts): superseded, re-issued, lowered. */
  readonly carried = new Carried();
  /**
   * Every node's epoch records, as its replica learned them at each open and identity change (`learnEpochs`): the
   * ancestry contexts are judged by, as the library's coversDot does. The checker sees every open, so it knows every
   * epoch that minted a dot; one it does not know is judged a root (a dot it covers only by its own epoch's point).
   */
  readonly epochs = new Epochs();
  /** Records of a node that conflicted with ones learned before (an epoch's record never changes: none expected). */
  readonly epochConflicts: string[] = [];

  /** Learns the records `reg` (a replica's registry) holds of `ids` (the node's ids). */
  learnEpochs(reg: { recordsOf(r: string): ReadonlyArray<{ e: string; parent: string; fork: number }> }, ids: Iterable<string>): void {
    for (const r of ids) {
      for (const rec of reg.recordsOf(r)) {
        const refused = this.epochs.add(r, rec.e, rec.parent, rec.fork);
        if (refused) this.epochConflicts.push(refused);
      }
    }
  }

  /**
   * A node's identity, stored by a transaction now durable: its epochs' records, read from its history as the replica
   * reads them (core.ts epochs). An open stores its identity so, and so does a re-identification's first transaction —
   * durable even when a later pass of it fails and its announcement never comes (disk-full 1747000000). One stored by a
   * transaction that failed is never learnt: a dot naming its epoch stays one the checker cannot place.
   */
  private learnIdentity(identity: Identity, learnt?: (id: string) => void): void {
    const reg = new Epochs();
    reg.learn(identity.id, identity.history, identity.history.length < MAX_STORED_EPOCHS, identity.tagged);
    this.learnEpochs(reg, [identity.id]);
    learnt?.(identity.id);
  }

  /** Whether context `ctx` covers `dot` (by its points and the epochs' ancestry where they name epochs). */
  covers(ctx: Causal, dot: Dot): boolean {
    const [r, n, ep] = splitDot(dot);
    return coversDot(this.epochs, ctx, r, ep, n);
  }

  /**
   * Wraps `inner` so the ledger sees every durable record replaced on `node`. `isOwn(r)` tells whether replicaId
   * `r` is the node's (its current one, or one it had or just minted: a re-identification re-issues writes under
   * a new id inside the transaction that switches to it).
   */
  spy(node: string, inner: StorageAdapter, isOwn: (r: string) => boolean, identityDurable?: (id: string) => void): StorageAdapter {
    this.idsOf.set(node, isOwn);
    type Seen = () => void;
    const observe = (space: string, key: string, prev: KeyRecord | undefined, next: KeyRecord | null, reissuing = false): Seen | undefined => {
      const applied = ++this.appliedCount;
      const gone = (prev?.vs ?? []).filter((v) => !next?.vs.some((u) => sameDot(u, v)));
      // A local write: a new version of ours at the record's seq (the engine mints a write's dot there, above
      // any counter of ours the key's context claims). A join brings our own dots back below it — except after a
      // restore set our log back, when a write the restore lost can come back from a peer at any seq: a dot and
      // version already seen written (its dot and HLC) is never a write again.
      const fresh = (v: KeyRecord['vs'][number]) => !this.minted.has(`${versionDot(v)}/${v.t}.${v.c}`);
      const mine = next !== null ? next.vs.find((v) => v.n >= next.seq && isOwn(v.r) && !prev?.vs.some((u) => sameDot(u, v)) && fresh(v)) : undefined;
      const added = next ? next.vs.filter((v) => !prev?.vs.some((u) => sameDot(u, v))) : [];
      // A re-identification lowers the record's counters of our old id to the restore point (dvv.ts stripOwnDots): our
      // dots above it that no version holds (a collected delete) live on in the lowered state alone.
      const lowered = Carried.lowered(prev, next, isOwn);
      if (!mine && gone.length === 0 && added.length === 0 && lowered.length === 0) return undefined;
      // The writes a local write superseded, known as it is applied: a later write of the key may be durable, and its
      // disk lost, before this one's durability is seen (group commits resolve in no set order), and the chain of what
      // the lost write superseded (forgiveLost) must not stop here (soak clock-skew 1736400272 jittered). Noted again,
      // with re-issued writes, once durable (below).
      if (mine) this.byWriteBodies.set(writeKey(mine), gone.map(writeKey));
      return () => {
        if (lowered.length) this.carried.lower(node, space, key, lowered, next!);
        // A collector stores again a version its collected tombstone superseded: the delete came back. Judged by apply
        // order both ways: a collection seen durable already, applied before this store; and (below) a store seen
        // durable already, applied after the collection.
        for (const v of added) {
          if (v.d) continue; // an older tombstone back is harmless: only values must stay gone
          const stored: Stored = { node, space, key, dot: versionDot(v), body: bodyOf(v), applied };
          this.stored.push(stored);
          for (const c of this.collected) if (c.node === node && c.space === space && c.key === key) this.cameBack(c, stored);
        }
        if (mine) {
          this.minted.add(`${versionDot(mine)}/${mine.t}.${mine.c}`);
          let bodies = this.localBodies.get(node);
          if (!bodies) this.localBodies.set(node, (bodies = new Map()));
          bodies.set(`${id(space, key)}\u0000${versionDot(mine)}`, bodyOf(mine));
          let dots = this.localDots.get(node);
          if (!dots) this.localDots.set(node, (dots = new Map()));
          dots.set(`${id(space, key)}\u0000${next!.seq}`, versionDot(mine));
          // A re-issue of an own write a join dropped before the restore was known carries that write on (the
          // transaction that clears the engine's notes of such writes, lib/dropped-own.ts).
          const dropped = reissuing ? (this.droppedOwn.get(`${node}\u0000${id(space, key)}`) ?? []) : [];
          gone.push(...dropped.filter((v) => v.r !== mine.r && bodyOf(v) === bodyOf(mine) && !gone.includes(v)));
          // Each version gone lives on in this write: superseded by it, or re-issued as it.
          this.carried.carry(node, space, key, gone, versionDot(mine));
          this.byWrite.set(writeOf(space, key, versionDot(mine), bodyOf(mine)), gone.map(versionDot));
          this.byWriteBodies.set(writeKey(mine), gone.map(writeKey));
          let set = this.superseded.get(id(space, key));
          if (!set) this.superseded.set(id(space, key), (set = new Set()));
          for (const v of gone) set.add(versionDot(v));
          return;
        }
        // Tombstone collection: the key removed outright, or (the engine since issue 10) kept as its context
        // alone — no version, the same context — which then travels as a state and drops tombstones elsewhere.
        const onlyTombstones = prev !== undefined && prev.vs.length > 0 && prev.vs.every((v) => v.d === 1);
        const collected = onlyTombstones && (next === null || (next.vs.length === 0 && sameVector(next.cc, prev.cc) && samePoints(next.pts, prev.pts)));
        for (const v of gone) this.drops.push({ node, space, key, dot: versionDot(v), how: collected ? 'remove' : next ? 'join' : 'remove', tombstone: v.d === 1 });
        const own = gone.filter((v) => isOwn(v.r));
        if (own.length) this.droppedOwn.set(`${node}\u0000${id(space, key)}`, [...(this.droppedOwn.get(`${node}\u0000${id(space, key)}`) ?? []), ...own]);
        if (collected) {
          const c: Collected = { node, space, key, cc: { ...prev.cc }, ...(prev.pts ? { pts: prev.pts } : {}), tombstones: new Set(prev.vs.map(versionDot)), tombstoneWrites: prev.vs.map(writeKey), applied };
          this.collected.push(c);
          for (const s of this.stored) if (s.node === node && s.space === space && s.key === key) this.cameBack(c, s);
        }
      };
    };
    // `identity`: what the transaction stored as the node's identity (its history holds its epochs' records).
    const wrapTx = (tx: StorageTx, seen: Seen[], identity: { stored?: { value: unknown } }): StorageTx => {
      const read = new Map<string, KeyRecord | undefined>();
      let reissuing = false;
      const note = (s: Seen | undefined) => s && seen.push(s);
      const first = (space: string, key: string, rec: KeyRecord | undefined) => {
        if (!read.has(id(space, key))) read.set(id(space, key), rec);
        return rec;
      };
      return {
        get(space, key) {
          const rec = tx.get(space, key);
          return rec instanceof Promise ? rec.then((r) => first(space, key, r)) : first(space, key, rec);
        },
        put(space, key, rec) {
          tx.put(space, key, rec);
          note(observe(space, key, read.get(id(space, key)), rec, reissuing));
          read.set(id(space, key), rec);
        },
        remove(space, key) {
          tx.remove(space, key);
          note(observe(space, key, read.get(id(space, key)), null));
          read.set(id(space, key), undefined);
        },
        getMeta: (name) => tx.getMeta(name),
        setMeta: (name, value) => {
          if (name.startsWith(DROPPED_META) && value === null) reissuing = true;
          if (name === IDENTITY_META) identity.stored = { value };
          tx.setMeta(name, value);
        },
      };
    };
    return {
      ...readsOf(inner),
      transact: <T>(fn: (tx: StorageTx) => Promise<T> | T) => {
        // Observations count once the transaction resolved (durable); a throwing or lost one counts for nothing.
        // The identity it stored, learnt too (a transaction run again starts afresh, as `seen` does).
        let seen: Seen[] = [];
        let identity: { stored?: { value: unknown } } = {};
        return inner
          .transact((tx) => {
            seen = [];
            identity = {};
            return fn(wrapTx(tx, seen, identity));
          })
          .then((result) => {
            for (const s of seen) s();
            const stored = identity.stored && readIdentity(identity.stored.value as Parameters<typeof readIdentity>[0]);
            if (stored) this.learnIdentity(stored, identityDurable);
            return result;
          });
      },
      ...(inner.onExternalChange ? { onExternalChange: (l: (spaces: string[]) => void) => inner.onExternalChange!(l) } : {}),
      ...(inner.leadership ? { leadership: () => inner.leadership!() } : {}),
      ...(inner.openedElsewhere ? { openedElsewhere: () => inner.openedElsewhere!() } : {}),
      ...(inner.location ? { location: () => inner.location!() } : {}),
    };
  }

  /** A write resolved: its body is what the node's spy saw it store under its dot. */
  record(write: ResolvedWrite): void {
    const body = this.localBodies.get(write.node)?.get(`${id(write.space, write.key)}\u0000${write.dot}`);
    // What it superseded, taken now: after a restore its dot may name a later write too (tabs 1733600021: b's delete of k1
    // at b:6, then restored, its delete of k2 at b:6 again).
    this.writes.push({ ...write, body, gone: this.byWrite.get(writeOf(write.space, write.key, write.dot, body)) ?? [] });
    // A write with an explicit context supersedes every version that context covers, also ones its replica
    // never held (the context came from a read elsewhere: another tab, or before the replica lost its disk).
    if (write.mayCover) {
      let list = this.contexts.get(id(write.space, write.key));
      if (!list) this.contexts.set(id(write.space, write.key), (list = []));
      list.push(write.mayCover);
    }
  }

  /** The dot the node's write of `key` at `seq` was stored under (as its spy saw it), if any. */
  dotOfWrite(node: string, space: string, key: string, seq: number): Dot | undefined {
    return this.localDots.get(node)?.get(`${id(space, key)}\u0000${seq}`);
  }

  /** A resolved write that may be missing everywhere: its only copy was lost (`why`). */
  forgive(dot: Dot, why: string): void {
    this.forgiven.set(dot, why);
  }

  /** The node's disk was replaced: what it collected before is no longer known there. */
  diskReplaced(node: string): void {
    for (const c of this.collected) if (c.node === node) c.diskGone = true;
    this.replaced.add(node);
  }

  /** Notes `s` if its collector stored it after collection `c` (on the same disk) had superseded it. */
  private cameBack(c: Collected, s: Stored): void {
    if (c.diskGone || s.applied < (c.applied ?? 0) || !this.collectionSuperseded(c, s.dot, s.body)) return;
    this.reappeared.push(`collected delete came back: ${s.node} stored ${s.key}@${s.dot} (${s.body}) again after collecting a tombstone of ${s.key} that superseded it`);
  }

  /**
   * Whether collection `c` superseded the version `dot` holding `body`. By its context (its points and the epochs'
   * ancestry where they name epochs) — except for an untagged version whose writer's disk was replaced: that writer
   * may have minted its counters again for other writes, so a context naming them says nothing of this write; then
   * only the writes its tombstones superseded count (the supersession map, transitively, by dot and value).
   */
  private collectionSuperseded(c: Collected, dot: Dot, body: string): boolean {
    const [r, , ep] = splitDot(dot);
    if (!this.covers(c, dot) || c.tombstones.has(dot)) return false;
    // A dot naming its epoch names one write, whatever restore came after: its writer mints no counter of that
    // epoch again (a restored copy opens a new epoch), so a context covering it saw that very write.
    if (ep !== undefined) return true;
    const reused = [...this.replaced].some((node) => this.idsOf.get(node)?.(r));
    if (!reused || !c.tombstoneWrites) return true;
    const want = `${dot}\u0000${body}`;
    const seen = new Set<string>();
    const todo = [...c.tombstoneWrites];
    while (todo.length) {
      const w = todo.pop()!;
      if (seen.has(w)) continue;
      seen.add(w);
      if (dotAndBody(w) === want) return true;
      todo.push(...(this.byWriteBodies.get(w) ?? []));
    }
    return false;
  }

  /**
   * The versions a local write superseded, by write (writeKey): after a restore one dot may name two writes, and only
   * one of them may be held elsewhere.
   */
  supersededWrites(write: string): readonly string[] {
    return this.byWriteBodies.get(write) ?? [];
  }

  /**
   * Whether `rec`, a node's durable record of a key, outranks a copy of version `v` held elsewhere: its context covers
   * v's dot and it holds no version under that dot, so the copy is dropped wherever it meets that record — where the
   * dot names one write (it names its epoch, or its writer's disk was never replaced: no later write minted it again).
   */
  outranks(rec: Causal & { vs: ReadonlyArray<KeyRecord['vs'][number]> }, v: KeyRecord['vs'][number]): boolean {
    const dot = versionDot(v);
    if (rec.vs.some((x) => versionDot(x) === dot) || !this.covers(rec, dot)) return false;
    return v.ep !== undefined || ![...this.replaced].some((node) => this.idsOf.get(node)?.(v.r));
  }

  /** The local writes (writeKey) stored under `dot`: one, or two where a restore had its writer mint the dot again. */
  writesUnder(dot: Dot): string[] {
    return [...this.byWriteBodies.keys()].filter((w) => w.startsWith(`${dot}\u0000`));
  }

  /** The dots of the durable local deletes of `key` (tombstones a replica wrote; their promises resolved or not). */
  deletesOf(space: string, key: string): Dot[] {
    const prefix = `${id(space, key)}\u0000`;
    const out: Dot[] = [];
    for (const w of this.byWrite.keys()) {
      if (!w.startsWith(prefix) || !w.endsWith('\u0000<deleted>')) continue;
      out.push(w.slice(prefix.length, w.length - '\u0000<deleted>'.length));
    }
    return out;
  }

  isForgiven(dot: Dot): boolean {
    return this.forgiven.has(dot);
  }

  private wasSuperseded(space: string, key: string, dot: Dot): boolean {
    if (this.superseded.get(id(space, key))?.has(dot)) return true;
    return this.contexts.get(id(space, key))?.some((ctx) => this.covers(ctx, dot)) ?? false;
  }

  /**
   * Violations of the oracle, given each node's final versions per key (`finals.get(node)(space, key)`).
   * Tombstones dropped outright (tombstone GC) are allowed.
   */
  violations(finals: Map<string, (space: string, key: string) => readonly FinalVersion[]>): string[] {
    const out: string[] = [...new Set(this.reappeared)];
    // Tombstones a collection covered may vanish everywhere: the collected state (or the collector's refusal)
    // makes every replica drop them.
    const gc = (space: string, key: string, dot: Dot) => this.collected.some((c) => c.space === space && c.key === key && this.covers(c, dot));
    for (const d of this.drops) {
      if (d.how === 'remove' && d.tombstone) continue;
      if (d.tombstone && gc(d.space, d.key, d.dot)) continue;
      if (this.forgiven.has(d.dot)) continue;
      if (!this.wasSuperseded(d.space, d.key, d.dot)) out.push(`${d.node}: a ${d.how} dropped ${d.key}@${d.dot}, which no write superseded`);
    }
    for (const w of this.writes) {
      const isTombstone = w.body === '<deleted>';
      const covers = (d: Dot) => this.covers(w.mayCover!, d);
      const over = w.mayCover && !this.forgiven.has(w.dot) ? w.gone.filter((d) => !covers(d)) : [];
      if (over.length) out.push(`${w.what} by ${w.node} (${w.key}@${w.dot}) superseded ${over.join(' ')}, outside its context`);
      if (this.wasSuperseded(w.space, w.key, w.dot) || this.forgiven.has(w.dot) || (isTombstone && gc(w.space, w.key, w.dot))) continue;
      for (const [node, versions] of finals) {
        const held = versions(w.space, w.key).find((v) => v.dot === w.dot);
        if (!held) out.push(`lost write: ${w.what} by ${w.node} (${w.key}@${w.dot}) is missing on ${node} and no write superseded it`);
        else if (w.body !== undefined && held.body !== w.body) out.push(`dot reused: ${w.what} by ${w.node} (${w.key}@${w.dot}) wrote ${w.body} but ${node} holds ${held.body} under that dot`);
      }
    }
    for (const c of this.collected) {
      // A collection on a disk that went since (restored, dead) is forgotten with it, unless its context
      // travelled — and then the versions it covers cannot come back anywhere else either.
      if (c.diskGone) continue;
      for (const [node, versions] of finals) {
        for (const v of versions(c.space, c.key)) {
          if (v.body === '<deleted>') continue;
          if (this.collectionSuperseded(c, v.dot, v.body)) {
            out.push(`collected delete came back: ${c.key}@${v.dot} (${v.body}) is on ${node}, but ${c.node} collected a tombstone of ${c.key} that superseded it`);
          }
        }
      }
    }
    return out;
  }
}

/** A dot's replica, counter and epoch (undefined: untagged). Replica ids and epoch labels hold neither ':' nor '@'. */
export function splitDot(dot: Dot): [string, number, string?] {
  const at = dot.indexOf('@');
  const plain = at < 0 ? dot : dot.slice(0, at);
  const i = plain.lastIndexOf(':');
  const r = plain.slice(0, i);
  const n = Number(plain.slice(i + 1));
  return at < 0 ? [r, n] : [r, n, dot.slice(at + 1)];
}

