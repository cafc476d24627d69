/**
 * A local write (core.ts `write` and `writeNow`): one object per write holding what its transaction and its report
 * need — no closures of its own, so a write waiting for its fsync (file storage, many in flight) keeps little alive.
 * The transaction reads the key and the replica's sequence, mints the dot above both, and stores the new record;
 * after it is durable the change is reported (and may leave for peers: a dot leaves its replica only once durable).
 */
import { EMPTY_STATE, updateWith, type Causal, type EpochRegistry } from './dvv.js';
import type { Hlc } from './hlc.js';
import { mintingWrite } from './minting.js';
import { versionFor, WrittenRecord, type WriteContent } from './record.js';
import type { KeyRecord, StorageAdapter, StorageTx } from './storage.js';

/** What a local write reaches of its replica core. */
export interface WriteHost {
  /** The replica id that mints the dot. */
  readonly id: string;
  /** The epoch the dot names (identity.ts mintEpoch): undefined until the replica tags. */
  readonly ep?: string | undefined;
  /** The epoch ancestry the write judges its context's coverage by (ReplicaCore.epochs). */
  readonly epochs: EpochRegistry;
  tick(): Hlc;
  /** The highest log seq this instance knows of; a transaction finding the log past it reads the stored identity first. */
  readonly seenSeq: number;
  /** The identity in memory is durable: false while one read from a transaction perhaps not durable is (each write reads it again). */
  readonly identitySure: boolean;
  sawSeq(seq: number): void;
  /** This instance mints its own dot `seq` (restore-claims.ts OwnDots). */
  minted(seq: number): void;
  /** Inside a transaction, the log's seq at `at`: adopts the identity the storage holds, then `then`. */
  withStoredIdentity<T>(tx: StorageTx, at: number, then: () => T): T | Promise<T>;
  /** A record was applied, not durable yet (the pending-writes map places its key there at once: pending.ts `applied`). */
  applied(space: string, key: string, seq: number): void;
  /** The transaction that applied it failed: nothing of it stays (pending.ts `abandoned`). */
  abandoned(space: string, key: string, seq: number): void;
  /** A write's transaction failed (whether or not it applied a record): an identity it read from a failed one goes. */
  failed(): void;
  /** A write of `rec` is durable: note it and report the change. */
  written(space: string, key: string, rec: KeyRecord, prev: KeyRecord | undefined): void;
}

export type Produce = (current: KeyRecord | undefined) => WriteContent | undefined;

/**
 * Who hears of a write that ran at once (writeNow): its result once durable (its key, the context it was given, and its
 * record: undefined when it stored none), and whether it waits for that.
 */
export interface WriteReceiver<R> {
  settled(key: string, ctx: Causal | undefined, rec: KeyRecord | undefined): R;
  waiting?(on: boolean): void;
}

export class LocalWrite {
  /** The write's timestamp and content: let go once the record is made. */
  private hlc: Hlc | undefined;
  private produce: Produce | WriteContent | undefined;
  private prev: KeyRecord | undefined;
  /** The record `body` applied, if it did. */
  private rec: KeyRecord | undefined;
  /**
   * Run at once (writeNow): who hears of the write once durable (Waiters, while it waits). The host then hears that the
   * record was applied once the storage answered, and only if the record is not durable by then — a note nothing could
   * read before the change reports the record durable.
   */
  private receiver: WriteReceiver<unknown> | undefined;

  /**
   * `produce` decides the content from the key's current record; a put passes its content itself (no closure per put:
   * a write waiting for its fsync keeps less alive).
   */
  constructor(
    readonly host: WriteHost,
    readonly space: string,
    readonly key: string,
    produce: Produce | WriteContent,
    /** What the write supersedes: a context read earlier (points naming epochs included), or undefined for all it finds. */
    readonly ctx: Causal | undefined,
  ) {
    this.produce = produce;
    this.hlc = host.tick();
  }

  /** The transaction. Both reads go out at once; where storage answers at once, nothing is awaited at all. */
  run(tx: StorageTx): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    const current = tx.get(this.space, this.key);
    const lastSeq = tx.getMeta<number>('seq');
    if (current instanceof Promise || lastSeq instanceof Promise) {
      return Promise.all([current, lastSeq]).then(([c, s]) => this.mint(tx, c, s));
    }
    return this.mint(tx, current, lastSeq);
  }

  /** The transaction failed: what `body` told of its record is taken back. Returns `e` (to throw it on). */
  failed(e: unknown): unknown {
    takeBack(this.host, this.space, this.key, this.rec);
    return e;
  }

  /** The write is run at once (writeNow); `receiver` hears of it once durable (see `receiver`). */
  runsNow(receiver: WriteReceiver<unknown>): void {
    this.receiver = receiver;
  }

  /** The record of a write run at once was applied and waits to be durable. */
  appliedNow(): void {
    if (this.rec) this.host.applied(this.space, this.key, this.rec.seq);
  }

  /** The write run at once waits to be durable among `q`'s (Waiters: what settling it needs, not the write itself). */
  waitIn(q: Waiters): void {
    q.push(this.key, this.rec, this.prev, this.ctx);
  }

  /** Reports a durable write; returns its record. */
  done(rec: KeyRecord | undefined): KeyRecord | undefined {
    if (rec) this.host.written(this.space, this.key, rec, this.prev);
    return rec;
  }

  private mint(tx: StorageTx, current: KeyRecord | undefined, lastSeq: number | undefined): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    // Another instance committed since we last looked (seenSeq), or the identity in memory was read from a transaction
    // not known durable (it may have failed since): mint under the identity the storage holds.
    if ((lastSeq ?? 0) <= this.host.seenSeq && this.host.identitySure) return this.body(tx, current, lastSeq);
    return this.host.withStoredIdentity(tx, lastSeq ?? 0, () => this.body(tx, current, lastSeq));
  }

  private body(tx: StorageTx, current: KeyRecord | undefined, lastSeq: number | undefined): KeyRecord | undefined {
    this.prev = current;
    const produce = this.produce!;
    const r = this.host.id;
    // The dot goes above any counter of ours the key's context claims: a context can only claim more than we
    // minted if it was forged (or our storage lost writes), and a dot it covers would be dropped on arrival.
    const floor = Math.max(lastSeq ?? 0, current?.cc[r] ?? 0);
    let content: WriteContent | undefined;
    let top = floor;
    // A helper minting its own tags inside `produce` (add-wins `add`) mints them above `floor`, naming the epoch this
    // write's dot names; the dot goes at or above the last of them (minting.ts), so the next write's tags go above.
    if (typeof produce === 'function') [content, top] = mintingWrite(r, this.host.ep, floor, () => produce(current), current !== undefined && ownDelete(current, r));
    else content = produce;
    if (content === undefined) return undefined;
    const hlc = this.hlc!;
    this.produce = this.hlc = undefined;
    // One tag (or none): the dot is the next seq. More: the seqs below the dot are no record's (a gap in the log).
    const seq = Math.max(floor + 1, top);
    this.host.sawSeq(seq);
    this.host.minted(seq);
    tx.setMeta('seq', seq);
    const ep = this.host.ep;
    const version = versionFor(content, ep === undefined ? { r, n: seq, t: hlc.ms, c: hlc.logical } : { r, ep, n: seq, t: hlc.ms, c: hlc.logical }, current);
    const base = current ?? EMPTY_STATE;
    const state = updateWith(this.host.epochs, base, this.ctx ?? base, version);
    // Its hash is computed when first read (record.ts WrittenRecord): a space nobody syncs, in memory, never needs it.
    const next = new WrittenRecord(this.key, state, seq);
    tx.put(this.space, this.key, next);
    if (this.receiver === undefined) this.host.applied(this.space, this.key, seq);
    this.rec = next;
    return next;
  }
}

/** Whether a tombstone of replica `r` stands among the record's versions (minting.ts `mintingAfterOwnDelete`). */
function ownDelete(rec: KeyRecord, r: string): boolean {
  for (const v of rec.vs) if (v.d === 1 && v.r === r) return true;
  return false;
}

/** A failed write: what it told of its record (`rec`, if it applied one) is taken back. */
function takeBack(host: WriteHost, space: string, key: string, rec: KeyRecord | undefined): void {
  if (rec !== undefined) host.abandoned(space, key, rec.seq);
  else host.failed();
}

/** The write `writeNow` runs (transactNow calls `runNowWrite` at once, before it returns). */
let nowWrite: LocalWrite | undefined;
const runNowWrite = (tx: StorageTx): KeyRecord | undefined => nowWrite!.run(tx) as KeyRecord | undefined;

/**
 * Runs `w` at once where the storage can (StorageAdapter.transactNow): `receiver.settled` of its record, or a promise of
 * it when the commit is not durable yet (`receiver.waiting` is told while it waits), or undefined when the storage
 * cannot (nothing ran).
 */
export function writeNow<R>(storage: StorageAdapter, w: LocalWrite, receiver: WriteReceiver<R>): R | Promise<R> | undefined {
  // The pending-writes map hears of the applied record after the storage answered (no code runs in between, and no
  // acknowledgement), and not at all when the commit is durable at once (memory storage): the change that follows
  // at once, after the durable seq moved past the record, would drop the note unread — two map writes per put saved.
  w.runsNow(receiver as WriteReceiver<unknown>);
  // One function for every write (not a closure per write): it runs the write named in `nowWrite`, which transactNow
  // calls synchronously; saved and restored, so a write started inside another's transaction finds its own.
  const outer = nowWrite;
  nowWrite = w;
  let now: { value: KeyRecord | undefined; durable?: Promise<void> } | undefined;
  try {
    now = storage.transactNow?.<KeyRecord | undefined>(runNowWrite);
  } finally {
    nowWrite = outer;
  }
  if (!now) return undefined;
  const rec = now.value;
  if (!now.durable) return receiver.settled(w.key, w.ctx, w.done(rec));
  w.appliedNow();
  receiver.waiting?.(true);
  return whenDurable<R>(now.durable, w, receiver as WriteReceiver<unknown>);
}

/**
 * The writes of one replica, space and receiver waiting for one durable promise (a file storage batch's: thousands of puts in
 * flight share it), in the order their reactions were registered on it. A promise runs its reactions in that order
 * (ECMAScript: a promise's reactions are enqueued in the order of their `then`, and jobs run first in, first out), so two
 * functions shared by all of them settle the writes one after the other: no closure per write (two closures and their
 * context were a third of what a put in flight kept until its fsync). Nor the write itself: per write its key, record
 * and the record it replaced wait here, in columns (the LocalWrite, 96 bytes, was what every young collection
 * copied while 100 000 puts waited for their fsync: S4), and the context it was given only where it stored nothing.
 */
class Waiters {
  private readonly keys: string[] = [];
  private readonly recs: Array<KeyRecord | undefined> = [];
  private readonly prevs: Array<KeyRecord | undefined> = [];
  /** By index, the context of a write that stored no record (its result names it). */
  private ctxs: Map<number, Causal | undefined> | undefined;
  private next = 0;

  constructor(
    readonly durable: Promise<void>,
    readonly host: WriteHost,
    readonly space: string,
    readonly receiver: WriteReceiver<unknown>,
    /** Writes of another replica, space or receiver waiting for the same promise. */
    public other: Waiters | undefined,
  ) {}

  push(key: string, rec: KeyRecord | undefined, prev: KeyRecord | undefined, ctx: Causal | undefined): void {
    if (rec === undefined) (this.ctxs ??= new Map()).set(this.keys.length, ctx);
    this.keys.push(key);
    this.recs.push(rec);
    this.prevs.push(prev);
  }

  wait<R>(): Promise<R> {
    return this.durable.then(this.ok, this.fail) as Promise<R>;
  }

  /** The index of the write whose reaction runs now; past the last one, these waiters are done with. */
  private take(): number {
    const i = this.next++;
    if (this.next === this.keys.length) {
      let q = waiting.get(this.durable);
      if (q === this) {
        if (this.other) waiting.set(this.durable, this.other);
        else waiting.delete(this.durable);
      } else {
        while (q !== undefined && q.other !== this) q = q.other;
        if (q) q.other = this.other;
      }
      if (lastWaiters === this) lastWaiters = undefined;
    }
    return i;
  }

  private readonly ok = (): unknown => {
    const i = this.take();
    const key = this.keys[i]!;
    const rec = this.recs[i];
    const prev = this.prevs[i];
    this.recs[i] = this.prevs[i] = undefined;
    // as LocalWrite.done: a durable write is reported
    if (rec) this.host.written(this.space, key, rec, prev);
    const out = this.receiver.settled(key, rec ? undefined : this.ctxs?.get(i), rec);
    this.receiver.waiting?.(false);
    return out;
  };

  private readonly fail = (e: unknown): never => {
    const i = this.take();
    const rec = this.recs[i];
    this.recs[i] = this.prevs[i] = undefined;
    this.receiver.waiting?.(false);
    takeBack(this.host, this.space, this.keys[i]!, rec);
    throw e;
  };
}

/** Per durable promise, its waiters (more than one where writes of several replicas, spaces or receivers wait for it). */
const waiting = new WeakMap<Promise<void>, Waiters>();
/** The waiters asked for last (most puts in a row share them). */
let lastWaiters: Waiters | undefined;

function whenDurable<R>(durable: Promise<void>, w: LocalWrite, receiver: WriteReceiver<unknown>): Promise<R> {
  const { host, space } = w;
  let q = lastWaiters;
  if (q === undefined || q.durable !== durable || q.host !== host || q.space !== space || q.receiver !== receiver) {
    const first = waiting.get(durable);
    q = first;
    while (q !== undefined && (q.host !== host || q.space !== space || q.receiver !== receiver)) q = q.other;
    if (q === undefined) waiting.set(durable, (q = new Waiters(durable, host, space, receiver, first)));
    lastWaiters = q;
  }
  w.waitIn(q);
  return q.wait<R>();
}
