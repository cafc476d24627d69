/**
 * One space on one session: the two sync items, the cursor into the peer's log, the outgoing log stream
 * (outgoing.ts) and anti-entropy (repair.ts), and the handling of the peer's CHANGES and ACKs for the space.
 * The session (session.ts) owns the connection and routes the space's messages here.
 *
 * Invariants: a cursor into the peer's log is stored in the same transaction as the entries it covers, and
 * acknowledged only then; the stream starts only once the decision (handshake.ts) is made, from the cursor
 * the peer holds or, after anti-entropy, from our top at the run's start.
 */
import type { AntiEntropyRun, ReplicaCore } from '../core.js';
import type { StorageTx } from '../storage.js';
import { ProtocolError } from './codec.js';
import { decideSpace, initiatesAntiEntropy, type LogView } from './handshake.js';
import type { SyncHub } from './hub.js';
import { MsgType, type Changes, type Entry, type Hello, type Message, type SyncItem } from './messages.js';
import { LogStream } from './outgoing.js';
import { Repair } from './repair.js';
import type { Rights, SessionOptions } from './session-state.js';

/** What a space needs of its session. */
export interface SessionPort {
  readonly core: ReplicaCore;
  readonly hub: SyncHub;
  readonly closed: boolean;
  /** The peer's hello (set once it arrived). */
  readonly peer: Hello | undefined;
  /** Our log as our hello announced it. */
  readonly me: LogView;
  readonly frameBudget: number;
  readonly options: SessionOptions;
  send(m: Message): void;
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
  caughtUp = false;
  rights?: Rights;
  readonly out: LogStream;
  readonly repair: Repair;

  constructor(
    readonly name: string,
    private readonly session: SessionPort,
  ) {
    const { core, hub } = session;
    this.out = new LogStream(
      name,
      {
        get closed() {
          return session.closed;
        },
        get peerId() {
          return session.peer!.replicaId;
        },
        frameBudget: session.frameBudget,
        send: (m) => session.send(m),
        readLog: (after, limit) => core.storage.readLog(name, after, limit),
        lastSeq: () => hub.lastSeqNow(name),
        acked: (upTo) => core.acks.ack(name, upTo, session.peer!.replicaId),
        refreshStatus: () => session.refreshStatus(),
        fail: (e) => session.fail(e),
      },
      () => this.mine?.top ?? 0,
    );
    const offers = () => !(session.options.role === 'client' && this.rights === 'read');
    this.repair = new Repair(name, {
      get closed() {
        return session.closed;
      },
      get peerId() {
        return session.peer!.replicaId;
      },
      frameBudget: session.frameBudget,
      get offersStates() {
        return offers();
      },
      index: () => hub.index(name),
      get: (key) => core.storage.get(name, key),
      random: () => core.random(),
      send: (m) => session.send(m),
      sendRepair: (entries) => session.sendRepair(name, entries),
      fail: (e) => session.fail(e),
      ended: (run, info) => this.repairEnded(run, info),
    });
  }

  private get core(): ReplicaCore {
    return this.session.core;
  }

  private cursorKey(peerId: string): string {
    return `c:${peerId}:${this.name}`;
  }

  /** Our sync item for the space, with the cursor we hold for `peerId` (none for an unknown peer). */
  async makeItem(peerId: string | undefined): Promise<SyncItem> {
    const stored = peerId === undefined ? undefined : await this.core.storage.getMeta<{ e: string; s: number }>(this.cursorKey(peerId));
    this.cursor = stored ?? { e: '', s: 0 };
    const ix = await this.session.hub.index(this.name);
    this.mine = { space: this.name, cursorEpoch: this.cursor.e, cursorSeq: this.cursor.s, top: ix.lastSeq, keys: ix.tree.keyCount };
    return this.mine;
  }

  /** Both sides hold both items and decide alike (handshake.ts): stream from cursors, or anti-entropy first. */
  decide(): void {
    const peer = this.session.peer!;
    const theirs = this.theirs!;
    const d = decideSpace(this.mine!, theirs, this.session.me, { history: peer.history, top: peer.top });
    if (d.freshCursor) {
      // A fresh cursor at the start of the peer's log is a cursor too: keep it, so the next session
      // streams from it instead of repairing by anti-entropy.
      const fresh = (this.cursor = { e: peer.epoch, s: 0 });
      const key = this.cursorKey(peer.replicaId);
      void this.core.storage.transact((tx) => tx.setMeta(key, fresh)).catch((e) => this.session.fail(e));
    }
    if (d.inValid || d.freshCursor) this.caughtUp = this.cursor.s >= theirs.top;
    if (d.stream) this.out.start(d.from, d.echoFloor);
    else if (initiatesAntiEntropy(this.core.replicaId, peer.replicaId)) this.beginRepair(true);
  }

  beginRepair(establishing: boolean): void {
    if (this.repair.running) return;
    void this.repair.begin(establishing).catch((e) => this.session.fail(e));
  }

  /** Synced here: caught up with the peer's log, and ours sent up to its last entry with every frame acknowledged. */
  get synced(): boolean {
    return this.caughtUp && !this.repair.running && this.out.done;
  }

  async changes(m: Changes): Promise<void> {
    const { session } = this;
    if (!this.theirs) throw new ProtocolError(`changes for space "${m.space}" before its sync`);
    if (m.entries.length > 0 && session.rightsFor(m.space) !== 'write') {
      session.send({ type: MsgType.Denied, space: m.space, code: 'FORBIDDEN', reason: 'the token grants read access only; writes are not stored' });
      return;
    }
    const peer = session.peer!;
    if (m.upTo > 0 && m.upTo <= this.cursor.s && this.cursor.e === peer.epoch) throw new ProtocolError('log stream went backwards');
    const cursor = m.upTo > 0 ? { e: peer.epoch, s: m.upTo } : undefined;
    const key = this.cursorKey(peer.replicaId);
    const stored = await this.core.join(m.space, m.entries, {
      source: session,
      peer: peer.replicaId,
      delivered: { epoch: peer.epoch },
      ...(cursor ? { alsoInTx: (tx: StorageTx) => tx.setMeta(key, cursor) } : {}),
    });
    if (!cursor) {
      this.repair.count(0, 0, stored.length);
      session.send({ type: MsgType.Ack, space: m.space, upTo: 0 });
      return session.refreshStatus();
    }
    const onStored = session.options.onStored;
    if (onStored && m.entries.length > 0) {
      // The newest of our log seqs holding these entries: the stored changes', or, for entries we already
      // held, the seq of the record that holds them (it contains or supersedes them).
      let localSeq = 0;
      for (const c of stored) localSeq = Math.max(localSeq, c.rec.seq);
      if (stored.length < m.entries.length) {
        for (const [k] of m.entries) localSeq = Math.max(localSeq, (await this.core.storage.get(m.space, k))?.seq ?? 0);
      }
      onStored(m.space, m.upTo, localSeq);
    }
    this.cursor = cursor;
    session.send({ type: MsgType.Ack, space: m.space, upTo: m.upTo });
    if (!this.caughtUp && this.cursor.s >= this.theirs.top) this.caughtUp = true;
    session.refreshStatus();
  }

  private async repairEnded(run: AntiEntropyRun, info: { establishing: boolean; myTop: number; peerTop: number }): Promise<void> {
    const { session } = this;
    this.core.events.emit('antiEntropy', run);
    if (!info.establishing || session.closed) return session.refreshStatus();
    const peer = session.peer!;
    const cursor = (this.cursor = { e: peer.epoch, s: info.peerTop });
    const key = this.cursorKey(peer.replicaId);
    await this.core.storage.transact((tx) => tx.setMeta(key, cursor));
    // Anti-entropy made us hold the peer's whole state as of its top then: its log up to that top.
    if (session.options.onStored && info.peerTop > 0) session.options.onStored(this.name, info.peerTop, (await session.hub.index(this.name)).lastSeq);
    this.caughtUp = true;
    // The peer holds our state as of our top then; what came from it since is its own.
    this.out.start(info.myTop, 0);
    session.refreshStatus();
  }
}
