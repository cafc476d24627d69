/**
 * One space's outgoing log stream on a session: our change log from the cursor the peer holds, in CHANGES
 * frames under the frame budget, acknowledged (ACK) once the peer stored them durably. An ACK is a cursor: it
 * acknowledges every frame up to its seq, so a peer may answer several frames with one (space-sync.ts defers the
 * ACKs nobody waits for). At most WINDOW frames are unacknowledged (WIDE_WINDOW small ones, TINY_WINDOW tiny ones,
 * where the peer speaks protocol 12: ack-policy.ts); the rest waits in the log (the log is the queue: nothing is
 * buffered per peer).
 *
 *   start(from)     the log from `from` on is what the peer lacks
 *   changed(...)    a change was stored: sent at once when everything before it was (live fast path, one
 *                   frame per tick), else the pump reads it from the log
 *   ack(upTo)       the peer holds our log up to `upTo`: writes up to it are synced; the frames up to it leave the
 *                   window
 *
 * The peer is caught up once its cursor reaches the top we told it: our hello's, or a later one (TOP) whenever the log
 * grew past it while the pump had entries to send — so a peer is not `synced` with entries of ours still on their way
 * that were stored before the frames it read went. Every top told is reached by a frame (the last one may be empty).
 *
 * Only durable state is streamed: the log (readLog) holds durable records only, and change events fire once
 * a transaction is durable. Records that came from the peer are not sent back (handshake.ts echoFloor). A read may stop
 * before durable records a pending write holds back; its change event pumps again, or, should it fail, the rollback
 * does (SyncHub.logMoved).
 */
import { stateOf } from '../dvv.js';
import type { StoredChange } from '../core.js';
import type { KeyRecord } from '../storage.js';
import { SMALL_FRAME, TINY_FRAME } from './ack-policy.js';
import { ProtocolError } from './codec.js';
import { entrySize, MsgType, type Changes, type Entry } from './messages.js';

/**
 * The entry of a stored change, one object for every session it goes to (the hub hands all of them the same change):
 * frames made of the same entries are then recognized as the same and encoded once (wire.ts).
 */
const entries = new WeakMap<KeyRecord, Entry>();
/** The last change's entry: the hub hands one change to every session in turn, so all but the first look up none. */
let lastChange: StoredChange | undefined;
let lastRec: KeyRecord | undefined;
let lastEntry: Entry | undefined;
function liveEntry(change: StoredChange): Entry {
  if (change === lastChange && change.rec === lastRec && lastEntry![0] === change.key) return lastEntry!;
  let e = entries.get(change.rec);
  if (!e || e[0] !== change.key) entries.set(change.rec, (e = [change.key, stateOf(change.rec)]));
  lastChange = change;
  lastRec = change.rec;
  return (lastEntry = e);
}

/**
 * The streams with live changes gathered this tick, flushed by one microtask for all of them: a change goes live on
 * every session of its space at once (a relay's fan-out), and a microtask each costs more than the frame's bookkeeping.
 * One stream that fails does not keep the others' frames back: its session fails.
 */
let toFlush: LogStream[] = [];
function flushSoon(stream: LogStream): void {
  if (toFlush.push(stream) === 1) queueMicrotask(flushAll);
}
function flushAll(): void {
  const streams = toFlush;
  toFlush = [];
  for (const stream of streams) {
    try {
      stream.flushLive();
    } catch (e) {
      stream.failed(e);
    }
  }
}

/** Frames a stream may have unacknowledged (bounds what a slow peer makes us buffer). */
export const WINDOW = 32;
/**
 * Frames a stream may have unacknowledged where the peer speaks WIDE_ACKS and none of them is larger than SMALL_FRAME
 * (ack-policy.ts): what a slow peer makes us buffer beyond WINDOW's frames stays under 400 KB.
 */
export const WIDE_WINDOW = 128;
/** As WIDE_WINDOW, where none of them is larger than TINY_FRAME: beyond WINDOW's frames, under 254 KB. */
export const TINY_WINDOW = 1024;
const PAGE = 1024;

/** What a stream needs of its session. */
export interface StreamPort {
  readonly closed: boolean;
  /** The peer's replicaId; '' until its hello arrived. */
  readonly peerId: string;
  /** Largest batch of entries, in estimated bytes, for one frame. */
  readonly frameBudget: number;
  /** Whether the peer speaks WIDE_ACKS: it acknowledges small frames by WIDE_EVERY, so our window is WIDE_WINDOW. */
  readonly wide: boolean;
  /** Sends a log frame; the bytes of the frame that carried its upTo (0: none went). */
  send(m: Changes): number;
  readLog(afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>>;
  /** The space's last durable log seq as the index knows it. */
  lastSeq(): number;
  /** `resumed`: the peer's cursor the stream starts from (acks.ts ack), not an acknowledgement of frames sent here. */
  acked(upTo: number, resumed?: boolean): void;
  /** Tells the peer our log reaches `top` (TOP; nothing where the peer does not speak it). */
  tellTop(top: number): void;
  refreshStatus(): void;
  fail(e: unknown): void;
}

export class LogStream {
  ready = false;
  /** Log seq read up to (frames sent or echoes skipped). */
  sent = 0;
  /** Highest upTo carried by a frame (the peer's cursor once acknowledged). */
  private announced = 0;
  /** The upTo of each unacknowledged frame, in the order sent. */
  private readonly inflight: number[] = [];
  /** The upTo of the last frame larger than SMALL_FRAME (TINY_FRAME), and the highest upTo acknowledged: one is out while above. */
  private largeUpTo = 0;
  private smallUpTo = 0;
  private ackedUpTo = 0;
  pumping = false;
  /** Waiting for the peer to store what anti-entropy sent it before `start`'s position counts as acknowledged. */
  private confirming = false;
  private again = false;
  /**
   * The live changes of this tick, by key: a key changed twice goes once, at its newest state (as the log holds it).
   * The first key's entry (its newest), set while any wait:
   */
  private liveOne: Entry | undefined;
  /**
   * Every one of them, in the order of their latest change, once a second key came this tick (made only then: a
   * relay's fan-out of one write gathers one entry per session, and a map made and cleared per tick per session costs
   * more than the frame's own bookkeeping).
   */
  private liveMore: Map<string, Entry> | undefined;
  private liveUpTo = 0;
  private echoFloor = Infinity;
  /**
   * Keys an anti-entropy run left out (repair.ts `skipped`): their records, once in the log past `start`'s position, go to
   * the peer even when they hold the peer's own state. The run confirmed nothing (our writes up to its top wait for an ACK
   * past it), and an echo skipped gives the peer no frame to acknowledge: with no later change of ours, nothing would.
   * Nor is the echo surely held: it may be the join of an earlier session's frame, the peer restored from an older copy
   * since, and the run that left the key out never compared it. Each goes once (a newer record is the stream's anyway).
   */
  private owed: Set<string> | undefined;
  /** The highest top told with TOP. */
  private told = 0;
  /** The seq of the latest change stored here that did not come from the peer (echoes need no TOP: it has them). */
  private foreignTop = 0;

  constructor(
    private readonly space: string,
    private readonly port: StreamPort,
    /** The top this end announced for the space: a peer waiting for it needs a frame that reaches it. */
    private readonly announcedTop: () => number,
  ) {}

  /** Whether a frame is queued, unacknowledged or being read. */
  get busy(): boolean {
    return this.confirming || this.inflight.length > 0 || this.pumping || this.liveOne !== undefined;
  }

  /**
   * Streams from `from`: the peer holds our log up to it — at once, or once `stored` resolves true (an anti-entropy run
   * sent it states it has not acknowledged storing yet: until then our writes up to `from` are not synced, nor is the
   * stream done); false: the peer refused them, and nothing up to `from` counts as held. `owed`: keys the run left out.
   */
  start(from: number, echoFloor: number, stored?: Promise<boolean>, owed?: ReadonlySet<string>): void {
    this.ready = true;
    this.owed = owed && owed.size > 0 ? new Set(owed) : undefined;
    this.sent = from;
    this.announced = from;
    this.echoFloor = echoFloor;
    if (stored) {
      this.confirming = true;
      void stored.then((ok) => {
        this.confirming = false;
        if (ok) this.port.acked(from);
        this.port.refreshStatus();
      });
    } else this.port.acked(from, true);
    void this.pump();
  }

  /** Whether `key`'s record is left out: the peer's own state, stored above the floor, and not owed (which it is no more). */
  private isEcho(key: string, rec: KeyRecord): boolean {
    return !this.owed?.delete(key) && rec.src === this.port.peerId && rec.seq > this.echoFloor;
  }

  changed(change: StoredChange, prevLast: number | undefined): void {
    const rec = change.rec;
    // A state stored exactly as the peer sent it (`src`) is no news to it, also while an establishing anti-entropy run
    // repairs (the stream is not ready yet); before the peer is known (`peerId` '', which no `src` is), every change is.
    if (rec.seq > this.foreignTop && rec.src !== this.port.peerId) this.foreignTop = rec.seq;
    if (!this.ready) return this.port.refreshStatus();
    // Live fast path: everything before this change was sent, so it goes straight from the event (batched with
    // the others of this tick) — or, an echo of the peer's own change, is skipped without a log read. Only when
    // the hub knows the space's previous entry and every commit between it and this one was announced here (hub.ts):
    // a change this instance has not seen as an event yet (another tab's commit, announced later) may sit in the log
    // before it, and a frame up to this seq would carry the peer's cursor past it. And only past what was sent: a
    // log read between the commit and its event may have sent it already (a frame for it again would go backwards).
    if (!this.pumping && prevLast !== undefined && this.sent >= prevLast && rec.seq > this.sent && this.room()) {
      this.sent = rec.seq;
      if (this.owed?.delete(change.key) || rec.src !== this.port.peerId) {
        // An older state of the key this tick is superseded by this one: it goes no more (left out of the frame, it
        // would be reported and withheld, acks.ts, after this change released the key).
        const entry = liveEntry(change);
        const key = change.key;
        if (this.liveMore) {
          this.liveMore.delete(key);
          this.liveMore.set(key, entry);
        } else if (this.liveOne === undefined) {
          flushSoon(this);
          this.liveOne = entry;
        } else if (this.liveOne[0] === key) this.liveOne = entry;
        else this.liveMore = new Map([[this.liveOne[0], this.liveOne], [key, entry]]);
        this.liveUpTo = rec.seq;
      } else if (this.liveOne === undefined) this.port.refreshStatus();
      return;
    }
    void this.pump();
  }

  /** Sends the live changes gathered this tick as one frame. */
  flushLive(): void {
    const one = this.liveOne;
    const more = this.liveMore;
    this.liveOne = this.liveMore = undefined;
    if (one === undefined || this.port.closed) return;
    this.sendFrame(this.liveUpTo, more ? [...more.values()] : [one]);
    this.port.refreshStatus();
  }

  private sendFrame(upTo: number, entries: Entry[]): void {
    const bytes = this.port.send({ type: MsgType.Changes, space: this.space, upTo, entries });
    if (bytes > TINY_FRAME) this.smallUpTo = upTo;
    if (bytes > SMALL_FRAME) this.largeUpTo = upTo;
    this.inflight.push(upTo);
    this.announced = upTo;
  }

  /**
   * Whether another frame may go: WINDOW, or where the peer speaks WIDE_ACKS WIDE_WINDOW while no large frame is out and
   * TINY_WINDOW while none but tiny ones are.
   */
  private room(): boolean {
    // Each part of the rule is read on every call, the wider windows' too while the first has room: a part first read
    // once WINDOW frames are out is one V8 never saw run when it optimized the fan-out that inlined this, and its first
    // run deoptimized that for every link of the relay at once (S7: its 33rd and 129th writes, `node --trace-deopt`).
    const n = this.inflight.length;
    const acked = this.ackedUpTo;
    const inFirst = n < WINDOW;
    const inWide = n < WIDE_WINDOW;
    const inTiny = n < TINY_WINDOW;
    const noLarge = this.largeUpTo <= acked;
    const noSmall = this.smallUpTo <= acked;
    const wide = this.port.wide;
    return inFirst || (noLarge && wide && (inWide || (inTiny && noSmall)));
  }

  /** Sending failed (the session fails). */
  failed(e: unknown): void {
    this.port.fail(e);
  }

  async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    // Live changes gathered for this tick go first: the log stream must not overtake them.
    this.flushLive();
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.tellTop();
        while (!this.port.closed && this.ready && this.room()) {
          const page = await this.port.readLog(this.sent, PAGE);
          if (page.length === 0 || this.port.closed) break;
          this.tellTop();
          let batch: Entry[] = [];
          let bytes = 0;
          for (let i = 0; i < page.length; i++) {
            const [key, rec] = page[i]!;
            if (!this.isEcho(key, rec)) {
              batch.push([key, stateOf(rec)]);
              bytes += entrySize(key, rec);
            }
            if (i === page.length - 1 || bytes > this.port.frameBudget) {
              // Pages holding only echoes of the peer's own changes send nothing here.
              if (batch.length > 0) this.sendFrame(rec.seq, batch);
              this.sent = rec.seq;
              batch = [];
              bytes = 0;
            }
          }
        }
        // The log is exhausted. If echoes were skipped below a top we told, the peer still needs its cursor to
        // pass that top to know it caught up: one empty frame says so.
        if (!this.port.closed && this.ready && this.announced < this.sent && this.announced < Math.max(this.told, this.announcedTop())) this.sendFrame(this.sent, []);
      } while (this.again && !this.port.closed);
    } catch (e) {
      this.port.fail(e);
    } finally {
      this.pumping = false;
      this.port.refreshStatus();
    }
  }

  /**
   * Entries past what the peer was told are stored (and the pump will send them): tell it how far the log reaches —
   * up to the latest change that is news to it (a tail of its own changes coming back is skipped, not waited for).
   */
  private tellTop(): void {
    if (this.port.closed || !this.ready) return;
    const top = Math.min(this.foreignTop, this.port.lastSeq());
    if (top <= this.sent || top <= this.told || top <= this.announcedTop()) return;
    this.told = top;
    this.port.tellTop(top);
  }

  ack(upTo: number): void {
    if (upTo > this.sent) throw new ProtocolError('ack beyond what was sent');
    // Every frame up to `upTo` is acknowledged (one ACK per frame where the peer speaks protocol 5).
    let kept = 0;
    for (const u of this.inflight) if (u > upTo) this.inflight[kept++] = u;
    this.inflight.length = kept;
    if (upTo > this.ackedUpTo) this.ackedUpTo = upTo;
    this.port.acked(upTo);
    // Pump again only if the log holds entries not sent yet (the window held them back).
    if (this.port.lastSeq() > this.sent || this.again) void this.pump();
    this.port.refreshStatus();
  }

  /** Our log sent up to its last entry; acknowledgements may still be on their way (a peer defers them: ack-policy.ts). */
  get sentAll(): boolean {
    return this.ready && !this.pumping && this.liveOne === undefined && this.port.lastSeq() <= this.sent;
  }

  /** Caught up on our side: the log sent up to its last entry and every frame acknowledged. */
  get done(): boolean {
    return this.ready && !this.busy && this.port.lastSeq() <= this.sent;
  }
}
