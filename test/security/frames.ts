/**
 * fast-check arbitraries for the sync protocol: valid-looking frames of every message type (messages.ts,
 * codec.ts) with hostile fields — huge counts, deep nesting, out-of-range tree levels and indexes, other
 * replicas' ids (the relay's own, a victim's), far-future and out-of-range timestamps, duplicate wants,
 * oversized presence, unknown flags — not random bytes alone.
 *
 * An arbitrary yields a `FrameSpec` (plain data, so fast-check can shrink and print it); `build` turns it
 * into bytes once the session knows the ids the frame should name (the relay's id seeds the string table).
 *
 * Attack classes whose fix belongs to other open items are generated only with `open: true` (FUZZ_OPEN=1):
 * a protocol-1 RESET naming a dot beyond the relay's log (#5; protocol 2 has no RESET), rich `~` values
 * (#8), versions under the relay's or a victim's replicaId (#9).
 */
import fc from 'fast-check';
import { Writer } from '../../lib/sync/codec.js';
import { encodeMessage, MsgType, type AeItem, type Message, type SyncItem } from '../../lib/sync/messages.js';

/** Message type 6: RESET in protocol 1 (a relay re-identified on it before any hello), unknown since. */
const RESET = 6;

export interface Ids {
  /** The fuzzing session's own replicaId. */
  mine: string;
  /** The relay's replicaId. */
  relay: string;
  /** An honest client's replicaId. */
  victim: string;
}

type Who = 'mine' | 'relay' | 'victim' | 'random' | 'bad';

export type FrameSpec =
  | { t: 'msg'; m: unknown; who: Who[] }
  | { t: 'deep'; space: string; depth: number }
  | { t: 'bigcount'; type: number; space: string; count: number }
  | { t: 'bytes'; bytes: number[] };

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const randomIdArb = fc.string({ unit: fc.constantFrom(...ID_ALPHABET.split('')), minLength: 16, maxLength: 16 });

/** Mostly valid values, now and then a hostile one: whole frames stay valid often enough to reach deep logic. */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 7, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

export const SPACES = ['fz', 'fz2', 'live'];
const spaceArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...SPACES) }, { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'a'.repeat(200), 'sp ace', 'x/../y') });
const keyArb = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('k1', 'k2', 'k3', 'doc') }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }, { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'k'.repeat(1100)) });
const seqArb = mostly(fc.nat({ max: 1000 }), fc.constantFrom(2 ** 32, 2 ** 53 - 1));
const timeArb = mostly(fc.integer({ min: Date.now() - 1e9, max: Date.now() + 1000 }), fc.constantFrom(0, 2 ** 48 - 1, 2 ** 48, 2 ** 48 + 1));
const whoArb = (open: boolean): fc.Arbitrary<Who> =>
  mostly(fc.constantFrom<Who>('mine', 'random'), open ? fc.constantFrom<Who>('relay', 'victim', 'bad') : fc.constant<Who>('bad'));

function plainValue(): fc.Arbitrary<unknown> {
  return mostly(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom({ __proto__: null, a: 1 }, 'x'.repeat(5000), [[[[]]]], 1e308, -0));
}

function versionArb(open: boolean) {
  return fc.record({
    who: whoArb(open),
    n: mostly(fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 2 ** 31, 2 ** 53 - 1)),
    t: timeArb,
    c: mostly(fc.nat({ max: 3 }), fc.constantFrom(0xffff, 0x10000)),
    d: fc.boolean(),
    v: open ? mostly(plainValue(), fc.constantFrom('~{"json":1}', '~not json', '~{"__proto__":{}}', '~' + '['.repeat(5000))) : plainValue(),
  });
}

function stateArb(open: boolean) {
  return fc.record({ vs: fc.array(versionArb(open), { maxLength: 4 }), cc: fc.option(fc.array(fc.tuple(whoArb(open), seqArb), { maxLength: 3 }), { nil: undefined }) });
}

const syncItemArb: fc.Arbitrary<SyncItem> = fc.record({
  // Mostly spaces not synced yet on the session (a second item for one is refused).
  space: mostly(fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5', 'n6'), spaceArb),
  cursorEpoch: mostly(fc.oneof(fc.constant(''), randomIdArb), fc.constantFrom('bad epoch!', 'e'.repeat(80))),
  cursorSeq: seqArb,
  top: seqArb,
  keys: seqArb,
});

function dotsArb() {
  const version = fc.record({ who: whoArb(false), n: mostly(fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 2 ** 31, 2 ** 53 - 1)), d: fc.boolean() });
  return fc.record({ vs: fc.array(version, { maxLength: 3 }), cc: fc.option(fc.array(fc.tuple(whoArb(false), seqArb), { maxLength: 3 }), { nil: undefined }) });
}

const levelArb = mostly(fc.nat({ max: 4 }), fc.integer({ min: 5, max: 10 }));
const aeItemArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ kind: fc.constant('node'), level: levelArb, index: mostly(fc.nat({ max: 15 }), fc.constantFrom(65535, 65536, 2 ** 40)), hash: fc.constantFrom('00000000', 'ffffffff', '12345678', '000000', 'ffffff', 'abcdef') }),
  // A key's dots (protocol 4): versions without values, some of other replicas' ids, counters out of range now and then.
  fc.record({ kind: fc.constant('range'), level: levelArb, index: fc.nat({ max: 15 }), keys: fc.array(fc.tuple(keyArb, dotsArb()), { maxLength: 50 }) }),
  // Protocol 7's fast path: claims without a range, key hashes (some out of range), sketches (answering no opening of
  // the relay's, with sums at or past the prime now and then).
  fc.record({ kind: fc.constant('keys'), keys: fc.array(fc.tuple(keyArb, dotsArb()), { maxLength: 50 }) }),
  fc.record({ kind: fc.constant('wanted'), bits: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('hashes'), hashes: fc.array(mostly(fc.nat({ max: 2 ** 30 - 1 }), fc.constantFrom(2 ** 30, 2 ** 40)), { maxLength: 300 }) }),
  fc.record({
    kind: fc.constant('sketch'),
    level: mostly(fc.integer({ min: 1, max: 2 }), fc.constantFrom(0, 3, 9)),
    nodes: fc.uniqueArray(mostly(fc.nat({ max: 15 }), fc.constantFrom(255, 256, 4096)), { maxLength: 20 }).map((a) => a.sort((x, y) => x - y)),
    m: fc.integer({ min: 1, max: 64 }),
    // Protocol 8 packs the sums in 31 bits each.
    packed: fc.boolean(),
    fill: mostly(fc.nat({ max: 0x7ffffffe }), fc.constantFrom(0x7fffffff, 0xffffffff)),
  }).map(({ fill, m, ...it }) => ({ ...it, m, cells: new Uint32Array(3 * m).map((_, i) => (i === 0 ? fill : (fill + i * 7919) % 0x7fffffff)) })),
);

function presenceArb(open: boolean): fc.Arbitrary<string> {
  const entry = fc.record({
    // '@who' placeholders become real ids in `build`; a tab suffix now and then.
    replicaId: mostly(fc.tuple(whoArb(open), fc.constantFrom('', '~t1', '~t2')).map(([w, tab]) => `@${w}${tab}`), fc.string({ maxLength: 20 })),
    meta: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant('m'.repeat(5000))),
    heartbeat: fc.oneof(fc.nat({ max: 10 }), fc.constantFrom(-1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER)),
    left: fc.option(fc.boolean(), { nil: undefined }),
  });
  return fc.oneof(
    fc.record({ e: fc.option(fc.array(entry, { maxLength: 30 }), { nil: undefined }), d: fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.nat()), { nil: undefined }), r: fc.option(fc.constant(1), { nil: undefined }) }).map((p) => JSON.stringify(p)),
    fc.constantFrom('not json', '[]', 'null', '{"e":{"length":1e9}}', '{"e":' + '['.repeat(3000) + ']'.repeat(3000) + '}'),
  );
}

/** A message of any type, as data: replica ids are placeholders (`who`) resolved by `build`. */
export function frameSpec(options: { open?: boolean } = {}): fc.Arbitrary<FrameSpec> {
  const open = options.open === true;
  const w = (weight: number, arbitrary: fc.Arbitrary<unknown>) => ({ weight, arbitrary });
  const msg = fc.oneof(
    w(2, fc.array(syncItemArb, { minLength: 1, maxLength: 5 }).map((spaces) => ({ type: MsgType.Sync, spaces }))),
    w(6, fc.record({ space: spaceArb, upTo: seqArb, entries: fc.array(fc.tuple(keyArb, stateArb(open)), { maxLength: 6 }) }).map((m) => ({ type: MsgType.Changes, ...m }))),
    w(1, fc.record({ space: spaceArb, upTo: mostly(fc.constant(0), seqArb) }).map((m) => ({ type: MsgType.Ack, ...m }))),
    // Protocol 9: how far the sender's log reaches (a lie only keeps the sender's own link syncing).
    w(1, fc.record({ space: spaceArb, top: seqArb }).map((m) => ({ type: MsgType.Top, ...m }))),
    w(6, fc.record({ space: spaceArb, run: seqArb, top: seqArb, items: fc.array(aeItemArb, { maxLength: 6 }), want: fc.array(keyArb, { maxLength: 40 }), final: fc.boolean(), more: mostly(fc.constant(false), fc.constant(true)) }).map((m) => ({ type: MsgType.AntiEntropy, ...m }))),
    ...(open ? [w(1, seqArb.map((highest) => ({ type: RESET, highest })))] : []),
    w(1, fc.record({ space: spaceArb, code: fc.constantFrom('FORBIDDEN', 'X'), reason: fc.string({ maxLength: 30 }) }).map((m) => ({ type: MsgType.Denied, ...m }))),
    w(1, fc.record({ space: spaceArb, rights: fc.constantFrom('read', 'write') }).map((m) => ({ type: MsgType.Grant, ...m }))),
    w(4, fc.record({ space: spaceArb, json: presenceArb(open) }).map((m) => ({ type: MsgType.Presence, ...m }))),
    w(1, fc.string({ maxLength: 200 }).map((json) => ({ type: MsgType.Cluster, json }))),
    w(1, fc.record({ versions: fc.array(fc.nat({ max: 3 }), { maxLength: 3 }), token: fc.string({ maxLength: 10 }), spaces: fc.array(syncItemArb, { maxLength: 3 }) }).map((m) => ({ type: MsgType.Hello, ...m, second: true }))),
  );
  return fc.oneof(
    { weight: 40, arbitrary: fc.record({ t: fc.constant('msg' as const), m: msg, who: fc.array(whoArb(open), { minLength: 4, maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('deep' as const), space: spaceArb, depth: fc.constantFrom(129, 1000, 100_000) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('bigcount' as const), type: fc.constantFrom(MsgType.Sync, MsgType.Changes, MsgType.AntiEntropy, MsgType.Hello), space: spaceArb, count: fc.constantFrom(2 ** 20, 2 ** 31, 2 ** 53 - 1) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('bytes' as const), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 64 }) }) },
  );
}

function idOf(who: Who, ids: Ids, fresh: string): string {
  switch (who) {
    case 'mine':
      return ids.mine;
    case 'relay':
      return ids.relay;
    case 'victim':
      return ids.victim;
    case 'random':
      return fresh;
    case 'bad':
      return '__proto__';
  }
}

type V = { who: Who; n: number; t: number; c: number; d: boolean; v: unknown };

/** The frame's bytes, for a session whose string table is seeded with [mine, relay]. */
export function build(spec: FrameSpec, ids: Ids): Uint8Array {
  const fresh = 'F' + ids.mine.slice(1);
  const table = [ids.mine, ids.relay];
  if (spec.t === 'bytes') return Uint8Array.from(spec.bytes);
  if (spec.t === 'deep') {
    // A CHANGES frame whose one value is an array nested `depth` deep (the codec stops at 128).
    const w = new Writer(table);
    w.u8(MsgType.Changes);
    w.str(spec.space);
    w.uint(0);
    w.uint(Date.now());
    w.uint(1);
    w.str('deep');
    w.uint(1);
    w.sym(ids.mine);
    w.uint(1);
    w.int(0);
    w.uint(0);
    for (let i = 0; i < spec.depth; i++) {
      w.u8(6);
      w.uint(1);
    }
    w.u8(0);
    w.uint(0);
    return w.finish();
  }
  if (spec.t === 'bigcount') {
    // A count field claiming far more items than the frame holds.
    const w = new Writer(table);
    w.u8(spec.type);
    if (spec.type === MsgType.Changes || spec.type === MsgType.AntiEntropy) {
      w.str(spec.space);
      w.uint(1);
      w.uint(1);
      if (spec.type === MsgType.AntiEntropy) w.u8(0);
    }
    w.uint(spec.count);
    w.u8(0);
    return w.finish();
  }
  const m = spec.m as Record<string, unknown> & { type: MsgType };
  const who = spec.who;
  if (m.type === MsgType.Changes) {
    const entries = (m.entries as Array<[string, { vs: V[]; cc?: Array<[Who, number]> }]>).map(([k, s]) => {
      const vs = s.vs.map((v) => {
        const r = idOf(v.who, ids, fresh);
        return v.d ? { r, n: v.n, t: v.t, c: v.c, d: 1 as const } : { r, n: v.n, t: v.t, c: v.c, v: typeof v.v === 'string' && v.v.startsWith('~') ? v.v : JSON.stringify(v.v ?? null) };
      });
      const cc: Record<string, number> = {};
      if (s.cc) for (const [w, n] of s.cc) cc[idOf(w, ids, fresh)] = n;
      else for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
      return [k, { vs, cc }] as const;
    });
    return tryEncode({ type: MsgType.Changes, space: m.space as string, upTo: m.upTo as number, entries }, table);
  }
  if (m.type === MsgType.AntiEntropy) {
    type Dots = { vs: Array<{ who: Who; n: number; d: boolean }>; cc?: Array<[Who, number]> };
    const items = (m.items as Array<{ kind: 'node' | 'sketch' | 'hashes' | 'wanted' } | { kind: 'range' | 'keys'; keys: Array<[string, Dots]> }>).map((it) => {
      if (it.kind !== 'range' && it.kind !== 'keys') return it as AeItem;
      const keys = it.keys.map(([k, s]) => {
        const vs = s.vs.map((v) => ({ r: idOf(v.who, ids, fresh), n: v.n, t: 0, c: 0, ...(v.d ? { d: 1 as const } : {}) }));
        const cc: Record<string, number> = {};
        if (s.cc) for (const [w, n] of s.cc) cc[idOf(w, ids, fresh)] = n;
        else for (const v of vs) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
        return [k, { vs, cc }] as const;
      });
      return { ...it, keys } as AeItem;
    });
    return tryEncode({ ...(m as unknown as Message), items } as Message, table);
  }
  if (m.type === MsgType.Hello) {
    const epoch = 'E' + ids.mine.slice(1);
    return tryEncode({ type: MsgType.Hello, versions: m.versions as number[], replicaId: idOf(who[0]!, ids, fresh), epoch, top: 0, token: m.token as string, expect: '', history: [[epoch, 0]], spaces: m.spaces as SyncItem[] }, undefined);
  }
  if ((m.type as number) === RESET) {
    const w = new Writer();
    w.u8(RESET);
    w.uint(m.highest as number);
    return w.finish();
  }
  if (m.type === MsgType.Presence) {
    const json = (m.json as string).replace(/"@(mine|relay|victim|random|bad)/g, (_, w: Who) => `"${idOf(w, ids, fresh)}`);
    return tryEncode({ ...(m as unknown as Message), json } as Message, table);
  }
  return tryEncode(m as unknown as Message, table);
}

/** Encodes, or — when the encoder refuses a hostile field (a NaN, a huge key) — sends its raw attempt as text. */
function tryEncode(m: Message, table: readonly string[] | undefined): Uint8Array {
  try {
    return encodeMessage(m, table);
  } catch {
    return new TextEncoder().encode(JSON.stringify(m).slice(0, 4096));
  }
}
