/**
 * Key states on the wire (CHANGES and LIVE frames, messages.ts): the versions, then the causal context.
 *
 *   version   replica id (a string table), counter, HLC ms as a difference from a time the frame names, then
 *             w = logical × 4 + form:
 *               0 whole      the value follows (codec.ts)
 *               1 tombstone
 *               2 held       no value: the receiver holds this version, or has seen it superseded (it said so, or
 *                            we sent it on this connection)
 *               3 delta      the base dots, then the delta's bytes: the value is apply(merge(value(bases)), delta)
 *                            for bases the receiver holds (docs/deltas.md); the receiver that lacks one asks for the
 *                            whole state (NEED). Bases: m even — one base of the version's own replica, its counter
 *                            the version's minus zigzag⁻¹(m / 2) (a keystroke: one byte); m odd — (m − 1) / 2 bases,
 *                            each a replica id and a counter, in canonical order
 *   a state   starts with 2 × the version count, + 1 when the causal context follows the versions explicitly
 *             (count, then (replica id, counter) pairs); without it, the context is the versions' own dots (the
 *             common single-writer case)
 *
 * From protocol 11 (epoch-wire.ts) a state starts with (2 × the version count + explicit) × 2 + any, and only where
 * `any` (some version names its epoch) is a version's word (logical × 2 + named) × 4 + form, an epoch reference
 * following when named — else it is 10's, so a state naming no epoch costs what it did at 10; a delta's one base of the version's own replica keeps the short form where its epoch is implied (else
 * the bases go as a list, each counter × 2 + named); an explicit context is epoch-wire.ts's writeCausal; a context
 * left implicit holds the versions' points (dotsContext).
 *
 * Which form a version takes is the sender's call (peer-model.ts); without one, every value goes whole. Decoding
 * validates every field and returns held and delta versions unresolved (`e`, or `x` without bases): resolve.ts turns
 * them into stored versions against the receiver's records, or refuses the frame.
 */
import { valueOf } from '../deltas.js';
import { namesEpochs, sameDot, samePoints, sameVector, type Causal, type Dot, type KeyState, type Point, type StoredVersion } from '../dvv.js';
import { invalidEncoding, noteDecoded } from '../values.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { readCausal, writeCausal, type EpochIn, type EpochOut } from './epoch-wire.js';

/** How a version travels. */
export type Form = { readonly kind: 'whole' } | { readonly kind: 'held' } | { readonly kind: 'delta'; readonly b: readonly Dot[]; readonly d: Uint8Array };

export const WHOLE: Form = { kind: 'whole' };
const FORM_WHOLE = 0;
const FORM_TOMBSTONE = 1;
const FORM_HELD = 2;
const FORM_DELTA = 3;

/**
 * A version as decoded: `e` marks a held one (no value), a delta one has `x` without its bases, `o` one whose value is
 * over what this receiver takes (its value dropped: resolve.ts, the key is lacked rather than the frame refused).
 */
export interface WireVersion extends StoredVersion {
  readonly e?: 1;
  readonly o?: 1;
}

/** Dot counters beyond this are refused (see messages.ts). */
export const MAX_COUNTER = 2 ** 48;
/** Bases one delta may name. */
export const MAX_BASES = 64;

/** How strings and times are written: the frame's string table and base time, or the connection's (LIVE). */
export interface StateCodec {
  /** A replica id. */
  rid(s: string): void;
  /** The HLC ms of a version, as written (and the codec's running time advanced, where it runs). */
  time(t: number): void;
  /** The frame's epochs where the connection speaks protocol 11 (absent: protocol 10 or less). */
  readonly ep?: EpochOut | undefined;
}

export interface StateDecoder {
  /** A replica id (validated). */
  rid(): string;
  time(): number;
  readonly ep?: EpochIn | undefined;
}

/** Writes a state; `forms` gives each version's form (absent: whole). */
export function writeState(w: Writer, s: KeyState, c: StateCodec, forms?: ReadonlyMap<StoredVersion, Form>): void {
  const ep = c.ep;
  // Before protocol 11 no version carries epochs (docs/design/epochs-build.md): sent as a vector, a context with
  // points would cover dots it never saw at the receiver, and an epoch's dot sent untagged may be taken for a lost
  // branch's (item 6's rule, not built). Refused.
  if (!ep && namesEpochs(s)) throw new Error('concord: a state whose dots or context name epochs cannot be sent to a peer speaking protocol 10 or less');
  const dots = ccIsDots(s);
  const head = s.vs.length * 2 + (dots ? 0 : 1);
  // From 11 the head says whether any version names its epoch; only then does each version's word carry the flag.
  const any = ep !== undefined && anyNamed(s, ep, forms);
  w.uint(ep ? head * 2 + (any ? 1 : 0) : head);
  const words = any ? ep : undefined;
  for (const v of s.vs) {
    c.rid(v.r);
    w.uint(v.n);
    c.time(v.t);
    if (v.d) {
      writeWord(w, v, words, FORM_TOMBSTONE);
      continue;
    }
    const form = forms?.get(v) ?? WHOLE;
    if (form.kind === 'held') writeWord(w, v, words, FORM_HELD);
    else if (form.kind === 'delta') {
      // A base composed from a chain's link (peer-model.ts) need not be among the state's own: checked here too.
      if (!ep) for (const d of form.b) if (d[2] !== undefined) throw new Error('concord: a delta base naming an epoch cannot be sent to a peer speaking protocol 10 or less');
      writeWord(w, v, words, FORM_DELTA);
      const only = form.b.length === 1 ? form.b[0]! : undefined;
      if (only && only[0] === v.r && (!ep || !ep.named(v.r, only[1], only[2]))) w.uint(zigzag(v.n - only[1]) * 2);
      else {
        w.uint(form.b.length * 2 + 1);
        for (const [r, n, e] of form.b) {
          c.rid(r);
          if (!ep) {
            w.uint(n);
            continue;
          }
          const named = ep.named(r, n, e);
          w.uint(n * 2 + (named ? 1 : 0));
          if (named) ep.ref(w, r, e);
        }
      }
      w.bytes(form.d);
    } else {
      writeWord(w, v, words, FORM_WHOLE);
      if (v.v !== undefined) w.valueOf(v, v.v);
      else w.value(valueOf(v));
    }
  }
  if (dots) return;
  if (ep) return writeCausal(w, s, (r) => c.rid(r), ep);
  const rs = Object.keys(s.cc);
  w.uint(rs.length);
  for (const r of rs) {
    c.rid(r);
    w.uint(s.cc[r]!);
  }
}

/**
 * Whether some version of `s` names its epoch where its word is written. Read in write order: a delta base naming the
 * sender's untagged epoch turns the rest of the frame plain (epoch-wire.ts `turnsPlain`: both ends imply untagged from
 * there on), after which a tagged version of the sender that was implied must be named — so a version after such a
 * base is judged as the frame will be then (without it the reader took that version untagged).
 */
function anyNamed(s: KeyState, ep: EpochOut, forms?: ReadonlyMap<StoredVersion, Form>): boolean {
  let plain = false;
  for (const v of s.vs) {
    if (namedAt(ep, plain, v.r, v.n, v.ep)) return true;
    const form = v.d ? undefined : forms?.get(v);
    // Only the sender's untagged base turns the frame (another replica's may be named too: in a LIVE frame its dots
    // imply the link's last entry for it, epoch-table.ts).
    if (form?.kind === 'delta') for (const [r, n, e] of form.b) if (ep.own(r) && (e ?? '') === '' && namedAt(ep, plain, r, n, e)) plain = true;
  }
  return false;
}

/** Whether dot (r, n, e) is named, `plain`: past a base that turned the frame (a function, not a closure per call: a relay runs this per session). */
function namedAt(ep: EpochOut, plain: boolean, r: string, n: number, e: string | undefined): boolean {
  return plain && ep.own(r) ? (e ?? '') !== '' : ep.named(r, n, e);
}

/** A version's word, and its epoch reference where it names one (`ep`: protocol 11, and some version of the state is named). */
function writeWord(w: Writer, v: StoredVersion, ep: EpochOut | undefined, form: number): void {
  if (!ep) return w.uint(v.c * 4 + form);
  const named = ep.named(v.r, v.n, v.ep);
  w.uint((v.c * 2 + (named ? 1 : 0)) * 4 + form);
  if (named) ep.ref(w, v.r, v.ep);
}

/**
 * The answer of `ccIsDots` per state naming epochs, worked out once: it depends on the state alone (states are not
 * changed once made), and a relay writes the same state object to every session it fans a write out to.
 */
const taggedIsDots = new WeakMap<KeyState, boolean>();

/**
 * Whether a state's context is its versions' own dots (then it is not written): per replica the highest counter of
 * its versions, and where a version names an epoch, exactly the points (epoch, highest counter) of its versions
 * (`dotsContext`). Registry-free, so a context with a point no version names, or one a version's epoch would make
 * redundant, is written out.
 */
export function ccIsDots(s: KeyState): boolean {
  if (namesEpochs(s)) {
    let is = taggedIsDots.get(s);
    if (is === undefined) {
      const implied = dotsContext(s.vs);
      is = sameVector(implied.cc, s.cc) && samePoints(implied.pts, s.pts);
      taggedIsDots.set(s, is);
    }
    return is;
  }
  let n = 0;
  for (const r in s.cc) {
    n++;
    let top = 0;
    for (const v of s.vs) if (v.r === r && v.n > top) top = v.n;
    if (top !== s.cc[r]) return false;
  }
  // The distinct writers of the versions (a few at most): counted in place, as this runs per state per link sent to.
  let writers = 0;
  for (let i = 0; i < s.vs.length; i++) {
    const r = s.vs[i]!.r;
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = s.vs[j]!.r === r;
    if (!seen) writers++;
  }
  return n === writers;
}

/** Per replica the highest counter of `vs`'s versions: the vector of the context they imply. */
function dotsVector(vs: readonly StoredVersion[]): Record<string, number> {
  const cc: Record<string, number> = {};
  for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
  return cc;
}

/**
 * The context a state's versions imply (what a state without an explicit context has): per replica the highest
 * counter of its versions; for a replica with a version naming an epoch, the points (epoch, highest counter) of its
 * versions, sorted by (epoch, counter).
 */
export function dotsContext(vs: readonly StoredVersion[]): Causal {
  const cc = dotsVector(vs);
  // One version (a write's state, what a client mostly receives): its own point, without the maps below.
  const one = vs.length === 1 ? vs[0]! : undefined;
  if (one) return one.ep === undefined ? { cc } : { cc, pts: { [one.r]: [{ e: one.ep, n: one.n }] } };
  let tagged: Map<string, Map<string, number>> | undefined;
  for (const v of vs) if (v.ep !== undefined) (tagged ??= new Map()).set(v.r, new Map());
  if (tagged === undefined) return { cc };
  for (const v of vs) {
    const tops = tagged.get(v.r);
    const e = v.ep ?? '';
    if (tops !== undefined) tops.set(e, Math.max(tops.get(e) ?? 0, v.n));
  }
  const pts: Record<string, readonly Point[]> = {};
  for (const r of [...tagged.keys()].sort()) {
    pts[r] = [...tagged.get(r)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([e, n]) => ({ e, n }));
  }
  return { cc, pts };
}

/** Canonical order of a state's versions: replica, counter, then epoch (untagged first), as dvv.ts keeps them. */
export function byDot(a: { readonly r: string; readonly n: number; readonly ep?: string }, b: { readonly r: string; readonly n: number; readonly ep?: string }): number {
  if (a.r !== b.r) return a.r < b.r ? -1 : 1;
  if (a.n !== b.n) return a.n - b.n;
  const ea = a.ep ?? '';
  const eb = b.ep ?? '';
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

/** Sorts decoded versions canonically (in place) and refuses a state naming one dot (r, e, n) twice. */
export function sortDots<V extends StoredVersion>(vs: V[]): V[] {
  vs.sort(byDot);
  for (let i = 1; i < vs.length; i++) if (sameDot(vs[i]!, vs[i - 1]!)) throw new ProtocolError('duplicate dot in a state');
  return vs;
}

function counter(r: Reader): number {
  const n = r.uint();
  if (n < 1 || n > MAX_COUNTER) throw new ProtocolError('invalid version');
  return n;
}

const zigzag = (n: number) => (n < 0 ? -2 * n - 1 : 2 * n);
const unzigzag = (z: number) => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

export function readState(r: Reader, c: StateDecoder, maxValue: number): KeyState {
  const ep = c.ep;
  const word = r.uint();
  const any = ep !== undefined && word % 2 === 1;
  const head = ep ? Math.floor(word / 2) : word;
  const nv = Math.floor(head / 2);
  const explicitCc = head % 2 === 1;
  if (nv * 4 > r.remaining) throw new ProtocolError('count exceeds frame');
  const vs: WireVersion[] = [];
  let tagged = false;
  for (let i = 0; i < nv; i++) {
    const rid = c.rid();
    const n = counter(r);
    const t = c.time();
    const w = r.uint();
    if (t < 0 || t > 2 ** 48 || (any ? Math.floor(w / 8) > 0xffff : ep ? Math.floor(w / 4) > 0xffff : w >> 2 > 0xffff)) throw new ProtocolError('invalid version');
    const cl = any ? Math.floor(w / 8) : Math.floor(w / 4);
    const form = w % 4;
    const e = ep ? ep.epoch(r, rid, n, any && Math.floor(w / 4) % 2 === 1) : '';
    if (e !== '') tagged = true;
    const at = vs.length;
    if (form === FORM_TOMBSTONE) vs.push({ r: rid, n, t, c: cl, d: 1 });
    else if (form === FORM_HELD) vs.push({ r: rid, n, t, c: cl, e: 1 });
    else if (form === FORM_DELTA) vs.push({ r: rid, n, t, c: cl, x: readDelta(r, c, rid, n, e, maxValue) });
    else {
      const plain = r.valueIsPlain();
      const v = r.value();
      if (v.length > maxValue) {
        vs.push({ r: rid, n, t, c: cl, o: 1 });
        if (e !== '') (vs[at] as { ep?: string }).ep = e;
        continue;
      }
      // Plain values arrive as a checked tree and are re-encoded as JSON; rich and byte values are validated
      // before anything is stored (a malformed one closes the connection; nothing of the frame is stored).
      if (!plain) {
        const bad = invalidEncoding(v, maxValue);
        if (bad) throw new ProtocolError(`malformed value: ${bad}`);
      }
      const version: WireVersion = { r: rid, n, t, c: cl, v };
      if (plain) noteDecoded(version, r.plain);
      vs.push(version);
    }
    if (e !== '') (vs[at] as { ep?: string }).ep = e;
  }
  sortDots(vs);
  // Where no version names an epoch the implied context is the vector of dotsContext, built without its wrapper
  // (this runs for every key state received).
  if (!explicitCc) {
    if (!tagged) return { vs, cc: dotsVector(vs) };
    const implied = dotsContext(vs);
    return implied.pts ? { vs, cc: implied.cc, pts: implied.pts } : { vs, cc: implied.cc };
  }
  return readExplicit(r, c, vs);
}

/**
 * A delta version's bases and delta, after its head (readState). Apart from readState, which every key state received
 * goes through: that stays small enough for V8 to optimize early (the time to optimize grows with a function's
 * bytecode; readState was 2.6 kB with this and readExplicit inline).
 */
function readDelta(r: Reader, c: StateDecoder, rid: string, n: number, e: string, maxValue: number): { b: Dot[]; d: Uint8Array; s: 0 } {
  const ep = c.ep;
  const m = r.uint();
  const nb = m % 2 === 0 ? 1 : (m - 1) / 2;
  if (nb < 1 || nb > MAX_BASES || nb * 2 > r.remaining) throw new ProtocolError('invalid delta bases');
  const b: Dot[] = [];
  for (let j = 0; j < nb; j++) {
    const br = m % 2 === 0 ? rid : c.rid();
    const bw = m % 2 === 0 ? 0 : ep ? r.uint() : counter(r);
    const bn = m % 2 === 0 ? n - unzigzag(m / 2) : ep ? Math.floor(bw / 2) : bw;
    if (bn < 1 || bn > MAX_COUNTER) throw new ProtocolError('invalid delta bases');
    const be = ep ? ep.epoch(r, br, bn, m % 2 === 1 && bw % 2 === 1) : '';
    const prev = b[j - 1];
    if (prev && byDot({ r: prev[0], n: prev[1], ep: prev[2] }, { r: br, n: bn, ep: be }) >= 0) throw new ProtocolError('delta bases out of order');
    if (br === rid && bn === n && be === e) throw new ProtocolError('a version derived from itself');
    b.push(be === '' ? [br, bn] : [br, bn, be]);
  }
  const d = r.bytes();
  if (d.length === 0 || d.length > maxValue) throw new ProtocolError('invalid delta');
  return { b, d, s: 0 };
}

/** A state's explicit causal context, after its versions `vs` (readState); each version must lie inside it. */
function readExplicit(r: Reader, c: StateDecoder, vs: WireVersion[]): KeyState {
  const ep = c.ep;
  if (ep) {
    const ctx = readCausal(r, () => c.rid(), ep);
    for (const v of vs) if ((ctx.cc[v.r] ?? 0) < v.n) throw new ProtocolError('a version outside its causal context');
    return ctx.pts ? { vs, cc: ctx.cc, pts: ctx.pts } : { vs, cc: ctx.cc };
  }
  const cc: Record<string, number> = {};
  const ncc = r.uint();
  if (ncc * 2 > r.remaining) throw new ProtocolError('count exceeds frame');
  for (let i = 0; i < ncc; i++) {
    const rid = c.rid();
    const n = counter(r);
    if (rid in cc) throw new ProtocolError('invalid causal context');
    cc[rid] = n;
  }
  // cc[r] bounds every point of r from above (dvv.ts KeyState.cc), so this holds for points too.
  for (const v of vs) if ((cc[v.r] ?? 0) < v.n) throw new ProtocolError('a version outside its causal context');
  return { vs, cc };
}

/** Rough encoded size of an entry, for splitting batches under the frame limit (a derived version: its delta). */
export function entrySize(key: string, s: KeyState): number {
  let n = key.length + 4;
  for (const v of s.vs) n += 24 + (v.v !== undefined ? v.v.length : v.x ? v.x.d.length + 16 : 0);
  return n + 8 * Object.keys(s.cc).length;
}

/** Whether a decoded state holds a version that is not whole (held, a delta, or over our bound): resolve.ts must resolve it. */
export function needsResolving(s: KeyState): boolean {
  for (const v of s.vs as readonly WireVersion[]) if (v.e || v.o || (v.x && v.v === undefined && !v.x.base)) return true;
  return false;
}
