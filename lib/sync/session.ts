/**
 * One connection's sync protocol: the driver. Symmetric: both ends stream their change log to the other; a
 * relay is a peer that authenticates the other side and checks its rights on every message. Decisions are
 * pure functions in handshake.ts; each space's protocol is space-sync.ts (log stream outgoing.ts, repair.ts).
 *
 *   hello ⇄ hello              versions, replicaId, log epoch history and durable top, token, what the
 *                              peer delivered to us (restore detection); the client's hello already carries
 *                              its SYNC items when it knows the peer (one round trip to catch up)
 *   SYNC  ⇄ SYNC  (per space)  the cursor I hold into your log, my last log seq and key count in the space
 *   then per space, both sides decide alike (handshake.ts): stream from the cursors, or anti-entropy first
 *   live: every stored change is pumped to every session where its space is live, except back to the peer
 *   it came from; every CHANGES frame is acknowledged once stored durably (cursors in the join's transaction);
 *   framing, LIVE frames and versions as deltas are wire.ts's
 *
 * Inbound frames are handled one at a time, in order, at once where nothing waits (inbox.ts). Anything malformed
 * closes the connection with a code and a reason; nothing stored is touched by a bad frame.
 */
import { attestationOf } from '../attest.js';
import type { StoredChange } from '../core.js';
import { seenFor, type EpochEntry } from '../epochs.js';
import { ConcordError } from '../errors.js';
import { CloseCode, type Connection, type Frame } from '../transport.js';
import type { ReplicaStatus } from '../types.js';
import { ProtocolError } from './codec.js';
import { initiatesAntiEntropy, sentHistory, versionRefusal, type LogView } from './handshake.js';
import type { SessionLike, SyncHub } from './hub.js';
import { MsgType, PROTOCOL_VERSIONS, type Entry, type Hello, type Message, type SyncItem } from './messages.js';
import type { PeerModel } from './peer-model.js';
import { linkTerms, Wire } from './wire.js';
import { openAsksOf } from './open-asks-store.js';
import { DONE, Inbox } from './inbox.js';
import { NewsQueue } from './cluster-news.js';
import type { PresenceChannel, PresencePayload } from './presence-hub.js';
import { parsePresence } from './presence-wire.js';
import { admit, allSynced, checkGrant, closeFor, decoded, DEFAULT_ANTI_ENTROPY_INTERVAL, defaultTimers, guardedTimers, RepairTimer, type Grants, type Rights, type SessionOptions, type Timers } from './session-state.js';
import { Attester } from './attester.js';
import { RepairWindow } from './repair-window.js';
import { restoreVerdict } from './restore-check.js';
import { SpaceSync, type SessionPort } from './space-sync.js';
import { retire } from './lineage.js';
import { chainBudget, chainReceived, peerEpochs, reidentifyTelling } from './epoch-chain.js';
import { clientVouch, type ChainVouch } from './epoch-vouch.js';

export type { Grants, Rights, SessionOptions } from './session-state.js';

export class Session implements SessionLike, PresenceChannel, SessionPort {
  peer: Hello | undefined;
  private grants?: Grants;
  private readonly spaces = new Map<string, SpaceSync>();
  private lastChanged: SpaceSync | undefined; // the space `changed` found last
  /** Inbound frames and work queued behind them, in turn (inbox.ts): at once where nothing waits. */
  private readonly inbox = new Inbox((e) => this.fail(e), () => this.refreshStatus());
  closed = false;
  /** Closed by `fail` (a frame refused, an error): the frames queued behind it are not handled. */
  private failed = false;
  private currentStatus: ReplicaStatus = 'connecting';
  /** Our hello, once started: a peer's hello arriving while ours is being made must not send a second one. */
  private hello: Promise<void> | undefined;
  /** The durable top and epoch history our hello announced: cursors into our log are judged by them. */
  private helloTop = 0;
  private helloHistory: EpochEntry[] = [];
  /** Cluster news waits for both hellos (cluster-news.ts). */
  private readonly news = new NewsQueue((json) => this.send({ type: MsgType.Cluster, json }));
  private readonly repairTimer: RepairTimer;
  readonly timers: Timers;
  private readonly window: RepairWindow;
  /** Framing: string tables, LIVE frames, and the model of what the peer holds (wire.ts). */
  private readonly wire = new Wire((e) => this.core.events.emit('error', e), (space, keys, upTo) => this.rightsFor(space) === 'read' ? undefined : (keys.forEach((key) => this.core.acks.withhold(this.peer?.replicaId ?? '', space, key, upTo)), this.core.acks.withholdsStored), () => this.core.epochs, () => openAsksOf(this.core), (space) => this.rightsFor(space) === 'read', (m) => this.hub.lacks.told(this.peer?.replicaId, m, this.options.role === 'client'));
  readonly model: PeerModel = this.wire.model;
  /** A relay signs the own dots it delivers to a client (attest.ts), and learns the chains of other replicas its token speaks for (epoch-vouch.ts). */
  private attester: Attester | undefined;
  private vouch: ChainVouch | undefined;

  constructor(
    readonly hub: SyncHub,
    private readonly conn: Connection,
    readonly options: SessionOptions,
  ) {
    this.timers = guardedTimers(options.timers ?? defaultTimers, (e) => this.fail(e));
    this.repairTimer = new RepairTimer(this.timers, options.antiEntropyInterval ?? DEFAULT_ANTI_ENTROPY_INTERVAL, () => this.closed, () => this.repairRound());
    this.window = new RepairWindow(() => conn.bufferedAmount ?? 0, (fn, ms) => this.timers.setTimeout(fn, ms));
    // A relay's links note what they send once for all of them (sent-notes.ts: its fan-out); a client's link sends its
    // writes alone, and keeps what it knows in its own model.
    if (options.role === 'server') this.model.share(hub);
    hub.addSession(this);
    hub.presence.addChannel(this);
  }

  get status(): ReplicaStatus { return this.currentStatus; }
  /** Who the peer's credential speaks for (a token's `sub`), and whether it is a trusted relay of the cluster. */
  get principal(): { principal?: string; trusted: boolean } { return { ...(this.grants?.principal !== undefined ? { principal: this.grants.principal } : {}), trusted: this.grants?.trusted === true }; }

  get peerId(): string | undefined { return this.peer?.replicaId; }
  get core() { return this.hub.core; }
  /** Our log as our hello announced it: cursors into it are judged by this. */
  get me(): LogView { return { history: this.helloHistory, top: this.helloTop }; }
  async start(): Promise<void> { if (this.options.role === 'client') await this.sendHello(); }

  // ---- outbound ----------------------------------------------------------------------------------

  /** Sends `m`; the bytes of the log frame it went in (a CHANGES frame with an upTo; 0: none): outgoing.ts's window. */
  send(m: Message): number {
    if (this.closed) return 0;
    let logBytes = 0;
    this.wire.send(m, this.options.maxFrameBytes, (frame, sent) => {
      this.wire.deliver(this.conn, frame, this);
      // Counted as they leave (the wire may split a message, each frame acknowledged on its own); a log frame's keys as sent.
      if (sent.type === MsgType.Changes && sent.upTo === 0) (this.window.sent(), this.spaces.get(sent.space)?.repairAcks.sent());
      else if (sent.type === MsgType.Changes) {
        if (this.rightsFor(sent.space) !== 'read') this.core.acks.sentFrame(this.peer!.replicaId, sent.space, sent.upTo, sent.entries, this); // a reader's ACKs count nothing (withheld-passed.ts)
        logBytes = frame.byteLength;
      }
      const repair = sent.type === MsgType.AntiEntropy || (sent.type === MsgType.Changes && sent.upTo === 0);
      if (repair) this.spaces.get(sent.space)?.repair.count(frame.byteLength, 0, 0, sent.type === MsgType.AntiEntropy && !sent.more);
    });
    this.attester?.sent(m);
    return logBytes;
  }

  get frameBudget(): number { return chainBudget(this.options.maxFrameBytes); }

  private sendHello = (): Promise<void> => (this.hello ??= this.makeHello());

  private async makeHello(): Promise<void> {
    // Our hello carries our sync items: with the cursors we hold for the peer we expect, or none when we do
    // not know it yet (first contact) — either way the peer can decide without waiting for another message.
    const expected = this.peer?.replicaId ?? this.options.expectedPeer;
    await this.core.refreshIdentity(true);
    const spaces: SyncItem[] = [];
    if (this.options.spaces === 'opened') {
      for (const name of this.hub.openedSpaces()) spaces.push(await this.state(name).makeItem(this.options.expectedPeer));
    }
    const stored = expected === undefined ? undefined : await this.core.seen(expected);
    const seen = stored && seenFor(stored, this.peer && this.peer.replicaId === expected ? this.peer.history : undefined);
    const attest = expected === undefined ? undefined : await attestationOf(this.core.storage, expected);
    this.helloTop = this.core.durableSeq;
    this.helloHistory = this.wire.announced(sentHistory(this.core.history));
    this.send({
      type: MsgType.Hello,
      versions: [...(this.core.speaks ?? PROTOCOL_VERSIONS)],
      replicaId: this.core.replicaId,
      epoch: this.core.epoch,
      top: this.helloTop,
      token: this.options.token ?? '',
      expect: expected ?? '',
      history: this.helloHistory,
      ...(seen ? { seen } : {}),
      ...(attest ? { attest } : {}), ...(this.wire.holds !== undefined ? { holds: this.wire.holds } : {}),
      spaces,
    });
  }

  private state(name: string): SpaceSync {
    let s = this.spaces.get(name);
    if (!s) this.spaces.set(name, (s = new SpaceSync(name, this)));
    return s;
  }

  /** Sends repair states (upTo 0) once the session's repair window and the transport have room. */
  async sendRepair(space: string, entries: Entry[]): Promise<void> {
    await this.window.room(() => this.closed);
    this.send({ type: MsgType.Changes, space, upTo: 0, entries });
  }

  // ---- inbound -----------------------------------------------------------------------------------

  /** Handles a frame in turn: undefined when handled within the call, else a promise settled once handled (socket.ts). */
  receive(frame: Frame): Promise<void> | undefined {
    if (this.closed) return this.inbox.idle;
    const size = typeof frame === 'string' ? frame.length : frame.byteLength;
    if (size > this.options.maxFrameBytes) {
      this.close(CloseCode.TOO_LARGE, `frame of ${size} bytes exceeds the limit of ${this.options.maxFrameBytes}`);
      return this.inbox.idle;
    }
    // Decoded in turn, not on arrival: frames after the hello use the string table seeded with both
    // replica ids, known only once the hello before them was handled.
    const handled = this.inbox.run(() => {
      if (this.failed) return; // queued behind a frame the session refused: not decoded (no record learned), not joined
      const m = decoded(() => this.wire.decode(frame, this.options.maxValueBytes));
      if (!m) return; // a PART, staged (key-parts.ts)
      if (m.type === MsgType.AntiEntropy) this.spaces.get(m.space)?.repair.count(size, 0, 0, !m.more);
      if (m.type === MsgType.Changes && m.upTo === 0) this.spaces.get(m.space)?.repair.count(size, m.entries.length);
      return this.handle(m, size);
    });
    return handled === DONE ? undefined : handled;
  }

  fail(e: unknown): void {
    // Failed even when closed already (the link dropped while a frame's join ran, then it failed): no frame queued behind
    // is joined, whose cursor would cover the writes that failed (disk-full 23; test/review/failed-join-queued.test.ts).
    this.failed = true;
    const known = closeFor(e);
    if (!known) this.core.events.emit('error', e); // a disk that failed after the link dropped is news all the same
    if (this.closed) return;
    this.close(...(known ?? [CloseCode.INTERNAL, 'internal error']));
  }

  /** The connection ended (either side). */
  closedBy(_code: number, _reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.repairTimer.stop();
    this.window.wake();
    this.setStatus('offline');
    this.hub.removeSession(this);
    this.hub.presence.removeChannel(this);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.closed) return;
    this.conn.close(code, reason);
    this.closedBy(code, reason);
  }

  /** Handles a decoded frame: at once where it can (a LIVE frame joined into memory storage), else its promise. */
  /** `size`: the frame's bytes (a log frame's ACK may wait longer where small: ack-policy.ts). */
  private handle(m: Message, size: number): void | Promise<void> {
    if (m.type === MsgType.Hello) return this.closed ? undefined : this.onHello(m);
    admit(m.type, this.peer !== undefined, this.options.role);
    return this.vouch?.waiting ? this.vouch.settle().then(() => this.dispatch(m, size)) : this.dispatch(m, size);
  }

  private dispatch(m: Message, size: number): void | Promise<void> {
    checkGrant(this.grants, this.options.now());
    // What every write brings (its changes to a client, ACKs to a relay) here; the rest apart, so this stays a small
    // function V8 optimizes early (the time to optimize grows with a function's bytecode).
    if (m.type === MsgType.Changes) return this.synced(m.space, 'changes').changes(m, size);
    if (m.type === MsgType.Ack) {
      // upTo 0 acknowledges a repair frame: room in the session's window. Else the space's log stream.
      if (m.upTo === 0) return (this.spaces.get(m.space)?.repairAcks.acked(), this.window.acked());
      return this.synced(m.space, 'ack').out.ack(m.upTo);
    }
    return this.dispatchOther(m);
  }

  /** A frame other than CHANGES and ACK (dispatch). */
  private dispatchOther(m: Message): void | Promise<void> {
    switch (m.type) {
      case MsgType.Sync:
        return this.onSyncItems(m.spaces);
      case MsgType.Need:
        return this.synced(m.space, 'need').needs.take(m);
      case MsgType.Top:
        return this.synced(m.space, 'top').top(m.top);
      case MsgType.AntiEntropy: {
        const s = this.synced(m.space, 'anti-entropy');
        return s.repair.turn(m, !s.out.ready);
      }
      case MsgType.Denied:
        this.core.events.emit('error', new ConcordError(m.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'PROTOCOL', `space "${m.space}": ${m.reason}`));
        this.hub.markReadOnly(m.space, m.code === 'FORBIDDEN');
        return this.spaces.get(m.space)?.repairAcks.refused();
      case MsgType.Grant:
        this.state(m.space).rights = m.rights;
        this.hub.markReadOnly(m.space, m.rights === 'read');
        return;
      case MsgType.Presence:
        if (!this.hasSpace(m.space)) throw new ProtocolError(`presence for space "${m.space}" before its sync`);
        this.hub.presence.receive(this, m.space, parsePresence(m.json));
        return;
      case MsgType.Cluster:
        // Only relays send news, to their clients; a server ignores it (a client has no news for it).
        if (this.options.role === 'client') this.options.onCluster?.(m.json);
        return;
      case MsgType.Epochs:
        return this.grants?.writes === false ? undefined : chainReceived(this.core, this.peer!.replicaId, m); // peerEpochs' `learns`
      case MsgType.Attest:
        // Only relays attest, to their clients; a relay trusts no signature but its own.
        if (this.options.role === 'client') return Attester.received(this.core, this.peer!.replicaId, m);
        return;
    }
  }

  private async onHello(m: Hello): Promise<void> {
    if (this.peer) throw new ProtocolError('second hello');
    const refusal = versionRefusal(m.versions);
    if (refusal) return this.close(CloseCode.VERSION_MISMATCH, refusal);
    if (m.replicaId === this.core.replicaId) throw new ProtocolError('peer has our own replicaId');
    if (this.options.role === 'server') {
      if (!this.options.authenticate) throw new ConcordError('UNAUTHORIZED', 'no authenticator');
      this.grants = await this.options.authenticate(m.token, m.replicaId);
      checkGrant(this.grants, this.options.now());
      if (!this.grants.trusted && !(await this.hub.principals.claim(m.replicaId, this.grants.principal ?? ''))) {
        return this.close(CloseCode.ID_CONFLICT, 'this replicaId is in use by another principal here: take a new one');
      }
      if (!this.grants.trusted) this.attester = new Attester(this.core, (a) => this.send(a), (e) => this.fail(e));
      if (!this.grants.trusted) this.vouch = clientVouch(this.hub, this, this.options.authenticate, m.token, this.grants.principal ?? '');
    }
    const verdict = await restoreVerdict(this.core, m, this.options.role === 'client' || this.grants?.trusted === true, this.options.onRehello ? (this.options.expectedPeer ?? '') : undefined);
    if (verdict === 'reidentify') await reidentifyTelling(this.core, m, this.frameBudget, (f) => this.send(f));
    else if (verdict === 'rehello') (this.options.onPeer?.(m.replicaId, m.history), this.options.onRehello!());
    if (verdict) return this.close(CloseCode.GOING_AWAY, verdict === 'reidentify' ? 'replica re-identified' : 'hello again, made for this peer');
    const ours = this.core.speaks ?? PROTOCOL_VERSIONS;
    const teach = peerEpochs(this.core, this.hub.epochHolds, this, m, ours, this.options.role === 'client' || this.grants?.trusted === true, this.options.role === 'server' ? undefined : this.helloHistory, this.grants?.writes !== false); // trust as restoreVerdict's
    this.peer = m;
    this.wire.start(this.core.replicaId, m.replicaId, ...linkTerms(ours, m.versions, this.options.maxFrameBytes, { ...teach, told: this.vouch?.tell }));
    this.options.onPeer?.(m.replicaId, m.history);
    await this.sendHello();
    void this.core.told(m.replicaId).catch((e) => this.fail(e));
    this.news.flush();
    this.setStatus('syncing');
    this.repairTimer.start();
    // Our hello's items were made for another peer: forget them; fresh ones go below. What we hold of that peer may be
    // of this one's log under an older id: then it goes (lineage.ts).
    const guessed = this.options.expectedPeer;
    if (guessed !== undefined && guessed !== m.replicaId) for (const s of this.spaces.values()) s.mine = undefined;
    void retire(this.core.storage, this.hub.openedSpaces(), { id: guessed, epochs: this.options.expectedEpochs }, m).catch((e) => this.fail(e));
    // The peer's hello items count when made for us or for nobody in particular; items made for another
    // peer are ignored, and the peer sends fresh ones once it sees our hello.
    if (m.expect === '' || m.expect === this.core.replicaId) for (const item of m.spaces) await this.onSyncItem(item);
    if (this.options.spaces === 'opened') {
      // Spaces our hello did not carry (we did not know the peer, or opened them since). When the hello
      // guessed another peer, its cursors are simply invalid here and the decision falls back to anti-entropy.
      const items: SyncItem[] = [];
      for (const name of this.hub.openedSpaces()) {
        const s = this.state(name);
        if (!s.mine) items.push(await s.makeItem(m.replicaId));
      }
      if (items.length) this.send({ type: MsgType.Sync, spaces: items });
    }
    this.refreshStatus();
  }

  spaceOpened(space: string): void {
    if (!this.peer || this.options.spaces !== 'opened' || this.spaces.get(space)?.mine) return;
    void this.inbox.run(async () => {
      const s = this.state(space);
      if (s.mine || this.closed) return;
      this.send({ type: MsgType.Sync, spaces: [await s.makeItem(this.peer!.replicaId)] });
      this.refreshStatus();
    });
  }

  rightsFor(space: string): Rights | undefined {
    return this.options.role !== 'server' ? 'write' : this.grants?.rights(space);
  }

  private async onSyncItems(items: readonly SyncItem[]): Promise<void> {
    for (const item of items) await this.onSyncItem(item);
  }

  private async onSyncItem(item: SyncItem): Promise<void> {
    const s = this.state(item.space);
    const rights = this.rightsFor(item.space);
    if (!rights) {
      this.send({ type: MsgType.Denied, space: item.space, code: 'FORBIDDEN', reason: 'the token grants no access to this space' });
      return;
    }
    if (this.options.role === 'server' && rights === 'read') this.send({ type: MsgType.Grant, space: item.space, rights });
    // A relay's GRANT(read), come before its sync item, stands; a sync item without one (a token refreshed) allows writes.
    if (s.rights !== 'read') (s.rights = rights), this.options.role !== 'server' && this.hub.markReadOnly(item.space, false);
    if (s.theirs) throw new ProtocolError(`second sync item for space "${item.space}"`);
    s.theirs = item;
    if (!s.mine) this.send({ type: MsgType.Sync, spaces: [await s.makeItem(this.peer!.replicaId)] });
    this.hub.presence.spaceLive(this, s.name);
    s.decide();
    this.refreshStatus();
  }

  /** The space's state once both sync items were exchanged; a message for it before that is a protocol error. */
  private synced(space: string, what: string): SpaceSync {
    const s = this.spaces.get(space);
    if (!s?.theirs) throw new ProtocolError(`${what} for space "${space}" before its sync`);
    return s;
  }

  changed(change: StoredChange, prevLast: number | undefined): void {
    if (this.closed) return;
    // The space of the last change, read without the map (a relay's every link, every write): spaces are never removed.
    const s = this.lastChanged?.name === change.space ? this.lastChanged : (this.lastChanged = this.spaces.get(change.space));
    s?.out.changed(change, prevLast);
  }

  /** The space's log may read further with no change stored: a transaction that held it back was rolled back. */
  logMoved(space: string): void {
    if (!this.closed) void this.spaces.get(space)?.out.pump();
  }

  /** Periodic repair (RepairTimer's tick): the smaller replicaId starts a round in each settled space (space-sync.ts). */
  private repairRound(): void {
    if (!this.peer || !initiatesAntiEntropy(this.core.replicaId, this.peer.replicaId)) return;
    for (const s of this.spaces.values()) if (s.theirs && s.settled) s.beginRepair(false);
  }

  /** Sends cluster news (JSON) to the peer, after the hellos. */
  sendCluster(json: string): void {
    this.news.push(json);
  }

  sendPresence(space: string, payload: PresencePayload): void {
    this.send({ type: MsgType.Presence, space, json: JSON.stringify(payload) });
  }

  hasSpace(space: string): boolean {
    const s = this.spaces.get(space);
    return !!(s?.mine && s.theirs && s.rights);
  }

  // ---- status ------------------------------------------------------------------------------------

  refreshStatus(): void {
    if (!this.closed && this.peer) this.setStatus(allSynced(this.inbox.busy, this.spaces.values()) ? 'synced' : 'syncing');
  }

  private setStatus(next: ReplicaStatus): void {
    if (next === this.currentStatus) return;
    this.currentStatus = next;
    this.options.onStatus?.();
  }
}
