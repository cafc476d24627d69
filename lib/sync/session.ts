/**
 * One connection's sync protocol. Symmetric: both ends stream their change log to the other; a relay is a
 * peer that authenticates the other side and checks its rights on every message.
 *
 *   hello ⇄ hello              versions, replicaId, epoch, replica seq, token; the client's hello already
 *                              carries its SYNC items when it knows the peer (one round trip to catch up)
 *   SYNC  ⇄ SYNC  (per space)  the cursor I hold into your log, my last log seq and key count in the space
 *   then per space, both sides decide the same thing from the two items:
 *     cursors valid (or one side empty) → stream the log from the cursor (CHANGES, each ACKed once durable)
 *     else                              → Merkle anti-entropy (initiator: the smaller replicaId), then stream
 *   live: every stored change is pumped from the log to every session where its space is live, except
 *   to the peer it came from (records remember `src`); cursors are stored in the join's own transaction.
 *
 * Inbound frames are handled one at a time, in order. Anything malformed closes the connection with a
 * code and a reason; nothing stored is touched by a bad frame.
 */
import type { StoredChange } from '../core.js';
import { ConcordError } from '../errors.js';
import type { KeyState } from '../dvv.js';
import type { StorageTx } from '../storage.js';
import { CloseCode, type Connection, type Frame } from '../transport.js';
import type { ReplicaStatus } from '../types.js';
import { answerTurn, openingTurn, splitTurn } from './antientropy.js';
import { refuseCollected } from './collected.js';
import { ProtocolError } from './codec.js';
import type { SessionLike, SyncHub } from './hub.js';
import type { PresenceChannel, PresencePayload } from './presence-hub.js';
import {
  decodeMessage,
  encodeMessage,
  entrySize,
  MsgType,
  PROTOCOL_VERSIONS,
  type AeItem,
  type AntiEntropy,
  type Changes,
  type Entry,
  type Hello,
  type Message,
  type SyncItem,
} from './messages.js';
import { newStats, type Grants, type Rights, type SessionOptions, type SpaceState } from './session-state.js';

export type { Grants, Rights, SessionOptions } from './session-state.js';

/** Frames a session may have unacknowledged per space (bounds what a slow peer makes us buffer). */
const WINDOW = 32;
const PAGE = 1024;

export class Session implements SessionLike, PresenceChannel {
  private peer?: Hello;
  private version = 0;
  private grants?: Grants;
  private readonly spaces = new Map<string, SpaceState>();
  private inbox: Promise<void> = Promise.resolve();
  private closed = false;
  private currentStatus: ReplicaStatus = 'connecting';
  private helloSent = false;
  /** The replica seq our hello announced: a cursor into our log beyond it is not ours to honour. */
  private helloTop = 0;
  /** Cluster news waits until both hellos are done (the peer expects our hello first). */
  private clusterQueue: string[] | undefined = [];

  constructor(
    private readonly hub: SyncHub,
    private readonly conn: Connection,
    private readonly options: SessionOptions,
  ) {
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
    if (frame.byteLength > this.options.maxFrameBytes && m.type === MsgType.Changes && m.entries.length > 0) {
      // Batches are sized by estimate; one that still outgrows the frame limit goes in halves. A single
      // state that cannot fit (values larger than the limit allows) is reported and left out.
      if (m.entries.length === 1) {
        this.core.events.emit('error', new ConcordError('VALUE_TOO_LARGE', `"${m.entries[0]![0]}" in space "${m.space}" does not fit the connection's frame limit (${this.options.maxFrameBytes} bytes); it is not sent on this link`));
        this.send({ ...m, entries: [] });
        return;
      }
      const half = Math.ceil(m.entries.length / 2);
      // Only the last part carries the cursor; the first goes as repair states (upTo 0), which is always safe.
      this.send({ ...m, upTo: 0, entries: m.entries.slice(0, half) });
      this.send({ ...m, entries: m.entries.slice(half) });
      return;
    }
    this.conn.send(frame);
    if (m.type === MsgType.AntiEntropy || (m.type === MsgType.Changes && m.upTo === 0)) {
      const stats = this.spaces.get(m.space)?.ae?.stats;
      if (stats) {
        stats.bytes += frame.byteLength;
        if (m.type === MsgType.AntiEntropy && !m.more) stats.turns++;
        if (m.type === MsgType.Changes) stats.keysSent += m.entries.length;
      }
    }
  }

  private async sendHello(): Promise<void> {
    // Our hello carries our sync items: with the cursors we hold for the peer we expect, or none when we do
    // not know it yet (first contact) — either way the peer can decide without waiting for another message.
    const spaces: SyncItem[] = [];
    if (this.options.spaces === 'opened') {
      for (const name of this.openedSpaces()) spaces.push(await this.makeItem(this.state(name), this.options.expectedPeer));
    }
    this.helloSent = true;
    this.helloTop = await this.core.currentSeq();
    this.send({
      type: MsgType.Hello,
      versions: [...PROTOCOL_VERSIONS],
      replicaId: this.core.replicaId,
      epoch: this.core.epoch,
      top: this.helloTop,
      token: this.options.token ?? '',
      expect: this.options.expectedPeer ?? '',
      spaces,
    });
  }

  private openedSpaces(): string[] {
    return this.hub.openedSpaces();
  }

  /** The spaces live on this session. */
  get activeSpaces(): string[] {
    return [...this.spaces.values()].filter((s) => s.out.ready).map((s) => s.name);
  }

  private state(name: string): SpaceState {
    let s = this.spaces.get(name);
    if (!s) {
      s = { name, cursor: { e: '', s: 0 }, out: { ready: false, sent: 0, announced: 0, live: [], acked: 0, inflight: 0, pumping: false, again: false }, caughtUp: false };
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
    const floor = await this.core.collectedAt(s.name);
    s.mine = { space: s.name, cursorEpoch: s.cursor.e, cursorSeq: s.cursor.s, top: ix.lastSeq, keys: ix.tree.keyCount, floor };
    return s.mine;
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
    // Frames that arrived before the connection closed are still handled (changes are data; a RESET
    // matters most right before the close it comes with); only sending stops at the close.
    this.inbox = this.inbox
      .then(() => {
        let m: Message;
        try {
          m = decodeMessage(frame, { maxValueBytes: this.options.maxValueBytes, table: this.peer ? [this.peer.replicaId, this.core.replicaId] : undefined });
        } catch (e) {
          throw e instanceof ProtocolError ? e : new ProtocolError('malformed frame');
        }
        if (m.type === MsgType.AntiEntropy || (m.type === MsgType.Changes && m.upTo === 0)) {
          const stats = this.spaces.get(m.space)?.ae?.stats;
          if (stats) {
            stats.bytes += size;
            if (m.type === MsgType.AntiEntropy && !m.more) stats.turns++;
            if (m.type === MsgType.Changes) stats.keysReceived += m.entries.length;
          }
        }
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
    this.setStatus('offline');
    this.hub.removeSession(this);
    this.hub.presence.removeChannel(this);
  }

  // ---- cluster news ------------------------------------------------------------------------------

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

  // ---- presence ----------------------------------------------------------------------------------

  sendPresence(space: string, payload: PresencePayload): void {
    this.send({ type: MsgType.Presence, space, json: JSON.stringify(payload) });
  }

  hasSpace(space: string): boolean {
    const s = this.spaces.get(space);
    return !!(s?.mine && s.theirs && s.rights);
  }

  private onPresence(space: string, json: string): void {
    if (!this.hasSpace(space)) throw new ProtocolError(`presence for space "${space}" before its sync`);
    let payload: unknown;
    try {
      payload = JSON.parse(json);
    } catch {
      throw new ProtocolError('presence is not JSON');
    }
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new ProtocolError('presence is not an object');
    const p = payload as Record<string, unknown>;
    const d = p.d !== undefined && p.d !== null && typeof p.d === 'object' && !Array.isArray(p.d) ? (p.d as Record<string, number>) : undefined;
    const e = Array.isArray(p.e) ? (p.e as PresencePayload['e']) : undefined;
    this.hub.presence.receive(this, space, { ...(d ? { d } : {}), ...(e ? { e } : {}), ...(p.r === 1 ? { r: 1 as const } : {}) });
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
    if (m.type === MsgType.Reset) {
      // May come instead of the peer's hello. The peer holds a dot of ours above the top our hello announced;
      // only a restored log is still behind it now (a write of ours may have reached the peer by another path
      // after our hello left, which is no restore).
      if (m.highest > (await this.core.currentSeq())) await this.core.reidentify();
      this.close(CloseCode.GOING_AWAY, 'replica re-identified');
      return;
    }
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
      case MsgType.AntiEntropy:
        return this.onAntiEntropy(m);
      case MsgType.Denied:
        this.core.events.emit('error', new ConcordError(m.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'PROTOCOL', `space "${m.space}": ${m.reason}`));
        this.hub.markReadOnly(m.space, m.code === 'FORBIDDEN');
        return;
      case MsgType.Grant:
        this.state(m.space).rights = m.rights;
        this.hub.markReadOnly(m.space, m.rights === 'read');
        return;
      case MsgType.Presence:
        return this.onPresence(m.space, m.json);
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
    this.version = Math.max(...common);
    if (this.options.role === 'server') {
      if (!this.options.authenticate) throw new ConcordError('UNAUTHORIZED', 'no authenticator');
      this.grants = await this.options.authenticate(m.token, m.replicaId);
      this.checkGrant();
    }
    // Restore detection: we hold a dot of the peer's newer than its whole log.
    const highest = await this.core.highestDotOf(m.replicaId);
    if (highest > m.top) {
      this.send({ type: MsgType.Reset, highest });
      this.close(CloseCode.GOING_AWAY, 'peer restored from a backup: it must re-identify');
      return;
    }
    this.peer = m;
    this.options.onPeer?.(m.replicaId);
    if (!this.helloSent) await this.sendHello();
    this.flushCluster();
    this.setStatus('syncing');
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
      for (const name of this.openedSpaces()) {
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
    if (!s.mine) {
      const mine = await this.makeItem(s, peer.replicaId);
      this.send({ type: MsgType.Sync, spaces: [mine] });
    }
    this.decide(s);
  }

  /** Both sides hold both items and decide alike: stream from cursors, or anti-entropy first. */
  private decide(s: SpaceState): void {
    this.hub.presence.spaceLive(this, s.name);
    const peer = this.peer!;
    const mine = s.mine!;
    const theirs = s.theirs!;
    const outValid = theirs.cursorEpoch === this.core.epoch && theirs.cursorSeq <= this.helloTop && theirs.cursorSeq >= mine.floor;
    const inValid = mine.cursorEpoch === peer.epoch && mine.cursorSeq <= peer.top && mine.cursorSeq >= theirs.floor;
    const outOk = outValid || theirs.keys === 0 || mine.keys === 0;
    const inOk = inValid || mine.keys === 0 || theirs.keys === 0;
    if (inOk) {
      if (!inValid) {
        // A fresh cursor at the start of the peer's log is a cursor too: keep it, so the next session
        // streams from it instead of repairing by anti-entropy.
        const fresh = (s.cursor = { e: peer.epoch, s: 0 });
        const key = this.cursorKey(peer.replicaId, s.name);
        void this.core.storage.transact((tx) => tx.setMeta(key, fresh)).catch((e) => this.onHandlerError(e));
      }
      s.caughtUp = s.cursor.s >= theirs.top;
    }
    if (outOk && inOk) {
      this.startPump(s, outValid ? theirs.cursorSeq : 0);
      this.refreshStatus();
      return;
    }
    if (this.core.replicaId < peer.replicaId) void this.beginAntiEntropy(s, true).catch((e) => this.onHandlerError(e));
    this.refreshStatus();
  }


  // ---- streaming the log -------------------------------------------------------------------------

  private startPump(s: SpaceState, from: number): void {
    s.out.ready = true;
    s.out.sent = from;
    s.out.announced = from;
    s.out.acked = Math.max(s.out.acked, from);
    this.core.acks.ack(s.name, from, this.peer!.replicaId);
    void this.pump(s);
  }

  changed(change: StoredChange, prevLast: number | undefined): void {
    const s = this.spaces.get(change.space);
    if (!s || this.closed) return;
    const out = s.out;
    if (!out.ready) return this.refreshStatus();
    // Live fast path: everything before this change was sent, so it goes straight from the event (batched
    // with the others of this tick) — or, an echo of the peer's own change, is skipped without a log read.
    if (!out.pumping && prevLast !== undefined && out.sent >= prevLast && change.rec.seq > out.sent && out.inflight < WINDOW) {
      out.sent = change.rec.seq;
      if (change.rec.src !== this.peer!.replicaId) {
        if (out.live.length === 0) queueMicrotask(() => this.flushLive(s));
        out.live.push([change.key, { vs: change.rec.vs, cc: change.rec.cc }], change.rec.seq);
      } else if (out.live.length === 0) this.refreshStatus();
      return;
    }
    void this.pump(s);
  }

  /** Sends the live changes gathered this tick as one frame. */
  private flushLive(s: SpaceState): void {
    const live = s.out.live;
    if (live.length === 0 || this.closed) return (s.out.live = []), undefined;
    s.out.live = [];
    const entries: Entry[] = [];
    let upTo = 0;
    for (let i = 0; i < live.length; i += 2) {
      entries.push(live[i] as Entry);
      upTo = live[i + 1] as number;
    }
    this.send({ type: MsgType.Changes, space: s.name, upTo, entries });
    s.out.inflight++;
    s.out.announced = upTo;
    this.refreshStatus();
  }

  private async pump(s: SpaceState): Promise<void> {
    if (s.out.pumping) {
      s.out.again = true;
      return;
    }
    // Live changes gathered for this tick go first: the log stream must not overtake them.
    this.flushLive(s);
    s.out.pumping = true;
    try {
      do {
        s.out.again = false;
        while (!this.closed && s.out.ready && s.out.inflight < WINDOW) {
          const page = await this.core.storage.readLog(s.name, s.out.sent, PAGE);
          if (page.length === 0 || this.closed) break;
          const peerId = this.peer!.replicaId;
          let batch: Entry[] = [];
          let bytes = 0;
          for (let i = 0; i < page.length; i++) {
            const [key, rec] = page[i]!;
            if (rec.src !== peerId) {
              batch.push([key, { vs: rec.vs, cc: rec.cc }]);
              bytes += entrySize(key, rec);
            }
            const last = i === page.length - 1;
            if (last || bytes > this.frameBudget) {
              // Pages holding only echoes of the peer's own changes send nothing here.
              if (batch.length > 0) {
                this.send({ type: MsgType.Changes, space: s.name, upTo: rec.seq, entries: batch });
                s.out.inflight++;
                s.out.announced = rec.seq;
              }
              s.out.sent = rec.seq;
              batch = [];
              bytes = 0;
            }
          }
        }
        // The log is exhausted. If echoes were skipped below the top we announced, the peer still needs
        // its cursor to pass that top to know it caught up: one empty frame says so.
        if (!this.closed && s.out.ready && s.out.announced < s.out.sent && s.out.announced < (s.mine?.top ?? 0)) {
          this.send({ type: MsgType.Changes, space: s.name, upTo: s.out.sent, entries: [] });
          s.out.inflight++;
          s.out.announced = s.out.sent;
        }
      } while (s.out.again && !this.closed);
    } catch (e) {
      this.onHandlerError(e);
    } finally {
      s.out.pumping = false;
      this.refreshStatus();
    }
  }

  private get frameBudget(): number {
    return Math.min(256 * 1024, Math.floor(this.options.maxFrameBytes / 4));
  }

  private async onAck(space: string, upTo: number): Promise<void> {
    const s = this.spaces.get(space);
    if (!s || upTo > s.out.sent) throw new ProtocolError('ack beyond what was sent');
    if (upTo > s.out.acked) s.out.acked = upTo;
    if (s.out.inflight > 0) s.out.inflight--;
    this.core.acks.ack(space, upTo, this.peer!.replicaId);
    // Pump again only if the log holds entries not sent yet (the window held them back).
    if (this.hub.lastSeqNow(space) > s.out.sent || s.out.again) void this.pump(s);
    this.refreshStatus();
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
    const entries = this.hub.collectsTombstones ? await this.refuseCollected(m.space, m.entries) : m.entries;
    const stored = await this.core.join(m.space, entries, {
      source: this,
      peer: peer.replicaId,
      ...(cursor ? { alsoInTx: (tx: StorageTx) => tx.setMeta(key, cursor) } : {}),
    });
    if (m.upTo === 0 && s.ae) s.ae.stats.keysRepaired += stored.length;
    if (cursor && this.options.onStored && m.entries.length > 0) {
      // The newest of our log seqs holding these entries: the stored changes', or, for entries we already
      // held, the seq of the record that holds them (it contains or supersedes them).
      let localSeq = 0;
      for (const c of stored) localSeq = Math.max(localSeq, c.rec.seq);
      if (stored.length < m.entries.length) {
        for (const [k] of m.entries) localSeq = Math.max(localSeq, (await this.core.storage.get(m.space, k))?.seq ?? 0);
      }
      this.options.onStored(m.space, m.upTo, localSeq);
    }
    if (cursor) {
      s.cursor = cursor;
      this.send({ type: MsgType.Ack, space: m.space, upTo: m.upTo });
      if (!s.caughtUp && s.cursor.s >= s.theirs.top) s.caughtUp = true;
    }
    this.refreshStatus();
  }

  /** Relays refuse versions they collected (collected.ts), and tell the peer to drop them too. */
  private async refuseCollected(space: string, entries: readonly Entry[]): Promise<Entry[]> {
    const { kept, refused } = await refuseCollected(this.core, space, entries);
    if (refused.length) this.send({ type: MsgType.Changes, space, upTo: 0, entries: refused });
    return kept;
  }

  // ---- anti-entropy ------------------------------------------------------------------------------

  private async beginAntiEntropy(s: SpaceState, establishing: boolean): Promise<void> {
    const ix = await this.hub.index(s.name);
    const run = 1 + Math.floor(this.core.random() * 0x7fffffff);
    s.ae = { run, initiator: true, myTop: ix.lastSeq, peerTop: 0, establishing, stats: newStats() };
    const turn = openingTurn(ix.tree, run);
    this.sendTurn(s.name, run, ix.lastSeq, turn.items, [], false);
  }

  /** Periodic repair on a synced session (the initiator is the smaller replicaId). */
  antiEntropyRound(): void {
    if (!this.peer || this.closed || this.core.replicaId > this.peer.replicaId) return;
    for (const s of this.spaces.values()) {
      if (s.out.ready && !s.ae && s.theirs) void this.beginAntiEntropy(s, false).catch((e) => this.onHandlerError(e));
    }
  }

  /**
   * Sends one anti-entropy turn, split into several frames under the frame budget when it is large; all
   * but the last say `more`, and only the first carries the run's top.
   */
  private sendTurn(space: string, run: number, top: number, items: AeItem[], want: string[], final: boolean): void {
    const parts = splitTurn(items, want, this.frameBudget);
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      this.send({ type: MsgType.AntiEntropy, space, run, top: i === 0 ? top : 0, items: part.items, want: part.want, final: last && final, ...(last ? {} : { more: true }) });
    });
  }

  private async onAntiEntropy(m: AntiEntropy): Promise<void> {
    const s = this.spaces.get(m.space);
    if (!s?.theirs) throw new ProtocolError(`anti-entropy for space "${m.space}" before its sync`);
    // A turn split over several frames: gather it, and answer once it is whole.
    if (m.more || s.aeParts) {
      const parts = (s.aeParts ??= { items: [], want: [], top: 0, run: m.run });
      if (parts.run !== m.run) throw new ProtocolError('anti-entropy turn parts from different runs');
      for (const it of m.items) parts.items.push(it);
      for (const k of m.want) parts.want.push(k);
      if (m.top > 0) parts.top = m.top;
      if (parts.items.length > 1_000_000 || parts.want.length > 1_000_000) throw new ProtocolError('anti-entropy turn too large');
      if (m.more) return;
      s.aeParts = undefined;
      m = { ...m, items: parts.items, want: parts.want, top: parts.top };
    }
    const ix = await this.hub.index(m.space);
    let first = false;
    if (!s.ae || s.ae.run !== m.run) {
      if (s.ae?.initiator) throw new ProtocolError('anti-entropy run mismatch');
      first = true;
      s.ae = { run: m.run, initiator: false, myTop: ix.lastSeq, peerTop: m.top, establishing: !s.out.ready, stats: newStats() };
    } else if (m.top > 0) s.ae.peerTop = m.top;
    const ae = s.ae;
    if (m.final) {
      await this.sendStates(s.name, m.want);
      return this.endAntiEntropy(s);
    }
    const turn = answerTurn(ix.tree, m.items, ae.run);
    await this.sendStates(s.name, [...new Set([...turn.send, ...m.want])]);
    const final = turn.items.length === 0 && turn.want.length === 0;
    this.sendTurn(s.name, ae.run, first ? ae.myTop : 0, turn.items, turn.want, final);
    if (final) return this.endAntiEntropy(s);
  }

  private async sendStates(space: string, keys: readonly string[]): Promise<void> {
    // A client the relay made read-only does not offer writes it would refuse.
    if (this.options.role === 'client' && this.spaces.get(space)?.rights === 'read') return;
    let batch: Entry[] = [];
    let bytes = 0;
    for (const key of keys) {
      const rec = await this.core.storage.get(space, key);
      if (!rec) continue;
      const state: KeyState = { vs: rec.vs, cc: rec.cc };
      batch.push([key, state]);
      bytes += entrySize(key, rec);
      if (bytes > this.frameBudget) {
        this.send({ type: MsgType.Changes, space, upTo: 0, entries: batch });
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length) this.send({ type: MsgType.Changes, space, upTo: 0, entries: batch });
  }

  private async endAntiEntropy(s: SpaceState): Promise<void> {
    const ae = s.ae!;
    s.ae = undefined;
    this.core.events.emit('antiEntropy', { space: s.name, peer: this.peer!.replicaId, ...ae.stats, onConnect: ae.establishing });
    if (!ae.establishing) {
      // A periodic round that overlapped a change left the status at 'syncing': refresh it now.
      this.refreshStatus();
      return;
    }
    const peer = this.peer!;
    s.cursor = { e: peer.epoch, s: ae.peerTop };
    const key = this.cursorKey(peer.replicaId, s.name);
    const cursor = s.cursor;
    await this.core.storage.transact((tx) => tx.setMeta(key, cursor));
    // Anti-entropy made us hold the peer's whole state as of its top then: its log up to that top.
    if (this.options.onStored && ae.peerTop > 0) this.options.onStored(s.name, ae.peerTop, (await this.hub.index(s.name)).lastSeq);
    s.caughtUp = true;
    this.startPump(s, ae.myTop);
    this.refreshStatus();
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
      if (!s.caughtUp || s.ae || !s.out.ready || s.out.inflight > 0 || s.out.pumping || s.out.live.length > 0) synced = false;
      else if (this.hub.lastSeqNow(s.name) > s.out.sent) synced = false;
    }
    this.setStatus(synced ? 'synced' : 'syncing');
  }

  private setStatus(next: ReplicaStatus): void {
    if (next === this.currentStatus) return;
    this.currentStatus = next;
    this.options.onStatus?.();
  }
}
