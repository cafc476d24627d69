/**
 * One connection's sync protocol: the driver. Symmetric: both ends stream their change log to the other; a
 * relay is a peer that authenticates the other side and checks its rights on every message. The decisions
 * are pure functions in handshake.ts; the outgoing log stream is outgoing.ts, anti-entropy repair.ts.
 *
 *   hello ⇄ hello              versions, replicaId, log epoch history and durable top, token, what the
 *                              peer delivered to us (restore detection); the client's hello already carries
 *                              its SYNC items when it knows the peer (one round trip to catch up)
 *   SYNC  ⇄ SYNC  (per space)  the cursor I hold into your log, my last log seq and key count in the space
 *   then per space, both sides decide alike (handshake.ts): stream from the cursors, or anti-entropy first
 *   live: every stored change is pumped to every session where its space is live, except back to the peer
 *   it came from; every CHANGES frame is acknowledged once stored durably (cursors in the join's transaction)
 *
 * Inbound frames are handled one at a time, in order. Anything malformed closes the connection with a
 * code and a reason; nothing stored is touched by a bad frame.
 */
import type { AntiEntropyRun, StoredChange } from '../core.js';
import { lostWrites, type EpochEntry } from '../epochs.js';
import { ConcordError } from '../errors.js';
import type { StorageTx } from '../storage.js';
import { CloseCode, type Connection, type Frame } from '../transport.js';
import type { ReplicaStatus } from '../types.js';
import { ProtocolError } from './codec.js';
import { decideSpace, initiatesAntiEntropy, sentHistory } from './handshake.js';
import type { SessionLike, SyncHub } from './hub.js';
import { decodeMessage, encodeMessage, MsgType, PROTOCOL_VERSIONS, type Changes, type Entry, type Hello, type Message, type SyncItem } from './messages.js';
import { LogStream } from './outgoing.js';
import type { PresenceChannel, PresencePayload } from './presence-hub.js';
import { parsePresence } from './presence-wire.js';
import { Repair } from './repair.js';
import { DEFAULT_ANTI_ENTROPY_INTERVAL, defaultTimers, type Grants, type Rights, type SessionOptions, type SpaceState, type Timers } from './session-state.js';

export type { Grants, Rights, SessionOptions } from './session-state.js';

/** Repair frames a session may have unacknowledged, across its spaces. */
const REPAIR_WINDOW = 8;
/** Bytes the transport may hold unsent before repair waits for it to drain. */
const HIGH_WATER = 4 * 1024 * 1024;

export class Session implements SessionLike, PresenceChannel {
  private peer?: Hello;
  private grants?: Grants;
  private readonly spaces = new Map<string, SpaceState>();
  private inbox: Promise<void> = Promise.resolve();
  private closed = false;
  private currentStatus: ReplicaStatus = 'connecting';
  private helloSent = false;
  /** The durable top and epoch history our hello announced: cursors into our log are judged by them. */
  private helloTop = 0;
  private helloHistory: EpochEntry[] = [];
  /** Cluster news waits until both hellos are done (the peer expects our hello first). */
  private clusterQueue: string[] | undefined = [];
  private repairInflight = 0;
  private roomWaiters: Array<() => void> = [];
  private aeTimer: unknown;
  private readonly timers: Timers;

  constructor(
    private readonly hub: SyncHub,
    private readonly conn: Connection,
    private readonly options: SessionOptions,
  ) {
    this.timers = options.timers ?? defaultTimers;
    hub.addSession(this);
    hub.presence.addChannel(this);
  }

  get status(): ReplicaStatus {
    return this.currentStatus;
  }

  get peerId(): string | undefined {
    return this.peer?.replicaId;
  }

  private get core() {
    return this.hub.core;
  }

  async start(): Promise<void> {
    if (this.options.role === 'client') await this.sendHello();
  }

  // ---- outbound ----------------------------------------------------------------------------------

  private send(m: Message): void {
    if (this.closed) return;
    // After the hellos, both replica ids start every frame's string table: a version written by either
    // side then costs one byte for its replica id instead of seventeen.
    const frame = encodeMessage(m, this.peer ? [this.core.replicaId, this.peer.replicaId] : undefined);
    if (frame.byteLength > this.options.maxFrameBytes && m.type === MsgType.Changes && m.entries.length > 0) return this.sendSplit(m);
    this.conn.send(frame);
    if (m.type === MsgType.Changes && m.upTo === 0) this.repairInflight++;
    if (m.type === MsgType.AntiEntropy || (m.type === MsgType.Changes && m.upTo === 0)) {
      this.spaces.get(m.space)?.repair.count(frame.byteLength, 0, 0, m.type === MsgType.AntiEntropy && !m.more);
    }
  }

  /**
   * Batches are sized by estimate; one that still outgrows the frame limit goes in halves (the first part as
   * repair states, upTo 0, which is always safe). A single state that cannot fit is reported and left out.
   */
  private sendSplit(m: Changes): void {
    if (m.entries.length === 1) {
      this.core.events.emit('error', new ConcordError('VALUE_TOO_LARGE', `"${m.entries[0]![0]}" in space "${m.space}" does not fit the connection's frame limit (${this.options.maxFrameBytes} bytes); it is not sent on this link`));
      return this.send({ ...m, entries: [] });
    }
    const half = Math.ceil(m.entries.length / 2);
    this.send({ ...m, upTo: 0, entries: m.entries.slice(0, half) });
    this.send({ ...m, entries: m.entries.slice(half) });
  }

  private get frameBudget(): number {
    return Math.min(256 * 1024, Math.floor(this.options.maxFrameBytes / 4));
  }

  private async sendHello(): Promise<void> {
    // Our hello carries our sync items: with the cursors we hold for the peer we expect, or none when we do
    // not know it yet (first contact) — either way the peer can decide without waiting for another message.
    const expected = this.peer?.replicaId ?? this.options.expectedPeer;
    const spaces: SyncItem[] = [];
    if (this.options.spaces === 'opened') {
      for (const name of this.hub.openedSpaces()) spaces.push(await this.makeItem(this.state(name), this.options.expectedPeer));
    }
    const seen = expected === undefined ? undefined : await this.core.seen(expected);
    this.helloSent = true;
    this.helloTop = this.core.durableSeq;
    this.helloHistory = sentHistory(this.core.history);
    this.send({
      type: MsgType.Hello,
      versions: [...PROTOCOL_VERSIONS],
      replicaId: this.core.replicaId,
      epoch: this.core.epoch,
      top: this.helloTop,
      token: this.options.token ?? '',
      expect: expected ?? '',
      history: this.helloHistory,
      ...(seen ? { seen } : {}),
      spaces,
    });
  }

  private state(name: string): SpaceState {
    let s = this.spaces.get(name);
    if (!s) {
      const space = name;
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const session = this;
      const stream = new LogStream(space, {
        get closed() {
          return session.closed;
        },
        get peerId() {
          return session.peer!.replicaId;
        },
        frameBudget: this.frameBudget,
        send: (m) => this.send(m),
        readLog: (after, limit) => this.core.storage.readLog(space, after, limit),
        lastSeq: () => this.hub.lastSeqNow(space),
        acked: (upTo) => this.core.acks.ack(space, upTo, this.peer!.replicaId),
        refreshStatus: () => this.refreshStatus(),
        fail: (e) => this.onHandlerError(e),
      }, () => this.spaces.get(space)?.mine?.top ?? 0);
      const repair = new Repair(space, {
        get closed() {
          return session.closed;
        },
        get peerId() {
          return session.peer!.replicaId;
        },
        frameBudget: this.frameBudget,
        get offersStates() {
          return !(session.options.role === 'client' && session.spaces.get(space)?.rights === 'read');
        },
        index: () => this.hub.index(space),
        get: (key) => this.core.storage.get(space, key),
        random: () => this.core.random(),
        send: (m) => this.send(m),
        sendRepair: (entries) => this.sendRepair(space, entries),
        fail: (e) => this.onHandlerError(e),
        ended: (run, info) => this.repairEnded(space, run, info),
      });
      s = { name, cursor: { e: '', s: 0 }, out: stream, repair, caughtUp: false };
      this.spaces.set(name, s);
    }
    return s;
  }

  private cursorKey(peerId: string, space: string): string {
    return `c:${peerId}:${space}`;
  }

  private async makeItem(s: SpaceState, peerId: string | undefined): Promise<SyncItem> {
    const stored = peerId === undefined ? undefined : await this.core.storage.getMeta<{ e: string; s: number }>(this.cursorKey(peerId, s.name));
    s.cursor = stored ?? { e: '', s: 0 };
    const ix = await this.hub.index(s.name);
    s.mine = { space: s.name, cursorEpoch: s.cursor.e, cursorSeq: s.cursor.s, top: ix.lastSeq, keys: ix.tree.keyCount };
    return s.mine;
  }

  /** Sends repair states once fewer than REPAIR_WINDOW repair frames are unacknowledged and the transport drained. */
  private async sendRepair(space: string, entries: Entry[]): Promise<void> {
    while (!this.closed && (this.repairInflight >= REPAIR_WINDOW || (this.conn.bufferedAmount ?? 0) > HIGH_WATER)) {
      await new Promise<void>((resolve) => {
        this.roomWaiters.push(resolve);
        // The transport drains without telling us: look again shortly.
        if (this.repairInflight < REPAIR_WINDOW) this.timers.setTimeout(resolve, 20);
      });
    }
    this.send({ type: MsgType.Changes, space, upTo: 0, entries });
  }

  private wakeRepair(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }

  // ---- inbound -----------------------------------------------------------------------------------

  receive(frame: Frame): void {
    if (this.closed) return;
    const size = typeof frame === 'string' ? frame.length : frame.byteLength;
    if (size > this.options.maxFrameBytes) {
      this.fail(CloseCode.TOO_LARGE, `frame of ${size} bytes exceeds the limit of ${this.options.maxFrameBytes}`);
      return;
    }
    // Decoded in turn, not on arrival: frames after the hello use the string table seeded with both
    // replica ids, known only once the hello before them was handled.
    this.inbox = this.inbox
      .then(() => {
        let m: Message;
        try {
          m = decodeMessage(frame, { maxValueBytes: this.options.maxValueBytes, table: this.peer ? [this.peer.replicaId, this.core.replicaId] : undefined });
        } catch (e) {
          throw e instanceof ProtocolError ? e : new ProtocolError('malformed frame');
        }
        if (m.type === MsgType.AntiEntropy) this.spaces.get(m.space)?.repair.count(size, 0, 0, !m.more);
        if (m.type === MsgType.Changes && m.upTo === 0) this.spaces.get(m.space)?.repair.count(size, m.entries.length);
        return this.handle(m);
      })
      .catch((e) => this.onHandlerError(e));
  }

  private onHandlerError(e: unknown): void {
    if (this.closed) return;
    if (e instanceof ConcordError && e.code === 'UNAUTHORIZED') this.fail(CloseCode.UNAUTHORIZED, e.message);
    else if (e instanceof ConcordError && e.code === 'FORBIDDEN') this.fail(CloseCode.FORBIDDEN, e.message);
    else if (e instanceof ProtocolError) this.fail(CloseCode.PROTOCOL_ERROR, e.message);
    else if (e instanceof ConcordError && e.code === 'CLOSED') this.fail(CloseCode.GOING_AWAY, 'replica closed');
    else {
      this.core.events.emit('error', e);
      this.fail(CloseCode.INTERNAL, 'internal error');
    }
  }

  /** The connection ended (either side). */
  closedBy(_code: number, _reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearTimeout(this.aeTimer);
    this.wakeRepair();
    this.setStatus('offline');
    this.hub.removeSession(this);
    this.hub.presence.removeChannel(this);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.closed) return;
    this.conn.close(code, reason);
    this.closedBy(code, reason);
  }

  private fail(code: number, reason: string): void {
    this.close(code, reason);
  }

  private async handle(m: Message): Promise<void> {
    if (m.type === MsgType.Hello) return this.closed ? undefined : this.onHello(m);
    if (!this.peer) throw new ProtocolError('expected hello first');
    this.checkGrant();
    switch (m.type) {
      case MsgType.Sync:
        for (const item of m.spaces) await this.onSyncItem(item);
        return;
      case MsgType.Changes:
        return this.onChanges(m);
      case MsgType.Ack:
        return this.onAck(m.space, m.upTo);
      case MsgType.AntiEntropy: {
        const s = this.spaces.get(m.space);
        if (!s?.theirs) throw new ProtocolError(`anti-entropy for space "${m.space}" before its sync`);
        return s.repair.turn(m, !s.out.ready);
      }
      case MsgType.Denied:
        this.core.events.emit('error', new ConcordError(m.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'PROTOCOL', `space "${m.space}": ${m.reason}`));
        this.hub.markReadOnly(m.space, m.code === 'FORBIDDEN');
        return;
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
    }
  }

  private checkGrant(): void {
    const exp = this.grants?.expiresAt;
    if (exp !== undefined && this.options.now() > exp) throw new ConcordError('UNAUTHORIZED', 'token expired');
  }

  private async onHello(m: Hello): Promise<void> {
    if (this.peer) throw new ProtocolError('second hello');
    const common = m.versions.filter((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v));
    if (common.length === 0) {
      this.fail(CloseCode.VERSION_MISMATCH, `no common protocol version: peer speaks [${m.versions.join(', ')}], this replica [${PROTOCOL_VERSIONS.join(', ')}]`);
      return;
    }
    if (m.replicaId === this.core.replicaId) throw new ProtocolError('peer has our own replicaId');
    if (this.options.role === 'server') {
      if (!this.options.authenticate) throw new ConcordError('UNAUTHORIZED', 'no authenticator');
      this.grants = await this.options.authenticate(m.token, m.replicaId);
      this.checkGrant();
    }
    // The peer holds a dot we delivered that our storage lost: we were restored (epochs.ts). A client takes its
    // relay's word (and peers theirs); a relay only a relay's of its cluster.
    const trusted = this.options.role === 'client' || this.grants?.trusted === true;
    if (trusted && m.expect === this.core.replicaId && lostWrites(this.core.history, this.core.durableSeq, m.seen)) {
      await this.core.reidentify(m.replicaId);
      this.close(CloseCode.GOING_AWAY, 'replica re-identified');
      return;
    }
    this.peer = m;
    this.options.onPeer?.(m.replicaId);
    if (!this.helloSent) await this.sendHello();
    void this.core.told(m.replicaId).catch((e) => this.onHandlerError(e));
    this.flushCluster();
    this.setStatus('syncing');
    this.scheduleAntiEntropy();
    // Our hello's items were made for another peer: forget them; fresh ones go below.
    const guessed = this.options.expectedPeer;
    if (guessed !== undefined && guessed !== m.replicaId) for (const s of this.spaces.values()) s.mine = undefined;
    // The peer's hello items count when made for us or for nobody in particular; items made for another
    // peer are ignored, and the peer sends fresh ones once it sees our hello.
    if (m.expect === '' || m.expect === this.core.replicaId) for (const item of m.spaces) await this.onSyncItem(item);
    if (this.options.spaces === 'opened') {
      // Spaces our hello did not carry (we did not know the peer, or opened them since). When the hello
      // guessed another peer, its cursors are simply invalid here and the decision falls back to anti-entropy.
      const items: SyncItem[] = [];
      for (const name of this.hub.openedSpaces()) {
        const s = this.state(name);
        if (!s.mine) items.push(await this.makeItem(s, m.replicaId));
      }
      if (items.length) this.send({ type: MsgType.Sync, spaces: items });
    }
    this.refreshStatus();
  }

  spaceOpened(space: string): void {
    if (!this.peer || this.options.spaces !== 'opened' || this.spaces.get(space)?.mine) return;
    this.inbox = this.inbox
      .then(async () => {
        const s = this.state(space);
        if (s.mine || this.closed) return;
        this.send({ type: MsgType.Sync, spaces: [await this.makeItem(s, this.peer!.replicaId)] });
        this.refreshStatus();
      })
      .catch((e) => this.onHandlerError(e));
  }

  private rightsFor(space: string): Rights | undefined {
    if (this.options.role !== 'server') return 'write';
    return this.grants?.rights(space);
  }

  private async onSyncItem(item: SyncItem): Promise<void> {
    const peer = this.peer!;
    const s = this.state(item.space);
    const rights = this.rightsFor(item.space);
    if (!rights) {
      this.send({ type: MsgType.Denied, space: item.space, code: 'FORBIDDEN', reason: 'the token grants no access to this space' });
      return;
    }
    if (this.options.role === 'server' && rights === 'read') this.send({ type: MsgType.Grant, space: item.space, rights });
    s.rights = rights;
    if (s.theirs) throw new ProtocolError(`second sync item for space "${item.space}"`);
    s.theirs = item;
    if (!s.mine) this.send({ type: MsgType.Sync, spaces: [await this.makeItem(s, peer.replicaId)] });
    this.decide(s);
  }

  /** Both sides hold both items and decide alike (handshake.ts): stream from cursors, or anti-entropy first. */
  private decide(s: SpaceState): void {
    this.hub.presence.spaceLive(this, s.name);
    const peer = this.peer!;
    const theirs = s.theirs!;
    const d = decideSpace(s.mine!, theirs, { history: this.helloHistory, top: this.helloTop }, { history: peer.history, top: peer.top });
    if (d.freshCursor) {
      // A fresh cursor at the start of the peer's log is a cursor too: keep it, so the next session
      // streams from it instead of repairing by anti-entropy.
      const fresh = (s.cursor = { e: peer.epoch, s: 0 });
      const key = this.cursorKey(peer.replicaId, s.name);
      void this.core.storage.transact((tx) => tx.setMeta(key, fresh)).catch((e) => this.onHandlerError(e));
    }
    if (d.inValid || d.freshCursor) s.caughtUp = s.cursor.s >= theirs.top;
    if (d.stream) s.out.start(d.from, d.echoFloor);
    else if (initiatesAntiEntropy(this.core.replicaId, peer.replicaId)) void s.repair.begin(true).catch((e) => this.onHandlerError(e));
    this.refreshStatus();
  }

  changed(change: StoredChange, prevLast: number | undefined): void {
    if (this.closed) return;
    this.spaces.get(change.space)?.out.changed(change, prevLast);
  }

  private async onAck(space: string, upTo: number): Promise<void> {
    const s = this.spaces.get(space);
    if (!s) throw new ProtocolError('ack for a space not synced');
    if (upTo === 0) {
      // A repair frame was stored: room for the next.
      if (this.repairInflight > 0) this.repairInflight--;
      this.wakeRepair();
      return;
    }
    s.out.ack(upTo);
  }

  private async onChanges(m: Changes): Promise<void> {
    const s = this.spaces.get(m.space);
    if (!s?.theirs) throw new ProtocolError(`changes for space "${m.space}" before its sync`);
    if (m.entries.length > 0 && this.rightsFor(m.space) !== 'write') {
      this.send({ type: MsgType.Denied, space: m.space, code: 'FORBIDDEN', reason: 'the token grants read access only; writes are not stored' });
      return;
    }
    const peer = this.peer!;
    if (m.upTo > 0 && m.upTo <= s.cursor.s && s.cursor.e === peer.epoch) throw new ProtocolError('log stream went backwards');
    const cursor = m.upTo > 0 ? { e: peer.epoch, s: m.upTo } : undefined;
    const key = this.cursorKey(peer.replicaId, m.space);
    const stored = await this.core.join(m.space, m.entries, {
      source: this,
      peer: peer.replicaId,
      delivered: { epoch: peer.epoch },
      ...(cursor ? { alsoInTx: (tx: StorageTx) => tx.setMeta(key, cursor) } : {}),
    });
    if (!cursor) {
      s.repair.count(0, 0, stored.length);
      this.send({ type: MsgType.Ack, space: m.space, upTo: 0 });
      return this.refreshStatus();
    }
    if (this.options.onStored && m.entries.length > 0) {
      // The newest of our log seqs holding these entries: the stored changes', or, for entries we already
      // held, the seq of the record that holds them (it contains or supersedes them).
      let localSeq = 0;
      for (const c of stored) localSeq = Math.max(localSeq, c.rec.seq);
      if (stored.length < m.entries.length) {
        for (const [k] of m.entries) localSeq = Math.max(localSeq, (await this.core.storage.get(m.space, k))?.seq ?? 0);
      }
      this.options.onStored(m.space, m.upTo, localSeq);
    }
    s.cursor = cursor;
    this.send({ type: MsgType.Ack, space: m.space, upTo: m.upTo });
    if (!s.caughtUp && s.cursor.s >= s.theirs.top) s.caughtUp = true;
    this.refreshStatus();
  }

  // ---- anti-entropy ------------------------------------------------------------------------------

  private async repairEnded(space: string, run: AntiEntropyRun, info: { establishing: boolean; myTop: number; peerTop: number }): Promise<void> {
    this.core.events.emit('antiEntropy', run);
    const s = this.spaces.get(space)!;
    if (!info.establishing || this.closed) return this.refreshStatus();
    const peer = this.peer!;
    const cursor = (s.cursor = { e: peer.epoch, s: info.peerTop });
    const key = this.cursorKey(peer.replicaId, space);
    await this.core.storage.transact((tx) => tx.setMeta(key, cursor));
    // Anti-entropy made us hold the peer's whole state as of its top then: its log up to that top.
    if (this.options.onStored && info.peerTop > 0) this.options.onStored(space, info.peerTop, (await this.hub.index(space)).lastSeq);
    s.caughtUp = true;
    // The peer holds our state as of our top then; what came from it since is its own.
    s.out.start(info.myTop, 0);
    this.refreshStatus();
  }

  /** Periodic repair on a synced session: both ends keep the timer; the smaller replicaId starts the round. */
  private scheduleAntiEntropy(): void {
    const every = this.options.antiEntropyInterval ?? DEFAULT_ANTI_ENTROPY_INTERVAL;
    if (every <= 0 || this.closed) return;
    this.aeTimer = this.timers.setTimeout(() => {
      if (this.closed) return;
      if (this.currentStatus === 'synced' && initiatesAntiEntropy(this.core.replicaId, this.peer!.replicaId)) {
        for (const s of this.spaces.values()) {
          if (s.out.ready && s.theirs && !s.repair.running) void s.repair.begin(false).catch((e) => this.onHandlerError(e));
        }
      }
      this.scheduleAntiEntropy();
    }, every);
  }

  // ---- cluster news and presence -------------------------------------------------------------------

  /** Sends cluster news (JSON) to the peer, after the hellos. */
  sendCluster(json: string): void {
    if (this.clusterQueue) this.clusterQueue.push(json);
    else this.send({ type: MsgType.Cluster, json });
  }

  private flushCluster(): void {
    const queued = this.clusterQueue ?? [];
    this.clusterQueue = undefined;
    for (const json of queued) this.send({ type: MsgType.Cluster, json });
  }

  sendPresence(space: string, payload: PresencePayload): void {
    this.send({ type: MsgType.Presence, space, json: JSON.stringify(payload) });
  }

  hasSpace(space: string): boolean {
    const s = this.spaces.get(space);
    return !!(s?.mine && s.theirs && s.rights);
  }

  // ---- status ------------------------------------------------------------------------------------

  private refreshStatus(): void {
    if (this.closed || !this.peer) return;
    let synced = true;
    for (const s of this.spaces.values()) {
      if (!s.theirs || !s.mine) {
        if (s.mine) synced = false;
        continue;
      }
      // Synced: caught up with the peer's log, and ours sent up to its last entry with every frame acknowledged.
      if (!s.caughtUp || s.repair.running || !s.out.done) synced = false;
    }
    this.setStatus(synced ? 'synced' : 'syncing');
  }

  private setStatus(next: ReplicaStatus): void {
    if (next === this.currentStatus) return;
    this.currentStatus = next;
    this.options.onStatus?.();
  }
}
