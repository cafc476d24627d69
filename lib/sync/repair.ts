/**
 * One space's Merkle anti-entropy on a session: the driver around antientropy.ts's pure turns.
 *
 *   begin()        the initiator (handshake.ts) opens a run with one level of its tree
 *   turn(m)        a turn, possibly split over frames (`more`), is gathered, then answered: the states of the
 *                  keys the peer lacks something of go first (repair CHANGES, upTo 0), then our turn;
 *                  a turn with nothing left to compare ends the run on both sides
 *   fast path      (protocol 7, fast-path.ts) the responder may answer the opening with a sketch (`draw` bounds how
 *                  often); the initiator peels it (`peel`) and sends states, claims and key hashes; the responder
 *                  answers them and sends back what a state sent whole lacks (`sendBack`)
 *
 * Values go only to a side that lacks them: a range item carries the dots of each key's state, so the side that
 * answers it sends each key's state with the versions the peer holds or has seen superseded as held forms (the link's
 * peer model learns the peer's dots, peer-model.ts), and asks only for keys the peer holds something of that it lacks;
 * the peer answers those knowing our state (it got it in this run, or we hold nothing of the key). A peer's dots are
 * its own claim: a false one can only cost it values it then lacks (a held form it cannot resolve closes its link),
 * never a value of ours, and never more than the states of the keys it names or that lie under the nodes it names.
 * A key's claim names at most MAX_CLAIMED_VERSIONS versions (ae-codec.ts); ours past that is claimed as nothing and
 * sent whole.
 *
 * Bounds (a small request must not make a big answer): a turn's parts are capped in decoded bytes; wanted keys are
 * deduplicated, and each key's state goes at most once per run; only keys we hold are answered; repair frames
 * are acknowledged like log frames and count against the session's window, and the sender waits for room (and
 * for the transport to drain) between frames, so a peer that does not read does not make us buffer. The
 * waiting happens in this space's outbox, never in the session's inbox: the acknowledgements that make room
 * arrive through the inbox (two peers repairing each other would otherwise wait on each other forever).
 * The outbox is in order: the states of a turn go before the turn, as the peer expects.
 * Only durable state leaves: a record newer than the space's last durable seq is left to the log stream.
 */
import type { KeyRecord } from '../storage.js';
import { namesEpochs, stateOf, type KeyState } from '../dvv.js';
import type { RepairPort, RunStats } from './repair-port.js';
export type { RunEnd } from './repair-port.js';
import { answerTurn, exchange, expand, fillRanges, openingTurn, splitTurn, type HashWidth } from './antientropy.js';
import { buildSketch, claimBits, decodeSketch, drawCredit, itemVersion, keysToOffer, peelItems, sketchPlan, wantedClaims, WHOLE_BYTES } from './fast-path.js';
import { dotsOf } from './peer-model.js';
import { claimedAsNothing } from './old-peers.js';
import { LeftOut, leaveOut, settleRun, type Settling } from './left-out.js';
import { turnMemory } from './ae-codec.js';
import { ProtocolError } from './codec.js';
import { entrySize, MsgType, type AeItem, type AntiEntropy, type Entry } from './messages.js';

/**
 * Bytes of memory one turn's gathered parts may take, as decoded (ae-codec.ts turnMemory): a hostile peer cannot
 * make us hold more. About 650 000 keys that differ, each with one writer (a single frame is bounded by its size).
 */
const MAX_TURN_BYTES = 256 * 1024 * 1024;

/** A run; `myTop`, `sent`, `leftOut` (keys left out since our last turn went: the next waits for them): left-out.ts. */
interface Run extends Settling {
  id: number;
  initiator: boolean;
  peerTop: number;
  establishing: boolean;
  stats: RunStats;
  /**
   * Keys left out, their records newer than the durable log (or not in the tree at all: hub.ts `unsettled`): an older
   * write of one at or below `myTop` went neither way. At most MAX_LEFT_OUT named; the run left keys out when any is.
   */
  skipped?: Set<string>;
  /**
   * The fast path (fast-path.ts): 'sketched' on the side that sent the sketch, which remembers the states the peer
   * sends whole (`received`, as dots) to send back what they lack; 'decoded' on the side that peeled it.
   */
  fast?: 'sketched' | 'decoded';
  /** States the peer sent whole (as dots): on the side that sent a sketch, and toward a peer below 11 (`answerOld`). */
  received?: Map<string, KeyState>;
  /** Toward a peer below 11: keys our claims named as nothing (a state naming an epoch, old-peers.ts), sent whole back. */
  nothing?: Set<string>;
  /** The keys our last turn claimed, in order (the peeling side): a bitmap over them says which the peer wants. */
  claimed?: string[];
}

export class Repair {
  private run: Run | undefined;
  private parts: { run: number; top: number; items: AeItem[]; want: string[]; bytes: number } | undefined;
  private outbox: Promise<void> = Promise.resolve();

  constructor(
    private readonly space: string,
    private readonly port: RepairPort,
  ) {}

  get running(): boolean {
    return this.run !== undefined;
  }

  /** The width of the node hashes we send (antientropy.ts wireHash). */
  private get width(): HashWidth {
    return this.port.compact ? 6 : 8;
  }

  /** Counts a frame of this run (bytes both ways, keys received). */
  count(bytes: number, keysReceived = 0, keysRepaired = 0, turnEnds = false): void {
    const stats = this.run?.stats;
    if (!stats) return;
    stats.bytes += bytes;
    stats.keysReceived += keysReceived;
    stats.keysRepaired += keysRepaired;
    if (turnEnds) stats.turns++;
  }

  async begin(establishing: boolean): Promise<void> {
    const ix = await this.port.index();
    const id = 1 + Math.floor(this.port.random() * 0x7fffffff);
    const run: Run = (this.run = { id, initiator: true, myTop: ix.lastSeq, peerTop: 0, establishing, stats: newStats(), sent: new Set(), ...this.oldPeer() });
    if (ix.unsettled) this.leave(run, 0, ix.unsettled);
    const whole: string[] = [];
    const items = await fillRanges(openingTurn(ix.tree, id, this.width).items, (k) => this.durable(run, k, ix.lastSeq), whole);
    this.noteNothing(run, items);
    if (whole.length === 0 && !run.leftOut) return this.sendTurn(id, run.myTop, items, [], false);
    this.queue(async () => {
      await this.sendStates(run, whole);
      if (run.leftOut) await this.settle(run);
      if (this.run === run && !this.port.closed) this.sendTurn(id, run.myTop, items, [], false);
    });
  }

  async turn(m: AntiEntropy, establishingIfNew: boolean): Promise<void> {
    for (const it of m.items) if (!this.port.reads(itemVersion(it))) throw new ProtocolError(`an anti-entropy item of protocol ${itemVersion(it)}, which we did not announce`);
    // A turn split over several frames: gather it, and answer once it is whole.
    if (m.more || this.parts) {
      const parts = (this.parts ??= { run: m.run, top: 0, items: [], want: [], bytes: 0 });
      if (parts.run !== m.run) throw new ProtocolError('anti-entropy turn parts from different runs');
      for (const it of m.items) parts.items.push(it);
      for (const k of m.want) parts.want.push(k);
      parts.bytes += turnMemory(m.items, m.want);
      if (m.top > 0) parts.top = m.top;
      if (parts.bytes > MAX_TURN_BYTES) throw new ProtocolError('anti-entropy turn too large');
      if (m.more) return;
      this.parts = undefined;
      m = { ...m, items: parts.items, want: parts.want, top: parts.top };
    }
    const ix = await this.port.index();
    let first = false;
    if (!this.run || this.run.id !== m.run) {
      if (this.run?.initiator) throw new ProtocolError('anti-entropy run mismatch');
      first = true;
      this.run = { id: m.run, initiator: false, myTop: ix.lastSeq, peerTop: m.top, establishing: establishingIfNew, stats: newStats(), sent: new Set(), ...this.oldPeer() };
    } else if (m.top > 0) this.run.peerTop = m.top;
    const run = this.run;
    if (ix.unsettled) this.leave(run, 0, ix.unsettled);
    const unpacked = wantedClaims(run.claimed, m.items, m.want);
    if (unpacked) {
      run.claimed = undefined;
      m = { ...m, ...unpacked };
    }
    if (m.final) return this.queue(async () => {
      await this.sendStates(run, [...m.want, ...(await this.sendBack(run, m.items))]);
      if (run.leftOut) await this.settle(run);
      await this.end(run);
    });
    const sketch = m.items.find((it) => it.kind === 'sketch');
    if (sketch) {
      if (!run.initiator || m.items.length !== 1) throw new ProtocolError('a sketch answers an opening, alone');
      return this.queue(() => this.peel(run, sketch, m.want));
    }
    const plan = first && this.port.sketches ? sketchPlan(ix.tree, m.items, run.id, this.port.frameBudget, this.port.sketchAlways) : undefined;
    if (plan && drawCredit(ix, plan.keys, this.port.now())) {
      run.fast = 'sketched';
      run.received = new Map();
      const { level, nodes, m: cellCount } = plan;
      return this.queue(async () => {
        const { cells } = await buildSketch(ix.tree, level, nodes, cellCount, run.id, this.port.pause);
        await this.sendStates(run, m.want);
        if (run.leftOut) await this.settle(run);
        const item: AeItem = { kind: 'sketch', level, nodes, m: cellCount, cells, ...(this.port.compact ? { packed: true } : {}) };
        if (this.run === run && !this.port.closed) this.sendTurn(run.id, run.myTop, [item], [], false);
      });
    }
    const turn = answerTurn(ix.tree, m.items, run.id, this.width);
    this.queue(async () => {
      // Which differing keys go, and which we ask for, from both sides' dots; the peer's dots of a key we send
      // make its versions go held where the peer holds them or saw them superseded.
      const send: string[] = await this.sendBack(run, m.items, turn.theirs);
      const want: string[] = this.port.asking?.() ?? [];
      for (const k of new Set([...turn.send, ...turn.want])) {
        const theirs = turn.theirs.get(k);
        const rec = await this.port.get(k);
        const joining = rec && theirs ? this.port.superseded?.(k, rec, theirs) : undefined;
        if (joining instanceof Promise) await joining;
        const x = exchange(rec, theirs, this.port.epochs);
        if (x.send) {
          if (theirs) this.port.observe(k, theirs);
          send.push(k);
        }
        if (x.want) want.push(k);
      }
      const { lastSeq } = await this.index(run);
      const whole: string[] = [];
      const items = await fillRanges(turn.items, (k) => this.durable(run, k, lastSeq), whole);
      this.noteNothing(run, items);
      const final = items.length === 0 && want.length === 0;
      await this.sendStates(run, [...send, ...m.want, ...whole]);
      if (run.leftOut) await this.settle(run);
      if (this.run !== run || this.port.closed) return;
      // The claims we want back go as a bitmap over the peer's claims, not as their keys again.
      const bits = run.fast === 'sketched' ? claimBits(m.items, want) : undefined;
      if (bits) this.sendTurn(run.id, first ? run.myTop : 0, [...items, { kind: 'wanted', bits: bits.bits }], bits.rest, final);
      else this.sendTurn(run.id, first ? run.myTop : 0, items, want, final);
      if (final) await this.end(run);
    });
  }

  /**
   * The side that sent the sketch, answering the peer's next turn: the keys of the hashes it asked for, our keys
   * sharing a hash with a key it named, and the keys it sent whole of which we hold something it lacks (their dots are
   * added to `theirs`, so our versions it holds go as held forms).
   */
  private async sendBack(run: Run, items: readonly AeItem[], theirs?: Map<string, KeyState>): Promise<string[]> {
    if (run.fast !== 'sketched') return run.received && (run.fast === 'decoded' || run.received.size > 0) ? this.answerOld(run) : [];
    const { tree } = await this.index(run);
    const received = run.received!;
    run.received = new Map();
    const named = new Set(received.keys());
    const hashes: number[] = [];
    for (const it of items) {
      if (it.kind === 'keys') for (const [k] of it.keys) named.add(k);
      else if (it.kind === 'hashes') hashes.push(...it.hashes);
    }
    const out = keysToOffer(tree, hashes, named);
    out.push(...(await this.offerBack(received, (k) => !theirs?.has(k))));
    return out;
  }

  /**
   * Of the keys the peer sent whole (`received`) that `asked` takes, those of which our record holds something the
   * peer's state lacks (`tagged`: only where our record names an epoch): the peer's dots are noted, the keys go back.
   */
  private async offerBack(received: ReadonlyMap<string, KeyState>, asked: (k: string) => boolean, tagged = false): Promise<string[]> {
    const out: string[] = [];
    for (const [k, dots] of received) {
      if (!asked(k)) continue;
      const rec = await this.port.get(k);
      if ((tagged && (!rec || !namesEpochs(rec))) || !exchange(rec, dots, this.port.epochs).send) continue;
      this.port.observe(k, dots);
      out.push(k);
    }
    return out;
  }

  /**
   * Toward a peer below 11, on every run but the sketch sender's (answered above): a key naming an epoch went as a claim
   * of nothing (old-peers.ts), so the peer sent its state whole (`received`: all it sent on the side that peeled, else the
   * keys in `nothing`). Where ours supersedes it, ours goes back (the wire leaves it out and tells its context alone,
   * fit-state.ts), else the peer kept the superseded version for good.
   */
  private answerOld(run: Run): Promise<string[]> {
    const received = run.received!;
    run.received = new Map();
    return this.offerBack(received, () => true, true);
  }

  /** Toward a peer below 11: the keys `items` claim as nothing, whose states the peer then sends whole. */
  private noteNothing(run: Run, items: readonly AeItem[]): void {
    if (run.nothing) for (const k of claimedAsNothing(items)) run.nothing.add(k);
  }

  /** A new run's memory of the keys claimed as nothing and of the states the peer sends whole, toward a peer below 11. */
  private oldPeer(): Pick<Run, 'received' | 'nothing'> {
    return this.port.carriesEpochs ? {} : { received: new Map(), nothing: new Set() };
  }

  /**
   * States the peer sent whole in this run (CHANGES, upTo 0), remembered as dots: all of them on the fast path's sides,
   * else (toward a peer below 11) those of keys our claims named as nothing.
   */
  received(entries: readonly Entry[]): void {
    const run = this.run;
    const got = run?.received;
    if (got) for (const [k, st] of entries) if (run.fast || run.nothing?.has(k)) got.set(k, dotsOf(st));
  }

  /**
   * The initiator, given the peer's sketch: peel it; send whole the differing keys whose states are small, claim the
   * others, ask for the hashes we hold no key of. If it does not peel, walk down from the differing nodes instead.
   */
  private async peel(run: Run, sketch: Extract<AeItem, { kind: 'sketch' }>, want: readonly string[]): Promise<void> {
    const { tree, lastSeq } = await this.index(run);
    const found = await decodeSketch(tree, sketch, run.id, this.port.pause);
    let items: AeItem[];
    const whole: string[] = [];
    if (!found) items = expand(tree, sketch.nodes.map((index) => ({ level: sketch.level, index })), run.id, this.width);
    else {
      run.fast = 'decoded';
      const claims: string[] = [];
      for (const k of found.ours) {
        const rec = await this.durable(run, k, lastSeq);
        // Whole when the peer has none of it, or when that costs about what a claim and a want would — where it can go:
        // a state naming an epoch, left out of the frame to a peer below 11, would hide that we hold the key differently.
        if (rec && this.port.offersStates && (this.port.carriesEpochs || !namesEpochs(rec)) && (found.lacked.has(k) || entrySize(k, rec) <= WHOLE_BYTES + 2 * k.length)) whole.push(k);
        else claims.push(k);
      }
      items = peelItems(claims, found.hashes, this.port.frameBudget);
    }
    const filled = await fillRanges(items, (k) => this.durable(run, k, lastSeq), whole);
    this.noteNothing(run, filled);
    run.claimed = filled.flatMap((it) => (it.kind === 'keys' ? it.keys.map(([k]) => k) : []));
    const final = filled.length === 0 && whole.length === 0;
    await this.sendStates(run, [...want, ...whole]);
    if (run.leftOut) await this.settle(run);
    if (this.run !== run || this.port.closed) return;
    this.sendTurn(run.id, 0, filled, [], final);
    if (final) await this.end(run);
  }

  /**
   * The space's tree, for `run`: a key left out of it (its newest record not durable when it was built, hub.ts) is one no
   * turn of the run can name, so its older write at or below the run's top goes neither way, as a key `durable` skips.
   */
  private async index(run: Run): ReturnType<RepairPort['index']> {
    const ix = await this.port.index();
    if (ix.unsettled) this.leave(run, 0, ix.unsettled);
    return ix;
  }

  /** A key of ours is left out of the run: its newest record, at `seq`, not durable (`durable` below; 0: hub.ts `unsettled`). */
  private leave(run: Run, seq: number, keys: Iterable<string>): void {
    const named = [...keys];
    leaveOut(run, named);
    (run.leftOut ??= new LeftOut()).note(seq, named);
  }

  /** Before our next turn goes, after keys were left out: their records durable first, rolled-back ones sent (left-out.ts). */
  private settle(run: Run): Promise<void> {
    return settleRun(run, this.port, (keys) => this.sendStates(run, keys), () => this.run === run && !this.port.closed);
  }

  /** A key's state if it is durable (a newer one is left to the log stream, and out of our range items). */
  private async durable(run: Run, key: string, lastSeq: number): Promise<KeyRecord | undefined> {
    const rec = await this.port.get(key);
    if (rec && rec.seq > lastSeq) this.leave(run, rec.seq, [key]);
    return rec && rec.seq <= lastSeq ? rec : undefined;
  }

  private queue(task: () => Promise<void>): void {
    this.outbox = this.outbox.then(task).catch((e) => this.port.fail(e));
  }

  /** Sends a turn, split into frames under the frame budget: all but the last say `more`, the first carries the top. */
  private sendTurn(id: number, top: number, items: AeItem[], want: string[], final: boolean): void {
    const parts = splitTurn(items, want, this.port.frameBudget);
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      this.port.send({ type: MsgType.AntiEntropy, space: this.space, run: id, top: i === 0 ? top : 0, items: part.items, want: part.want, final: last && final, ...(last ? {} : { more: true }) });
    });
  }

  /** Sends the states of `keys` not sent in the run yet, those durable; returns the keys whose states went. */
  private async sendStates(run: Run, keys: readonly string[]): Promise<string[]> {
    const went: string[] = [];
    if (!this.port.offersStates) return went;
    const { lastSeq } = await this.index(run);
    let batch: Entry[] = [];
    let bytes = 0;
    let top = 0;
    const flush = async () => {
      const entries = batch;
      const size = bytes;
      const upTo = top;
      batch = [];
      bytes = 0;
      top = 0;
      run.stats.keysSent += entries.length;
      await this.port.sendRepair(entries, size, upTo);
    };
    for (const key of keys) {
      if (run.sent.has(key) || this.port.closed || this.run !== run) continue;
      run.sent.add(key);
      // Absent, or not durable yet (the log stream sends it once it is).
      const rec = await this.durable(run, key, lastSeq);
      if (!rec) continue;
      went.push(key);
      batch.push([key, stateOf(rec)]);
      bytes += entrySize(key, rec);
      if (rec.seq > top) top = rec.seq;
      if (bytes > this.port.frameBudget) await flush();
    }
    if (batch.length && !this.port.closed && this.run === run) await flush();
    return went;
  }

  private async end(run: Run): Promise<void> {
    if (this.run !== run) return;
    this.run = undefined;
    await this.port.ended(
      { space: this.space, peer: this.port.peerId, ...run.stats, onConnect: run.establishing },
      // Nothing of ours is confirmed by a run that left a key of ours out, or sent no states at all (read-only); the
      // keys it left out go on the stream once they settle, echoes of the peer's states or not (outgoing.ts `owed`).
      { establishing: run.establishing, myTop: run.myTop, peerTop: run.peerTop, confirmed: !run.skipped && this.port.offersStates, ...(run.skipped ? { leftOut: run.skipped } : {}) },
    );
  }
}

export const newStats = (): RunStats => ({ turns: 0, bytes: 0, keysSent: 0, keysReceived: 0, keysRepaired: 0 });
