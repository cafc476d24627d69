/**
 * The answers to a peer's NEED (it could not resolve our deltas of some keys): their whole states, as repair frames,
 * and whole from then on. An answer waits for room in the session's repair window, which only the peer's ACKs make,
 * and the session's inbox is what reads them: so answers go on a queue of their own, never awaited by the inbox (a NEED
 * asking for more than the window held stalled the session for good, test/relay/need-window.test.ts).
 */
import { EMPTY_STATE, namesEpochs, stateOf } from '../dvv.js';
import type { ReplicaCore } from '../core.js';
import type { KeyRecord } from '../storage.js';
import { isTypeName } from '../typed.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { key, space } from './fields.js';
import { MsgType, type Changes, type Entry, type Message, type Need } from './messages.js';
import type { PeerModel } from './peer-model.js';

/** NEED's wire form: space, then the keys, each with why ('' or a type name). */
export function writeNeed(w: Writer, m: Need): void {
  w.str(m.space);
  w.uint(m.keys.length);
  for (const [k, t] of m.keys) {
    w.str(k);
    w.str(t);
  }
}

export function readNeed(r: Reader): Omit<Need, 'type'> {
  const s = space(r);
  const n = r.count(2);
  const keys: Array<readonly [string, string]> = [];
  for (let i = 0; i < n; i++) {
    const k = key(r);
    const t = r.str();
    if (t !== '' && !isTypeName(t)) throw new ProtocolError('invalid type name');
    keys.push([k, t]);
  }
  return { space: s, keys };
}

/**
 * Keys a link's peer may have asked for (NEED) and not had read for it yet, all spaces: past it the link is closed (4400).
 * An honest peer asks at most for the keys this link sent it as deltas or held forms (the peer model's 4 096), the keys it
 * lacks from us (lacks.ts, 4 096) and, of a replica speaking below 11, its open asks (open-asks.ts, 16 384). Before,
 * every NEED queued its keys for good while the peer acknowledged nothing (a read-only client: 41 MiB held for 7.6 MiB
 * of NEEDs in a minute, growing with every frame), and an answer read every state it named before sending any.
 */
export const MAX_NEEDING = 32_768;

/**
 * A link answers one stored state of a key (its record's seq) at most once in this window: asked again within it, the
 * answer waits for the window's end. A NEED of some 10 bytes buys the key's whole state, so a client asking for one
 * unchanged 256 KiB key again and again (acknowledging each answer: the repair window never filled) had the relay send
 * it once a NEED — 29 000 bytes out a byte asked, test/security/need-repeat.test.ts. An honest peer asks a key again
 * on one link only once it changed (the answer made it go whole: peer-model.ts needWhole), which is answered at once.
 */
export const REPEAT_WINDOW_MS = 10_000;

/** Whether `now` falls in the window of `ms` that began `at` (one that begins in the future — the clock went back — is over). */
export const inWindow = (at: number, now: number, ms: number): boolean => now - at < ms && now >= at;

/**
 * The answers a link remembers (space and key, seq and when), all its spaces together, the oldest forgotten first. It
 * was 4 096 a space a link: a `*` token live in 1 000 spaces made one link hold some 4 M of them (each key up to 1 024
 * characters). Forgetting never slows an honest peer (it only lets a repeat go at once).
 */
export const MAX_ANSWERED = 4_096;

/**
 * States whose values weigh less than this go again when asked, unremembered: a repeat buys little more than its ask
 * costs (a key's ask is a few bytes, its state's dots and context some tens). Only larger answers fill the bounded
 * table, so pushing one out of it takes 4 096 asks whose answers are at least as large (a NEED of 4 096 one-byte keys
 * between two asks of one 256 KiB key bought it again while every answer was remembered). Nothing is paced: past the
 * bound the oldest is forgotten, so an honest catch-up of any number of keys is answered at once.
 */
const REMEMBERED_BYTES = 64;

/** About what `rec`'s state weighs in an answer: its values' sizes (a version held as a delta counts as large). */
function answerBytes(rec: KeyRecord): number {
  let n = 0;
  for (const v of rec.vs) n += v.x !== undefined ? REMEMBERED_BYTES : typeof v.v === 'string' ? v.v.length : (v.v?.byteLength ?? 0);
  return n;
}

export interface NeedPort {
  /** What the link knows of the peer's states (peer-model.ts): keys asked for go whole from now on. */
  readonly model: PeerModel;
  /** Sends a frame now. */
  send(m: Message): void;
  /** The top of our durable log in the space (what may leave this replica). */
  lastSeq(): Promise<number>;
  /** Sends repair states once the repair window has room. */
  sendRepair(entries: Entry[]): Promise<void>;
  /** Runs `fn` in `ms` (the session's timers). */
  later(fn: () => void, ms: number): void;
  /** Whether the link carries states naming epochs (both hellos announced protocol 11). */
  carriesEpochs(): boolean;
  fail(e: unknown): void;
}

export class NeedAnswers {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: ReplicaCore,
    private readonly space: string,
    private readonly port: NeedPort,
  ) {}

  /**
   * The peer's states of `entries` came (a log frame, a repair state, an answer to our NEED): the link knows them (told),
   * and a key this link left out (wire.ts LEFT OUT) goes again as a repair state — which the wire does not send, but
   * whose context alone it tells again where it now tells more (fit-state.ts: the entries of replicas with a version in
   * the state, lowered to the peer's versions the state superseded). Else a peer below 11 told a tagged state's context
   * alone while the link knew nothing of its state kept a version the state superseded for good, where no anti-entropy
   * run asks (restore-once 1743400010: d, back from a restart, kept f's k15 at f:19 and b's k4 at b:3 beside relay a's
   * collected deletes; f and b had written the keys again, and c's tagged points named the states' epochs).
   */
  heard(entries: readonly Entry[]): void {
    for (const [k, st] of entries) this.port.model.observe(this.space, k, st, true);
    if (!this.port.model.leavesOut) return; // the live path's usual case: nothing to look up
    const back = this.port.model.leftOutStates(this.space, entries.map(([k]) => k));
    if (back.length > 0) this.port.send({ type: MsgType.Changes, space: this.space, upTo: 0, entries: back });
  }

  /**
   * The link's streams are decided: keys an earlier link to this peer asked for and that are not settled (open-asks.ts)
   * go again as repair states. Left out again (their states name an epoch), each is noted and asked for on this link
   * (wire.ts) as on the one that asked; gone whole (the state names none now, or the peer speaks 11), each is settled.
   */
  reask(): void {
    // The stored asks (open-asks-store.ts) being read, at a replica's first link or where tabs share them: after that.
    const loading = this.port.model.open(this.space)?.loading();
    if (loading) this.queue = this.queue.then(() => loading).then(() => this.reaskNow()).catch((e) => this.port.fail(e));
    else this.reaskNow();
  }

  private reaskNow(): void {
    const keys = this.port.model.reopened(this.space);
    if (keys.length > 0) this.queue = this.queue.then(() => this.resend(keys)).catch((e) => this.port.fail(e));
  }

  private async resend(keys: readonly string[]): Promise<void> {
    const lastSeq = await this.port.lastSeq();
    const entries: Entry[] = [];
    for (const k of keys) {
      const rec = await this.core.storage.get(this.space, k);
      if (!rec) this.port.model.carried(this.space, k); // nothing here to tell of it
      // Not durable yet: the log stream sends it (and leaves it out, and asks) once it is.
      else if (rec.seq <= lastSeq) entries.push([k, stateOf(rec)]);
    }
    for (let i = 0; i < entries.length; i += 16) await this.port.sendRepair(entries.slice(i, i + 16));
  }

  /**
   * A read-only client's states: refused (DENIED), never stored nor passed on. A repair frame's (its answer to our NEED,
   * as a peer below 11 is asked: wire.ts) of keys this link left out tell it what the client holds — only the link's
   * model, `heard` — so such a key goes as its context alone lowered to them: what it reads anyway, one context a key at
   * most per claim that tells more; a state of any other key is not even read. Acknowledged after the refusal, which the
   * client's run reads first (repair-acks.ts): its repair window does not fill with frames we will not store, and its
   * run does not count them stored. A log frame (upTo > 0), even one without entries, is refused and not acknowledged:
   * no cursor of its log moves (a session of the principal may pose as its writable replica, id and epoch).
   */
  refuse(m: Changes): void {
    if (m.upTo === 0 && this.port.model.leavesOut) this.heard(m.entries.filter(([k]) => this.port.model.leftOutOf(this.space, k) !== undefined));
    this.port.send({ type: MsgType.Denied, space: m.space, code: 'FORBIDDEN', reason: 'the token grants read access only; writes are not stored' });
    if (m.upTo === 0) this.port.send({ type: MsgType.Ack, space: m.space, upTo: 0 });
  }

  /**
   * Keys asked for and whose states are not read yet: a key asked again meanwhile is answered once, with its state as read
   * then (after the second ask). All spaces' together are the link's `needing`, at most MAX_NEEDING.
   */
  private readonly pending = new Set<string>();

  /** Keys asked again within the window of their answer: answered when it ends (still `pending`, counted `needing`). */
  private waiting: string[] = [];

  /** Takes a NEED: the keys go whole at once; their states are queued to go. */
  take(m: Need): void {
    for (const [k, type] of m.keys) this.port.model.needWhole(this.space, k, type);
    const keys: string[] = [];
    for (const [k] of m.keys) if (!this.pending.has(k)) (this.pending.add(k), keys.push(k));
    const model = this.port.model;
    if ((model.needing += keys.length) > MAX_NEEDING) throw new ProtocolError(`more than ${MAX_NEEDING} keys asked for (NEED) and not answered yet`);
    if (keys.length > 0) this.queue = this.queue.then(() => this.answer(keys)).catch((e) => this.port.fail(e));
  }

  /** The states of `keys`, read and sent 16 at a time (no more held here than a repair frame's). */
  private async answer(keys: readonly string[]): Promise<void> {
    const lastSeq = await this.port.lastSeq();
    const none: Entry[] = [];
    const old = !this.port.carriesEpochs();
    for (let i = 0; i < keys.length; i += 16) {
      const entries: Entry[] = [];
      for (const k of keys.slice(i, i + 16)) {
        this.pending.delete(k);
        this.port.model.needing--;
        const rec = await this.core.storage.get(this.space, k);
        // Not durable yet: the log stream sends it (whole) once it is.
        if (rec && rec.seq > lastSeq) continue;
        if (rec && answerBytes(rec) >= REMEMBERED_BYTES && this.again(k, rec.seq)) continue;
        entries.push([k, rec ? stateOf(rec) : { vs: [], cc: {} }]);
        // A state naming an epoch never reaches a peer below 11 (wire.ts leaves it out, withheld, and its context alone
        // goes only where it has one): that peer holds its cursor and every ACK back until the key comes whole, so it
        // would wait for good. Such a key is answered as nothing after the states (as its anti-entropy claim goes,
        // old-peers.ts): the peer resolves it, joins nothing, and its cursor moves on; what it lacks stays withheld here.
        if (old && namesEpochs(entries[entries.length - 1]![1])) none.push([k, EMPTY_STATE]);
      }
      if (entries.length > 0) await this.port.sendRepair(entries);
    }
    for (let i = 0; i < none.length; i += 16) await this.port.sendRepair(none.slice(i, i + 16));
  }

  /**
   * Whether the key's state `seq` was answered within the window: then it waits for the window's end (pending again, so
   * asks meanwhile fold into it); else it is noted answered now.
   */
  private again(k: string, seq: number): boolean {
    const now = this.core.now();
    // Each key's state answered last on the link (its record's seq) and when: the same state goes again only after
    // REPEAT_WINDOW_MS (peer-model.ts `answered`, the link's for all its spaces).
    const answered = this.port.model.answered;
    const id = `${this.space}\u0000${k}`;
    const last = answered.get(id);
    if (last !== undefined && last.seq === seq && inWindow(last.at, now, REPEAT_WINDOW_MS)) {
      this.pending.add(k);
      this.port.model.needing++;
      if (this.waiting.push(k) === 1) this.port.later(() => this.answerWaiting(), last.at + REPEAT_WINDOW_MS - now);
      return true;
    }
    answered.delete(id);
    answered.set(id, { seq, at: now });
    if (answered.size > MAX_ANSWERED) answered.delete(answered.keys().next().value!);
    return false;
  }

  /** The window of the first key waiting ended: the keys waiting are answered (those still within theirs wait again). */
  private answerWaiting(): void {
    const keys = this.waiting;
    this.waiting = [];
    this.queue = this.queue.then(() => this.answer(keys)).catch((e) => this.port.fail(e));
  }
}

/**
 * NEED frames asking for `keys` (none asked for a reason: '') that each fit (`fits`), halved until they do; a key whose
 * NEED alone does not fit is not asked for. Asked by a link that left the keys out toward a peer below 11 while it knew
 * nothing of the peer's state of them (wire.ts): the peer answers with its states, and `heard` tells the contexts
 * alone lowered to them. Anti-entropy asks too (peer-model.ts asking), but a link may run none.
 */
export function needsFitting(space: string, keys: readonly string[], fits: (m: Need) => boolean): Need[] {
  if (keys.length === 0) return [];
  const m: Need = { type: MsgType.Need, space, keys: keys.map((k) => [k, ''] as const) };
  if (fits(m)) return [m];
  if (keys.length === 1) return [];
  const half = Math.ceil(keys.length / 2);
  return [...needsFitting(space, keys.slice(0, half), fits), ...needsFitting(space, keys.slice(half), fits)];
}
