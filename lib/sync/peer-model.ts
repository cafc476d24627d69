/**
 * What one link knows of the peer's state, to send versions as deltas against what it holds (docs/deltas.md), and
 * the form each version takes in a frame.
 *
 * Per recently exchanged key, a model of the peer's state of it as dots: the join of every state sent to the peer
 * on this link and every state it sent us (frames arrive in order, so what we sent is what it will have joined
 * when it reads our next frame). It is a lower bound of the peer's state — except that a version in it may since
 * have been superseded there by a write we have not heard of yet: the peer then no longer holds that value, and a
 * delta against it comes back as NEED. So it is a guess that is never wrong silently.
 *
 *   held    the peer holds the version, or has seen it superseded (its context covers it): no value is sent
 *   delta   the version derives from versions the peer holds (its own derivation, or its in-memory chain's deltas
 *           composed back to such versions, deltas.ts deltaFor): the delta is sent
 *   whole   otherwise, and for keys the peer asked for whole (NEED) until one went; repair frames (upTo 0) take held
 *           forms but never deltas: a repair state resolves against what the peer holds without asking again
 *
 * A key not in the model (after a reconnect): a derived version whose bases were in a record at or below the cursor
 * the peer held for our log when the stream started (Derivation.s) probably reached it — probably: that record may
 * have been superseded before the peer's cursor passed it, and then NEED repairs the guess.
 * Bounded: at most MAX_KEYS keys per link (the least recently used go, EVICT at a time: a Map iterated from its start
 * steps over the slots of the entries deleted there until the table is rebuilt, so taking the oldest key one insert
 * at a time cost up to the table's size per insert once the model was full — a relay's every delivery on every link).
 * Shared: on a relay (its links are a group: `share`), what a link sent of a key it knew nothing of is noted
 * once for the group (sent-notes.ts, bounded alike: MAX_KEYS keys), not in the link's own map; the link's view of a key
 * is its own entry, else its bit there. A link of no group (a client's) keeps everything in its own map.
 */
import { deltaFor, valueOf, versionType } from '../deltas.js';
import { coversDot, dotTest, isDot, joinWith, namesEpochs, type Dot, type KeyState, type StoredVersion } from '../dvv.js';
import { NO_EPOCHS, type EpochRegistry } from '../epoch-points.js';
import type { Entry, Left } from './messages.js';
import { leftState, typedLive } from './fit-state.js';
import { MAX_LACK_DOTS } from './lacks.js';
import { Apart, both, kept, spacedSid, statesOf, toldOf, type Kept } from './model-entry.js';
import { ModelStates } from './model-states.js';
import { OneDot } from './one-dot.js';
import type { PeerAsks } from './open-asks.js';
import { notesFor, SentNotes } from './sent-notes.js';
import { WHOLE, type Form } from './wire-state.js';

export const MAX_KEYS = 4096;
/** Keys that go together once the model is over MAX_KEYS (one iteration from the oldest for all of them). */
export const EVICT = MAX_KEYS / 8;
/** Key states noted as too large for a link at most (wire.ts LEFT OUT): past them, each is tried as before. */
const MAX_LEFT_OUT = 10_000;
const HELD: Form = { kind: 'held' };

/** Whether `s` holds the version of dot `d` (a delta base: the whole dot). */
function holdsDot(s: KeyState, d: Dot): boolean {
  for (const v of s.vs) if (isDot(v, d)) return true;
  return false;
}

const NO_FORMS: ReadonlyMap<StoredVersion, Form> = new Map();
const NO_KEYS: readonly string[] = [];

/** A key's id in the model's sets and the maps but `states` (and in the peer's open asks, open-asks.ts). */
function keyId(space: string, key: string): string {
  return space + '\u0000' + key;
}

/**
 * `space\0key` of the last entry looked up: a relay's fan-out hands every session the same entry object in turn
 * (outgoing.ts), so each link's sets look up one string whose hash is known, not a fresh one per link.
 */
let lastEntry: Entry | undefined;
let lastSpace = '';
let lastId: string | undefined;
let lastSid: string | undefined;
function sameEntry(space: string, entry: Entry): void {
  if (lastEntry === entry && lastSpace === space) return;
  lastEntry = entry;
  lastSpace = space;
  lastId = lastSid = undefined;
}

function idOf(space: string, entry: Entry): string {
  sameEntry(space, entry);
  return (lastId ??= keyId(space, entry[0]));
}

function spacedSidOf(space: string, entry: Entry): string {
  sameEntry(space, entry);
  return (lastSid ??= spacedSid(space, entry[0]));
}

/** The dots of states sent on many links (a relay's fan-out sends one state object to every session): made once. */
const sentDots = new WeakMap<KeyState, KeyState>();

/** A version's dot, HLC and tombstone flag, its epoch named (literals, not spreads: a state received per live frame). */
function taggedDots(v: StoredVersion): StoredVersion {
  if (v.ep === undefined) return v.d ? { r: v.r, n: v.n, t: v.t, c: v.c, d: 1 } : { r: v.r, n: v.n, t: v.t, c: v.c };
  return v.d ? { r: v.r, ep: v.ep, n: v.n, t: v.t, c: v.c, d: 1 } : { r: v.r, ep: v.ep, n: v.n, t: v.t, c: v.c };
}

/**
 * The dots of a state (versions without their values, so the model pins no value). `told`: a one-dot state's as a
 * ToldDot (an entry that is both the model's states and told of its key: model-entry.ts).
 */
export function dotsOf(s: KeyState, told = false): KeyState {
  const one = OneDot.of(s, told); // most keys: one writer's one version (one-dot.ts)
  if (one) return one;
  // A state naming epochs (none is received or stored yet: docs/design/epochs-build.md) keeps them: its dots and points.
  if (namesEpochs(s)) {
    const vs = s.vs.map(taggedDots);
    return s.pts !== undefined ? { vs, cc: s.cc, pts: s.pts } : { vs, cc: s.cc };
  }
  return { vs: s.vs.map((v) => (v.d ? { r: v.r, n: v.n, t: v.t, c: v.c, d: 1 } : { r: v.r, n: v.n, t: v.t, c: v.c })), cc: s.cc };
}

/** The state `sharedDots` was last asked of, and its dots: every link of a fan-out asks of the same state in turn. */
let lastState: KeyState | undefined;
let lastDots: KeyState | undefined;

/** The dots of `s`, made once for a state sent (or left out) on many links: a relay's fan-out hands each the same object. */
function sharedDots(s: KeyState): KeyState {
  if (s === lastState) return lastDots!;
  let dots = sentDots.get(s);
  if (!dots) sentDots.set(s, (dots = dotsOf(s)));
  lastState = s;
  return (lastDots = dots);
}

/**
 * A state a link could not carry (wire.ts LEFT OUT), as noted: its dots alone (no value: a relay's link to an earlier
 * release notes up to MAX_LEFT_OUT of them for its life), whether a version of it is a live typed value (what the
 * context alone weighs, fit-state.ts: the value itself is not read), and the context alone told in its place.
 */
export interface LeftOutNote {
  readonly state: KeyState;
  readonly typed: boolean;
  told?: KeyState;
}

export class PeerModel {
  /**
   * A key's id (`sid`: the key itself in the link's first space, `\0space\0key` otherwise) → the peer's state of the
   * key, as dots, and what of it the peer told itself (`Kept`, model-entry.ts: `statesOf`, `toldOf`); insertion order
   * is recency; a ToldDot is kept in columns (model-states.ts). A key not here may be known by the link's bit in its
   * group's note (sent-notes.ts: `view`).
   */
  private readonly states = new ModelStates(MAX_KEYS, EVICT);
  /** What this link sent of keys it knew nothing of, noted with the rest of its group (sent-notes.ts), and its bit there. */
  private notes: SentNotes | undefined;
  private slot = 0;
  /** The space a key of which `states` holds under the key itself (`sid`): the link's first. */
  private first: string | undefined;
  /** Keys the peer asked for whole (NEED): no delta or held form until a whole state went. */
  private readonly whole = new Set<string>();
  /** Value types the peer cannot apply deltas of. */
  private readonly noDeltas = new Set<string>();
  /** Keys the peer asked for (its NEEDs, all spaces) whose states are not read for it yet (need-answers.ts bounds them). */
  needing = 0;
  /** The NEED answers the link remembers, all spaces (need-answers.ts MAX_ANSWERED): `space\0key` → the state's seq, when. */
  readonly answered = new Map<string, { readonly seq: number; readonly at: number }>();
  /**
   * Keys this link could not carry (wire.ts LEFT OUT) of which the peer itself has told nothing (`told`; `states` holds
   * the context alone we sent in its place, which says nothing of the peer's versions): anti-entropy asks the peer for
   * each once, so the key's context alone can name what the peer holds that the state superseded.
   */
  private readonly unknownLeftOut = new Set<string>();
  /** Keys asked for by NEED (wire.ts, toward a peer below 11), once a link each. */
  private readonly asked = new Set<string>();
  /**
   * `space\0key` → a state this link could not carry (wire.ts LEFT OUT) and the context alone sent in its place
   * (fit-state.ts), while at most MAX_LEFT_OUT are noted.
   */
  private readonly notCarried = new Map<string, LeftOutNote>();
  /** Per space, the cursor the peer held for our log when our stream started. */
  private readonly from = new Map<string, number>();
  /**
   * The peer's asks of a space not settled, which outlive this link (open-asks.ts): bound once the peer is known. Those
   * of a space where its states are refused (read only) are kept apart from the rest (wire.ts `start`).
   */
  open: (space: string) => PeerAsks | undefined = () => undefined;

  constructor(
    /** The epoch ancestry coverage is judged by (ReplicaCore.epochs): asked at each use, as the replica learns epochs. */
    private readonly epochs: () => EpochRegistry = () => NO_EPOCHS,
  ) {}

  /**
   * The link joins the group of `owner`'s links (a relay's hub), before it sends or learns anything: their notes
   * (sent-notes.ts). A link of no group keeps everything in its own map.
   */
  share(owner: object): void {
    ({ notes: this.notes, slot: this.slot } = notesFor(owner, MAX_KEYS, EVICT));
  }

  /** What the link knows of the key: its own entry, else the dots its group noted it was sent knowing nothing of it. */
  private entry(space: string, key: string, sid: string): Kept | undefined {
    return this.states.get(sid) ?? this.notes?.seen(space, key, this.slot);
  }

  /**
   * A key's id in `states`: of the link's first space (most links have one) the key itself, the string its frame or
   * storage holds already — a client keeps one per key a relay fans out to it, and a string made per key was one more
   * object its young-generation collections copied — else `\0space\0key`; a key starting with `\0` always so (no key
   * id of the first space starts with it).
   */
  private sid(space: string, key: string): string {
    this.first ??= space;
    return space === this.first && key.charCodeAt(0) !== 0 ? key : spacedSid(space, key);
  }

  /** `entry` of an entry a fan-out hands every link in turn (its own map asked only where it holds anything). */
  private entryOf(space: string, entry: Entry): Kept | undefined {
    return (this.states.size > 0 ? this.states.get(this.sidOf(space, entry)) : undefined) ?? this.noted(space, entry);
  }

  /** The dots the group noted this link was sent of `entry`'s key knowing nothing of it, if any. */
  private noted(space: string, entry: Entry): KeyState | undefined {
    return this.notes?.seenOf(space, entry, this.slot);
  }

  /** `sid` of an entry a fan-out hands every link in turn (`idOf`). */
  private sidOf(space: string, entry: Entry): string {
    this.first ??= space;
    const key = entry[0];
    return space === this.first && key.charCodeAt(0) !== 0 ? key : spacedSidOf(space, entry);
  }

  streamFrom(space: string, from: number): void {
    this.from.set(space, from);
  }

  /** The peer holds (at least) `state` of the key: it sent it or said so (`told`), or it will have joined what we send. */
  observe(space: string, key: string, state: KeyState, told = false): void {
    // answered (or told unasked): `told` holds it now, and the set's room goes to later keys
    if (told && this.asked.size > 0) this.asked.delete(keyId(space, key));
    const id = this.sid(space, key);
    const e = this.entry(space, key, id);
    // A key new to the model: told, its states and told are the same (immutable) dots.
    if (e === undefined) return this.states.setNew(id, told ? both(dotsOf(state, true)) : dotsOf(state));
    const reg = this.epochs();
    const was = statesOf(e);
    const toldWas = toldOf(e);
    if (!told) return this.states.setRecent(id, kept(dotsOf(joinWith(reg, was, state)), toldWas));
    if (toldWas === was) return this.states.setRecent(id, both(dotsOf(joinWith(reg, was, state), true)));
    this.states.setRecent(id, new Apart(dotsOf(joinWith(reg, was, state)), dotsOf(toldWas ? joinWith(reg, toldWas, state) : state)));
  }

  /**
   * The peer could not send us its states of `m`'s keys (LEFT): it holds (at least) the versions each names (the first
   * MAX_LACK_DOTS, as the lacks keep). A key this link left out too then takes a context alone lowered to those our state
   * superseded (fit-state.ts), where no link carries the peer's state either: else it never learnt them superseded, and
   * counted its own pending for good (soak seed withheld 1747900067: b's k10@3, under its former id).
   */
  toldLeft(m: Left): void {
    for (const [key, dots] of m.keys) if (dots.length > 0) this.observe(m.space, key, leftState(dots.slice(0, MAX_LACK_DOTS), this.epochs()), true);
  }

  /** What the link knows of the peer's state of the key, as dots (a lower bound but for versions since superseded there). */
  known(space: string, key: string): KeyState | undefined {
    const e = this.entry(space, key, this.sid(space, key));
    return e && statesOf(e);
  }

  /** Whether the peer itself told the link anything of the key (`told`: only its own entries hold any). */
  private told(space: string, key: string): boolean {
    return toldOf(this.states.get(this.sid(space, key))) !== undefined;
  }

  /**
   * The key's `state` did not fit this link (noted, while at most MAX_LEFT_OUT are): if its state on the peer is not
   * known, anti-entropy asks for it (`asking`).
   */
  leftOut(space: string, key: string, state: KeyState): void {
    const id = keyId(space, key);
    if (this.notCarried.has(id) || this.notCarried.size < MAX_LEFT_OUT) this.notCarried.set(id, { state: sharedDots(state), typed: state.vs.some(typedLive) });
    if (!this.told(space, key) && this.unknownLeftOut.size < MAX_KEYS) this.unknownLeftOut.add(id);
  }

  /** Whether to ask the peer for its state of a key left out (NEED, need-answers.ts): not told, and not asked so before. */
  toAsk(space: string, key: string): boolean {
    const id = keyId(space, key);
    const told = this.told(space, key);
    if (told) this.open(space)?.delete(id); // left out knowing the peer's state: its context alone says it all
    if (told || this.asked.has(id) || this.asked.size >= MAX_KEYS) return false;
    this.asked.add(id);
    return true;
  }

  /**
   * `keys` are asked for (NEED after the frame that left them out): the asks stay open past this link until settled
   * (open-asks.ts). Returns the store of them under way (open-asks-store.ts): that frame waits for it (wire.ts).
   */
  opened(space: string, keys: readonly string[]): Promise<void> | undefined {
    const open = this.open(space);
    for (const k of keys) open?.add(keyId(space, k));
    return keys.length > 0 ? open?.stored() : undefined;
  }

  /** `keys` were to be asked for, but no NEED of them fits the link: not open (nothing would ever settle them). */
  unasked(space: string, keys: readonly string[]): void {
    const open = this.open(space);
    for (const k of keys) open?.delete(keyId(space, k));
  }

  /** The key's state went on this link (not left out): an open ask of it is settled. */
  carried(space: string, key: string): void {
    const open = this.open(space);
    if (open !== undefined && open.ids.size > 0) open.delete(keyId(space, key));
  }

  /** Keys of `space` asked for by an earlier link and not settled: this link sends them again (need-answers.ts reask). */
  reopened(space: string): string[] {
    const prefix = keyId(space, '');
    return [...(this.open(space)?.ids ?? [])].filter((id) => id.startsWith(prefix) && !this.asked.has(id)).map((id) => id.slice(prefix.length));
  }

  /** Whether the link left any key out (LEFT OUT). */
  get leavesOut(): boolean {
    return this.notCarried.size > 0;
  }

  /** The state of the key the link could not carry, and the context alone told in its place, if noted. */
  leftOutOf(space: string, key: string): LeftOutNote | undefined {
    return this.notCarried.get(keyId(space, key));
  }

  /** Of `keys`, those the link left out, with the states it could not carry (their dots: LeftOutNote). */
  leftOutStates(space: string, keys: readonly string[]): Entry[] {
    const out: Entry[] = [];
    if (this.notCarried.size > 0) for (const k of keys) {
      const id = keyId(space, k);
      const was = this.notCarried.get(id);
      if (!was) continue;
      out.push([k, was.state]);
      this.open(space)?.delete(id); // heard (`heard`): its context alone goes lowered to the peer's state where that tells more
    }
    return out;
  }

  /** Keys of `space` anti-entropy should ask the peer for (once each): left out here, the peer's state of them untold. */
  asking(space: string): string[] {
    const out: string[] = [];
    const prefix = keyId(space, '');
    for (const id of this.unknownLeftOut) {
      if (!id.startsWith(prefix)) continue;
      this.unknownLeftOut.delete(id);
      const key = id.slice(prefix.length);
      if (!this.told(space, key)) out.push(key);
    }
    return out;
  }

  /** The peer asked for the key's whole state (and, with `type`, cannot apply deltas of that type). */
  needWhole(space: string, key: string, type: string): void {
    const id = keyId(space, key);
    this.states.delete(this.sid(space, key));
    this.notes?.forget(space, key, this.slot);
    if (this.whole.size < MAX_KEYS) this.whole.add(id);
    if (type !== '' && this.noDeltas.size < 64) this.noDeltas.add(type);
  }

  /**
   * The forms of a frame's versions (whole ones are left out of the map). `repair`: no deltas. A version
   * whose value cannot be made here and that cannot go otherwise makes its entry unsendable: `bad` lists those keys.
   */
  forms(space: string, entries: readonly Entry[], repair: boolean): { forms: ReadonlyMap<StoredVersion, Form>; bad: readonly string[] } {
    // Made only when a version takes a form other than whole (a relay's fan-out of a fresh write: none, on every link).
    let forms: Map<StoredVersion, Form> | undefined;
    let bad: string[] | undefined;
    const reg = this.epochs();
    for (const entry of entries) {
      const [key, s] = entry;
      // Each set asked only where it holds anything (on a relay's every link, for every delivery, it mostly holds none).
      const whole = this.whole.size > 0 && this.whole.has(idOf(space, entry));
      const e = whole ? undefined : this.entryOf(space, entry);
      const known = e === undefined ? undefined : repair ? toldOf(e) : statesOf(e);
      const held = known && dotTest(known.vs);
      for (const v of s.vs) {
        if (v.d) continue;
        let form: Form | undefined;
        if (known && (held!(v) || coversDot(reg, known, v.r, v.ep, v.n))) form = HELD;
        else if (v.x && !repair && !whole && !(this.noDeltas.size > 0 && this.noDeltas.has(versionType(v)))) {
          const from = this.from.get(space) ?? 0;
          const d = deltaFor(v, known ? (x) => x.b.every((d) => holdsDot(known, d)) : (x) => x.s <= from);
          if (d) form = { kind: 'delta', b: d.b, d: d.d };
        }
        if (form) (forms ??= new Map()).set(v, form);
        else if (v.v === undefined && !materialized(v)) (bad ??= []).push(key);
      }
    }
    return { forms: forms ?? NO_FORMS, bad: bad ?? NO_KEYS };
  }

  /**
   * A frame went: the peer will hold its states; keys sent whole no longer need to be. A state with no version does not
   * count as sent whole: it stands in for one the link left out (its context alone, wire.ts; need-answers.ts's empty
   * answer to a peer below 11), and the flag outlives the key's entry in `states` (MAX_KEYS), where a delta would then
   * go against the stream's start alone.
   */
  sent(space: string, entries: readonly Entry[], forms: ReadonlyMap<StoredVersion, Form>): void {
    const reg = this.epochs();
    for (const entry of entries) {
      const s = entry[1];
      const id = this.sidOf(space, entry);
      const e = this.entryOf(space, entry);
      if (e !== undefined) this.states.setRecent(id, kept(dotsOf(joinWith(reg, statesOf(e), s)), toldOf(e)));
      else {
        // Unknown here: the sent state's dots, immutable and the same for every link, noted once for the group (kept here
        // where the link is of none, or the key took its notes of other states).
        const dots = sharedDots(s);
        if (this.notes === undefined || !this.notes.sent(space, entry, dots, this.slot)) this.states.setNew(id, dots);
      }
      if (this.whole.size === 0) continue;
      const wid = idOf(space, entry);
      if (this.whole.has(wid) && s.vs.length > 0 && s.vs.every((v) => v.d || (forms.get(v) ?? WHOLE).kind === 'whole')) this.whole.delete(wid);
    }
  }
}

/** Makes a version's value (to send it whole); false when it cannot be made here. */
function materialized(v: StoredVersion): boolean {
  try {
    valueOf(v);
    return true;
  } catch {
    return false;
  }
}
