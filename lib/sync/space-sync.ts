/**
 * One space on one session: the two sync items, the cursor into the peer's log, the outgoing log stream
 * (outgoing.ts) and anti-entropy (repair.ts), and the handling of the peer's CHANGES and ACKs for the space.
 * The session (session.ts) owns the connection and routes the space's messages here.
 *
 * Invariants: a cursor into the peer's log is stored in the same transaction as the entries it covers, and
 * acknowledged only then; the stream starts only once the decision (handshake.ts) is made, from the cursor
 * the peer holds or, after anti-entropy, from our top at the run's start.
 */
import { cursorOver, cursorWriteOf, noteCursorWrite, storeCursorAlone } from './cursor-writes.js';
import type { AntiEntropyRun, ReplicaCore, StoredChange } from '../core.js';
import { ProtocolError } from './codec.js';
import { ConcordError } from '../errors.js';
import { cursorKey, readCursor, type StoredCursor } from './lineage.js';
import { decideSpace, initiatesAntiEntropy, reachAfter, reachHeld, type LogView, type Reach } from './handshake.js';
import type { SyncHub } from './hub.js';
import { encodeMessage, MsgType, PROTOCOL_VERSIONS, type Changes, type Entry, type Hello, type Message, type SyncItem } from './messages.js';
import type { PeerModel } from './peer-model.js';
import { resolveEntries, type Resolved } from './resolve.js';
import { lackOverBound } from './over-bound.js';
import { LogStream } from './outgoing.js';
import { Repair, type RunEnd } from './repair.js';
import { repairPort, streamPort } from './space-ports.js';
import { NeedAnswers, needsFitting } from './need-answers.js';
import { TELLS_LEFT } from './lacks.js';
import { RepairAcks } from './repair-acks.js';
import { AckPolicy, CUMULATIVE_ACKS, holdsOwnWrite, WIDE_ACKS } from './ack-policy.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import type { Rights, SessionOptions, Timers } from './session-state.js';

interface Held {
  keys: Set<string>;
  /** The upTo of each held frame, in order, and the last one. */
  acks: number[];
  latest: number;
}

/** What a space needs of its session. */
export interface SessionPort {
  /** What the link knows of the peer's states (peer-model.ts). */
  readonly model: PeerModel;
  readonly core: ReplicaCore;
  readonly hub: SyncHub;
  readonly closed: boolean;
  /** The peer's hello (set once it arrived). */
  readonly peer: Hello | undefined;
  /** Our log as our hello announced it. */
  readonly me: LogView;
  readonly frameBudget: number;
  readonly options: SessionOptions;
  readonly timers: Timers;
  /** Sends `m`; the bytes of the log frame (CHANGES with an upTo) it went in, 0 if none. */
  send(m: Message): number;
  sendRepair(space: string, entries: Entry[]): Promise<void>;
  rightsFor(space: string): Rights | undefined;
  refreshStatus(): void;
  fail(e: unknown): void;
}

export class SpaceSync {
  mine?: SyncItem;
  theirs?: SyncItem;
  /** The cursor I hold into the peer's log. */
  cursor = { e: '', s: 0 };
  /** How far into the peer's log what we took from it may reach (handshake.ts Reach), stored with the cursor. */
  private reach: Reach | undefined;
  caughtUp = false;
  /** The highest top of its log the peer told us (its sync item's, then TOP): caught up once the cursor reaches it. */
  private peerTop = 0;
  rights?: Rights;
  /** Log frames stored but not acknowledged while keys they carried wait to arrive whole (holdBack). */
  private held: Held | undefined;
  readonly out: LogStream;
  readonly repair: Repair;
  /** The repair frames sent to the peer and not yet acknowledged (its durable store of them). */
  readonly repairAcks = new RepairAcks();
  /** The name of the cursor record for the session's peer (made once: a join per live frame stores it). */
  private cursorName: string | undefined;
  /** When the ACKs of the peer's log frames go. */
  private readonly acks: AckPolicy;
  /** The peer's NEEDs (it could not resolve our deltas: the states go as repair states, and whole until then), and ours. */
  readonly needs: NeedAnswers;

  constructor(
    readonly name: string,
    private readonly session: SessionPort,
  ) {
    const { core, hub } = session;
    this.acks = new AckPolicy((upTo) => session.send({ type: MsgType.Ack, space: name, upTo }), session.timers, () => session.closed, `${core.replicaId} ${name}`);
    this.needs = new NeedAnswers(core, name, {
      model: session.model,
      send: (m) => session.send(m),
      lastSeq: async () => (await hub.index(name)).lastSeq,
      sendRepair: (entries) => session.sendRepair(name, entries),
      later: (fn, ms) => session.timers.setTimeout(() => session.closed || fn(), ms),
      carriesEpochs: () => this.spoken(EPOCH_DOTS),
      fail: (e) => session.fail(e),
    });
    this.out = new LogStream(name, streamPort(name, session, this), () => this.mine?.top ?? 0);
    this.repair = new Repair(name, repairPort(name, session, this));
  }

  private get core(): ReplicaCore {
    return this.session.core;
  }

  /** Stores the cursor record alone (noted until durable: a hello waits for it). */
  private storeCursor(key: string, value: StoredCursor): Promise<void> {
    return storeCursorAlone(this.core, key, value);
  }

  /** Joins entries of the peer's frame, with the cursor record in the same transaction when there is one to store (joinNow). */
  private joinWithCursor(ready: readonly Entry[], key: string, value: StoredCursor | undefined): StoredChange[] | Promise<StoredChange[]> {
    const peer = this.session.peer!;
    this.session.hub.epochHolds.joining(ready, this.spoken(EPOCH_DOTS));
    // The peer's hello says what it delivered (its epoch and history); literals, not spreads: a join per live frame. The
    // cursor never goes back (cursor-writes.ts cursorOver: another link of the peer may have stored one past it).
    const joined = this.core.joinNow(this.name, ready, value === undefined ? { source: this.session, peer: peer.replicaId, delivered: peer }
      : { source: this.session, peer: peer.replicaId, delivered: peer, meta: { name: key, value: (stored) => cursorOver(stored, value) } });
    // A cursor write durable at once is none to wait for (a hello reads the cursor once its writes are durable).
    if (value !== undefined && joined instanceof Promise) noteCursorWrite(this.core, key, joined);
    return joined;
  }

  /** Our sync item for the space, with the cursor we hold for `peerId` (none for an unknown peer). */
  async makeItem(peerId: string | undefined): Promise<SyncItem> {
    const key = peerId === undefined ? undefined : cursorKey(peerId, this.name);
    // Read once every write of it noted so far is durable; one noted while the read ran (a join of the last session's
    // frame began meanwhile, and the read may see it applied, not durable yet) is waited for and the record read again:
    // a hello never tells a cursor that a power loss can take back. (Inline: no microtask more than one read needs.)
    let raw: unknown;
    for (let waited = key === undefined ? undefined : cursorWriteOf(this.core, key); key !== undefined; ) {
      await waited;
      raw = await this.core.storage.getMeta(key);
      const now = cursorWriteOf(this.core, key);
      if (now === undefined || now === waited) break;
      waited = now;
    }
    // The stored lacks, read after the cursor (lacks.ts `fresh`: another instance may have stored a lack before a cursor
    // past its key): `decide` asks for them.
    const lacks = this.session.options.role === 'client' ? this.session.hub.lacks.fresh() : undefined;
    if (lacks) await lacks;
    const stored = key === undefined ? undefined : readCursor(raw);
    this.cursor = stored ? { e: stored.e, s: stored.s } : { e: '', s: 0 };
    this.reach = stored && typeof stored.re === 'string' && typeof stored.rs === 'number' ? { e: stored.re, s: stored.rs } : undefined;
    const { lastSeq, keys } = await this.session.hub.summary(this.name);
    this.mine = { space: this.name, cursorEpoch: this.cursor.e, cursorSeq: this.cursor.s, top: lastSeq, keys };
    return this.mine;
  }

  /** Both sides hold both items and decide alike (handshake.ts): stream from cursors, or anti-entropy first. */
  decide(): void {
    const peer = this.session.peer!;
    const theirs = this.theirs!;
    const view = { history: peer.history, top: peer.top };
    const d = decideSpace(this.mine!, theirs, this.session.me, view, reachHeld(this.reach, peer.epoch, view));
    if (d.freshCursor) void this.keepFresh()?.catch((e) => this.session.fail(e));
    this.peerTop = Math.max(this.peerTop, theirs.top);
    if (d.inValid || d.freshCursor) this.caughtUp = this.cursor.s >= this.peerTop;
    if (this.offers) this.needs.reask(); // asks an earlier link made of this peer, not settled (open-asks.ts)
    if (this.spoken(TELLS_LEFT)) this.askLacked(peer.replicaId);
    if (d.stream && this.offers) (this.session.model.streamFrom(this.name, d.from), this.out.start(d.from, d.echoFloor));
    else if (d.stream) this.session.refreshStatus();
    else if (initiatesAntiEntropy(this.core.replicaId, peer.replicaId)) this.beginRepair(true);
  }

  /** Keys an earlier link to the peer could not send us (lacks.ts): asked for whole; told again if this link cannot either. */
  private askLacked(peer: string): void {
    const keys = this.session.hub.lacks.keys(peer, this.name);
    this.session.hub.lacks.asked(peer, this.name, keys);
    for (const m of needsFitting(this.name, keys, (n) => encodeMessage(n).byteLength <= this.session.frameBudget)) this.session.send(m);
  }

  /**
   * A fresh cursor at the start of the peer's log is a cursor too: kept, so the next session streams from it instead of
   * repairing by anti-entropy. A read-only client's replaces none stored: its id may be its principal's writable
   * replica's, whose cursor it would take away (test/review/readonly-mixed-tokens.test.ts).
   */
  private keepFresh(): Promise<void> | undefined {
    const none = this.cursor.e === '';
    this.cursor = { e: this.session.peer!.epoch, s: 0 };
    return this.takes || none ? this.storeCursor(cursorKey(this.session.peer!.replicaId, this.name), this.storedCursor()) : undefined;
  }

  beginRepair(establishing: boolean): void {
    if (this.repair.running) return;
    void this.repair.begin(establishing).catch((e) => this.session.fail(e));
  }

  /** Whether we send our states: not as a client the relay granted read only (they would be refused, DENIED). */
  get offers(): boolean {
    return !(this.session.options.role === 'client' && this.rights === 'read');
  }

  /** Whether we take the peer's states: not a read-only client's (so its log is none to catch up with either). */
  private get takes(): boolean {
    return this.session.rightsFor(this.name) === 'write';
  }

  /** Synced here: caught up with the peer's log, and ours sent up to its last entry with every frame acknowledged. */
  get synced(): boolean {
    return (this.caughtUp || !this.takes) && !this.held && !this.repair.running && (this.out.done || !this.offers);
  }

  /**
   * Ready for a periodic repair: synced but for acknowledgements still on their way. A link that forwards writes all
   * the time always has a frame or two unacknowledged (a peer defers its ACKs up to ACK_LATEST), so a round that waited
   * for `synced` at the timer's tick could miss every tick.
   */
  get settled(): boolean {
    return (this.caughtUp || !this.takes) && !this.held && !this.repair.running && (this.out.sentAll || !this.offers);
  }

  /** The cursor record stored: a cursor (default: the one held) with the reach. */
  private storedCursor(cursor = this.cursor): StoredCursor {
    const reach = this.reach;
    return reach ? { e: cursor.e, s: cursor.s, re: reach.e, rs: reach.s } : { e: cursor.e, s: cursor.s };
  }

  /**
   * What to store beside a join of the peer's frame (`upTo`, 0 for a repair state) that stores `entries` of it: the
   * cursor record when the cursor moves (`next`) or the reach does, else nothing.
   */
  private cursorAfter(next: { e: string; s: number } | undefined, upTo: number, entries: number): StoredCursor | undefined {
    const before = this.reach;
    if (entries > 0) this.reach = reachAfter(before, this.session.peer!.epoch, upTo);
    const moved = before?.e !== this.reach?.e || before?.s !== this.reach?.s;
    return next || moved ? this.storedCursor(next) : undefined;
  }

  /**
   * The peer's CHANGES or LIVE frame: resolved, joined with the cursor, acknowledged. At once where every step can be
   * (a LIVE frame whose deltas resolve from memory, joined into storage that answers at once: a relay's client), else
   * its promise; a step that must wait is awaited and the steps after it run then, as they do at once.
   */
  changes(m: Changes, bytes = Infinity): void | Promise<void> {
    if (!this.theirs) throw new ProtocolError(`changes for space "${m.space}" before its sync`);
    if (!this.takes && (m.entries.length > 0 || m.upTo > 0)) return this.needs.refuse(m); // a read-only client's: never stored, no cursor moved
    const peer = this.session.peer!;
    if (m.upTo > 0 && m.upTo <= this.cursor.s && this.cursor.e === peer.epoch) throw new ProtocolError('log stream went backwards');
    this.needs.heard(m.entries);
    const resolving = resolveEntries(this.core, m.space, m.entries, this.session.options.maxValueBytes);
    return resolving instanceof Promise ? resolving.then((r) => this.resolved(m, r, bytes)) : this.resolved(m, resolving, bytes);
  }

  private resolved(m: Changes, { ready, missing, clashes, refused, over }: Resolved, bytes: number): void | Promise<void> {
    const { session } = this;
    const peer = session.peer!;
    if (over.length > 0) {
      lackOverBound(session.hub.lacks, session.options.role === 'client', peer.replicaId, m.space, over);
      // Not stored: not what the peer answered of a key asked for (lacks.ts `answered` would end the lack), nor counted.
      m = { ...m, entries: m.entries.filter(([k]) => !over.some(([o]) => o === k)) };
    }
    // A repair state takes held forms only from what we said we hold, so it resolves as it comes — except a held
    // version of our own dot that we hold under another HLC (our range dots carry no HLC): that key is asked for whole.
    if (m.upTo === 0 && missing.length > 0) {
      if (missing.some(([k]) => !clashes.has(k))) throw new ProtocolError('a repair state that is not whole');
      session.send({ type: MsgType.Need, space: m.space, keys: missing });
    }
    // A delta that did not apply here: the key keeps its state, and is asked for whole with the missing (resolve.ts).
    for (const [key, why] of refused) {
      this.core.events.emit('error', new ConcordError('PROTOCOL', `space "${m.space}": a delta for "${key}" from ${peer.replicaId} does not apply here (${why}): its whole value is asked for`));
    }
    if (m.upTo > 0 && (missing.length > 0 || this.held)) return this.holdBack(m, ready, missing);
    const held = this.held;
    for (const [k] of ready) held?.keys.delete(k);
    for (const [k] of over) held?.keys.delete(k); // lacked now: asked for whole, it would come over our bound again
    // A repair that brings the last missing key releases the held cursor, in the same transaction.
    const release = held && held.keys.size === 0 ? held : undefined;
    const cursor = m.upTo > 0 ? { e: peer.epoch, s: m.upTo } : release ? { e: peer.epoch, s: release.latest } : undefined;
    const key = (this.cursorName ??= cursorKey(peer.replicaId, this.name));
    const value = this.cursorAfter(cursor, m.upTo, ready.length);
    const joining = this.joinWithCursor(ready, key, value);
    return joining instanceof Promise ? joining.then((stored) => this.joined(m, release, stored, bytes)) : this.joined(m, release, joining, bytes);
  }

  /** The frame's entries are stored (with the cursor): counted and acknowledged, the held frames released. */
  private joined(m: Changes, release: Held | undefined, stored: readonly StoredChange[], bytes: number): void | Promise<void> {
    const { session } = this;
    if (m.upTo === 0) {
      this.repair.count(0, 0, stored.length);
      this.repair.received(m.entries);
      session.hub.lacks.answered(session.peer!.replicaId, m.space, m.entries.map(([k]) => k)); // whole: what it holds (lacks.ts)
      session.send({ type: MsgType.Ack, space: m.space, upTo: 0 });
      return release ? this.released(release).then(() => session.refreshStatus()) : session.refreshStatus();
    }
    const telling = this.storedUpTo(m.upTo, m.entries, stored);
    if (telling) return telling.then(() => this.ackStored(m, bytes));
    this.ackStored(m, bytes);
  }

  /** `bytes`: the frame's on the wire (a small or tiny one of a WIDE_ACKS peer waits longer: ack-policy.ts). */
  private ackStored(m: Changes, bytes: number): void {
    const now = this.ackAtOnce(m);
    this.acks.stored(m.upTo, now, now || !this.spoken(WIDE_ACKS) ? Infinity : bytes);
    this.session.refreshStatus();
  }

  /** Whether someone may wait for the ACK of this stored frame (ack-policy.ts). */
  private ackAtOnce(m: Changes): boolean {
    return this.core.promptAcks || !this.spoken(CUMULATIVE_ACKS) || holdsOwnWrite(m.entries, this.session.peer!.replicaId);
  }

  /** Whether our hello announced `version` (ReplicaCore.speaks: the simulator plays peers of earlier releases). */
  announced(version: number): boolean {
    return (this.core.speaks ?? PROTOCOL_VERSIONS).includes(version);
  }

  /** A version both hellos announced: only its forms go to the peer. */
  spoken(version: number): boolean {
    return this.announced(version) && (this.session.peer?.versions.includes(version) ?? false);
  }

  /**
   * A log frame with keys whose deltas we cannot resolve (or one arriving while others wait): everything else is
   * stored now, the missing keys are asked for whole (NEED), and the cursor and the frames' ACKs wait until they came
   * (a repair, or a later log frame, brings them whole): a cursor never covers a version we lack, crash or not.
   */
  private async holdBack(m: Changes, ready: readonly Entry[], missing: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const held = (this.held ??= { keys: new Set(), acks: [], latest: 0 });
    for (const [k] of ready) held.keys.delete(k);
    const fresh = missing.filter(([k]) => !held.keys.has(k));
    for (const [k] of missing) held.keys.add(k);
    held.acks.push(m.upTo);
    held.latest = m.upTo;
    const peer = this.session.peer!;
    const done = held.keys.size === 0;
    const key = cursorKey(peer.replicaId, this.name);
    // The entries stored now reach past the cursor, which waits for the missing keys: the reach says so.
    const value = this.cursorAfter(done ? { e: peer.epoch, s: m.upTo } : undefined, m.upTo, ready.length);
    await this.joinWithCursor(ready, key, value);
    if (fresh.length > 0) this.session.send({ type: MsgType.Need, space: m.space, keys: fresh });
    if (done) await this.released(held);
    this.session.refreshStatus();
  }

  /** Every missing key arrived and the cursor was stored with it: the held frames are acknowledged, in order. */
  private async released(held: Held): Promise<void> {
    this.held = undefined;
    await this.storedUpTo(held.latest, undefined, []);
    // One ACK of the latest answers them all where the peer reads ACKs as cumulative (protocol 6); else one a frame.
    if (this.spoken(CUMULATIVE_ACKS)) this.acks.stored(held.latest, true);
    else for (const upTo of held.acks) this.acks.stored(upTo, true);
  }

  /** The cursor reached `upTo` (stored): tell the relay hook (`entries`: the frame's), remember it, see whether we caught up. */
  private storedUpTo(upTo: number, entries: readonly Entry[] | undefined, stored: readonly StoredChange[]): Promise<void> | undefined {
    const onStored = this.session.options.onStored;
    if (onStored && (entries === undefined || entries.length > 0)) return this.tellStored(onStored, upTo, entries?.map(([k]) => k), stored);
    this.cursor = { e: this.session.peer!.epoch, s: upTo }; // no hook (a client): no turn taken
    if (!this.caughtUp && upTo >= this.peerTop) this.caughtUp = true;
  }

  /** The newest of our log seqs holding the entries: the stored changes', or, for entries we already held, the seq of the record that holds them (it contains or supersedes them). */
  private async tellStored(onStored: NonNullable<SessionOptions['onStored']>, upTo: number, keys: string[] | undefined, stored: readonly StoredChange[]): Promise<void> {
    let localSeq = keys === undefined ? (await this.session.hub.index(this.name)).lastSeq : 0;
    for (const c of stored) localSeq = Math.max(localSeq, c.rec.seq);
    if (keys && stored.length < keys.length) for (const k of keys) localSeq = Math.max(localSeq, (await this.core.storage.get(this.name, k))?.seq ?? 0);
    onStored(this.name, upTo, localSeq, keys);
    this.storedUpTo(upTo, [], stored);
  }

  /** The peer's log reaches `top` (TOP): frames up to it are on their way, and we are not caught up before they came. */
  top(top: number): void {
    if (top <= this.peerTop) return;
    this.peerTop = top;
    if (this.cursor.s < top) this.caughtUp = false;
    this.session.refreshStatus();
  }

  async repairEnded(run: AntiEntropyRun, info: RunEnd): Promise<void> {
    const { session } = this;
    // Frozen: every listener of the replica is handed this one object; none may rewrite it for the next.
    this.core.events.emit('antiEntropy', Object.freeze(run));
    if (!info.establishing || session.closed) return session.refreshStatus();
    const peer = session.peer!;
    // The run made us hold the peer's log up to its top then (not a read-only client's: we refused its states); its
    // stream may have moved the cursor past that already (it started from that top before our side ended): it stays.
    if (this.takes && (this.cursor.e !== peer.epoch || this.cursor.s < info.peerTop)) this.cursor = { e: peer.epoch, s: info.peerTop };
    if (this.takes) await this.storeCursor(cursorKey(peer.replicaId, this.name), this.storedCursor());
    // A read-only client's log is held up to nothing: that fresh cursor, where none is, spares it a run at every meeting
    // (test/review/readonly-reconnects.test.ts). Its states stay refused, and a later writable session streams it all.
    else await this.keepFresh();
    if (this.takes && session.options.onStored && info.peerTop > 0) session.options.onStored(this.name, info.peerTop, (await session.hub.index(this.name)).lastSeq);
    this.peerTop = Math.max(this.peerTop, info.peerTop);
    this.caughtUp = this.cursor.s >= this.peerTop;
    // The peer holds our state as of our top then — once it stored every state we sent it; what came from it since is its own.
    session.model.streamFrom(this.name, info.myTop);
    this.out.start(info.myTop, 0, info.confirmed ? this.repairAcks.settled() : Promise.resolve(false), info.leftOut);
    session.refreshStatus();
  }
}
