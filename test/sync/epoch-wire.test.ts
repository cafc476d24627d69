/**
 * Protocol 11 (lib/sync/epoch-wire.ts): dots, delta bases, context points and anti-entropy claims that name their
 * epoch. Every frame kind that carries versions or dots (CHANGES, PART, LIVE, AE range and key claims, and the
 * shared CHANGES frame) decodes to the state it was made of, tagged or not, with the sender's chain of any shape; the
 * receiver learns the chain records of the epochs a frame names, and only from a frame that decoded whole. Hostile
 * bytes (a bad reference, a huge table, a chain with a loop) are refused with a ProtocolError, never decoded into a
 * state. Before 11 a state naming an epoch is refused, and an untagged one is written as it always was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byDot, dotsContext, type Form } from '../../lib/sync/wire-state.js';
import type { Dot, KeyState, StoredVersion } from '../../lib/dvv.js';
import { Epochs, type Point } from '../../lib/epoch-points.js';
import type { EpochEntry } from '../../lib/epochs.js';
import { ProtocolError, Writer } from '../../lib/sync/codec.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { chainEpoch, frameChain, EpochOut, MAX_FRAME_EPOCHS, ToldChains, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, encodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import { encodeChangesOnce } from '../../lib/sync/shared-frames.js';
import { explicitContext } from './epoch-states.js';

const ME = 'sender-id-aaaaaaaaaaaa';
const PEER = 'receiver-id-bbbbbbbbbb';
const OTHER = 'third-id-cccccccccccccc';
const IDS = [ME, PEER, OTHER];
const LABELS = ['E1', 'E2', 'E3', 'E4'];
const TABLE = [ME, PEER];

// ---- generators ---------------------------------------------------------------------------------------------

/** A registry of the sender's: per replica, each label under another (or the untagged epoch), a root, or unknown. */
const regArb = fc.array(fc.tuple(fc.constantFrom(...IDS), fc.constantFrom(...LABELS), fc.constantFrom('', 'root', ...LABELS), fc.nat(60)), { maxLength: 10 });

function registry(recs: ReadonlyArray<readonly [string, string, string, number]>): Epochs {
  const reg = new Epochs();
  for (const [r, e, p, fork] of recs) reg.add(r, e, p === 'root' ? undefined : p, fork);
  return reg;
}

/** The sender's tagged chain: oldest first, fork points going up. */
const chainArb = fc
  .uniqueArray(fc.constantFrom(...LABELS), { maxLength: 3 })
  .chain((ls) => fc.tuple(fc.constant(ls), fc.array(fc.nat(40), { minLength: ls.length, maxLength: ls.length })))
  .map(([ls, fs]): EpochEntry[] => {
    const sorted = [...fs].sort((a, b) => a - b);
    return ls.map((l, i) => [l, sorted[i]!] as const);
  });

const dotArb = fc.record({ r: fc.constantFrom(...IDS), e: fc.constantFrom('', '', ...LABELS), n: fc.integer({ min: 1, max: 60 }) });

type Kind = 'whole' | 'tomb' | 'held' | 'delta';
const versionArb = fc.record({
  dot: dotArb,
  t: fc.integer({ min: 1_000, max: 1_100 }),
  c: fc.constantFrom(0, 1, 15, 16, 31, 40),
  kind: fc.constantFrom<Kind>('whole', 'tomb', 'held', 'delta'),
  value: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
  bases: fc.array(dotArb, { minLength: 1, maxLength: 3 }),
  own: fc.boolean(),
});

const stateArb = fc
  .record({
    versions: fc.array(versionArb, { maxLength: 6 }),
    explicit: fc.boolean(),
    extra: fc.array(fc.tuple(dotArb, fc.nat(5)), { maxLength: 3 }),
  })
  .map(({ versions, explicit, extra }) => {
    const vs: StoredVersion[] = [];
    const forms = new Map<StoredVersion, Form>();
    const seen = new Set<string>();
    for (const x of versions) {
      const k = `${x.dot.r}/${x.dot.e}/${x.dot.n}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const v: StoredVersion = {
        r: x.dot.r,
        n: x.dot.n,
        t: x.t,
        c: x.c,
        ...(x.dot.e ? { ep: x.dot.e } : {}),
        ...(x.kind === 'tomb' ? { d: 1 as const } : { v: JSON.stringify(x.value) }),
      };
      vs.push(v);
      if (x.kind === 'held') forms.set(v, { kind: 'held' });
      if (x.kind === 'delta') {
        // Bases in canonical order, none the version's own dot; one of its own replica below it where `own`.
        const bs = new Map<string, Dot>();
        const cand = x.own && v.n > 1 ? [{ r: v.r, e: x.dot.e, n: v.n - 1 }] : x.bases;
        for (const b of cand) if (!(b.r === v.r && b.n === v.n && b.e === x.dot.e)) bs.set(`${b.r}/${b.e}/${b.n}`, b.e ? [b.r, b.n, b.e] : [b.r, b.n]);
        const b = [...bs.values()].sort((p, q) => byDot({ r: p[0], n: p[1], ep: p[2] }, { r: q[0], n: q[1], ep: q[2] }));
        if (b.length > 0) forms.set(v, { kind: 'delta', b, d: new Uint8Array([1, 2, x.c]) });
      }
    }
    vs.sort(byDot);
    let state: KeyState = { vs, ...dotsContext(vs) };
    // Points per replica and epoch at or above its versions', and a few more.
    if (explicit) state = { vs, ...explicitContext([...vs.map((v) => [v.r, v.ep ?? '', v.n] as const), ...extra.map(([d, up]) => [d.r, d.e, d.n + up] as const)]) };
    return { state, forms };
  });

// ---- what a decoded state must equal ----------------------------------------------------------------------------

function normalState(s: KeyState, forms?: ReadonlyMap<StoredVersion, Form>) {
  const vs = s.vs.map((v) => {
    const form = forms?.get(v);
    const held = form?.kind === 'held' || (v as { e?: 1 }).e === 1;
    const delta = form?.kind === 'delta' ? { b: form.b, d: [...form.d] } : v.x ? { b: v.x.b, d: [...v.x.d] } : undefined;
    return { r: v.r, n: v.n, ep: v.ep ?? '', t: v.t, c: v.c, d: v.d ?? 0, ...(held ? { held } : delta ? { delta } : v.d ? {} : { v: v.v }) };
  });
  return { vs, ...normalCausal(s) };
}

function normalClaim(s: KeyState) {
  return { vs: s.vs.map((v) => ({ r: v.r, n: v.n, ep: v.ep ?? '', d: v.d ?? 0 })), ...normalCausal(s) };
}

function normalCausal(s: KeyState) {
  const cc = Object.entries(s.cc).sort(([a], [b]) => (a < b ? -1 : 1));
  const pts = Object.entries(s.pts ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return { cc, pts };
}

/** Both ends of a link that has carried no frame yet (each end its own view of the sides: either may turn plain). */
function links(chain: readonly EpochEntry[], reg: Epochs, learned: Epochs): { send: EpochLink; receive: EpochLink } {
  const side = (id: string, c: readonly EpochEntry[]) => ({ id, chain: c });
  return {
    send: { me: side(ME, chain), peer: side(PEER, []), reg: () => reg, learn: () => expect.fail('the sender learns nothing') },
    receive: { me: side(PEER, []), peer: side(ME, chain), reg: () => learned, learn: (r, records) => learned.learnChain(r, records) },
  };
}

/** The (replica, epoch) pairs a frame of these states must name (not implied by the sender's chain). */
function named(states: readonly KeyState[], ep: EpochOut): Array<readonly [string, string]> {
  const out = new Map<string, readonly [string, string]>();
  const note = (r: string, e: string | undefined, n: number) => {
    if (e && ep.named(r, n, e)) out.set(`${r}/${e}`, [r, e]);
  };
  for (const s of states) {
    for (const v of s.vs) note(v.r, v.ep, v.n);
    for (const [r, points] of Object.entries(s.pts ?? {})) for (const p of points) note(r, p.e, p.n);
  }
  return [...out.values()];
}

/** The receiver knows of each named epoch what the sender's registry told (the oldest record's fork aside). */
function expectLearned(pairs: ReadonlyArray<readonly [string, string]>, sent: Epochs, learned: Epochs): void {
  const norm = (c: { records: EpochEntry[]; whole: boolean }) => ({ whole: c.whole, records: c.records.map(([l, f], i) => [l, i === 0 && !c.whole ? 0 : f]) });
  for (const [r, e] of pairs) expect(norm(frameChain(learned, r, e)), `${r} ${e}`).toEqual(norm(frameChain(sent, r, e)));
}

const decode = (frame: Uint8Array, link: EpochLink, conn?: ConnTableIn): Message =>
  decodeMessage(frame, { maxValueBytes: 1 << 20, table: TABLE, epochs: link, ...(conn ? { conn } : {}) });

// ---- properties -------------------------------------------------------------------------------------------------

describe('protocol 11: every frame kind carrying versions or dots decodes to the state it was made of', () => {
  it('CHANGES, PART, shared CHANGES and LIVE frames, tagged or untagged states, any chain of the sender', () => {
    fc.assert(
      fc.property(fc.array(stateArb, { minLength: 1, maxLength: 4 }), chainArb, regArb, (made, chain, recs) => {
        const reg = registry(recs);
        const forms = new Map<StoredVersion, Form>();
        for (const { forms: f } of made) for (const [v, x] of f) forms.set(v, x);
        const entries = made.map(({ state }, i) => [`k${i}`, state] as const);
        const states = made.map(({ state }) => state);
        const want = entries.map(([k, s]) => [k, normalState(s, forms)]);

        const learned = new Epochs();
        const { send, receive } = links(chain, reg, learned);
        const changes = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries }, TABLE, { forms, epochs: send });
        const got = decode(changes, receive);
        expect(got.type).toBe(MsgType.Changes);
        expect((got as { entries: ReadonlyArray<readonly [string, KeyState]> }).entries.map(([k, s]) => [k, normalState(s)])).toEqual(want);
        expectLearned(named(states, new EpochOut(links(chain, reg, learned).send.me, reg)), reg, learned);

        // The shared form (all whole) is the same codec. Each frame below is the first of its link.
        const whole = encodeChangesOnce({ type: MsgType.Changes, space: 's', upTo: 7, entries }, TABLE, undefined, links(chain, reg, learned).send);
        const gotWhole = decode(whole, links(chain, reg, new Epochs()).receive) as { entries: ReadonlyArray<readonly [string, KeyState]> };
        expect(gotWhole.entries.map(([k, s]) => [k, normalState(s)])).toEqual(entries.map(([k, s]) => [k, normalState(s)]));

        const [k0, s0] = entries[0]!;
        if (s0.vs.length > 0) {
          const part = encodeMessage({ type: MsgType.Part, space: 's', upTo: 0, entries: [[k0, s0]] }, TABLE, { forms, epochs: links(chain, reg, learned).send });
          const gotPart = decode(part, links(chain, reg, new Epochs()).receive) as { entries: ReadonlyArray<readonly [string, KeyState]> };
          expect(normalState(gotPart.entries[0]![1])).toEqual(want[0]![1]);
        }

        // LIVE: through the connection's tables, twice on one link (the second frame refers to strings the first added,
        // and implies as the first left the sides).
        const out = new ConnTableOut(TABLE);
        const inn = new ConnTableIn(TABLE);
        const link = links(chain, reg, new Epochs());
        for (const upTo of [3, 4]) {
          const live = encodeMessage({ type: MsgType.Changes, space: 's', upTo, entries: [[k0, s0]] }, TABLE, { forms, epochs: link.send, live: out });
          out.commit();
          const gotLive = decode(live, link.receive, inn) as { entries: ReadonlyArray<readonly [string, KeyState]> };
          expect(normalState(gotLive.entries[0]![1])).toEqual(want[0]![1]);
        }
      }),
    );
  });

  it('a delta base naming the sender untagged turns the frame plain before a later version of its own (fast-check seed 537705468)', () => {
    // The sender's chain E2 then E3, both forking at 1: its dot 2 implies E3. Version 1 is untagged (implied: not
    // named), a delta on base (sender, 2) untagged — named, and the frame turns plain there —, then version 2 in E3,
    // implied before the base but named after it. The state's head said no version is named (judged before the base),
    // so the reader took version 2 untagged.
    const v1: StoredVersion = { r: ME, n: 1, t: 1000, c: 0, v: '""' };
    const v2: StoredVersion = { r: ME, n: 2, t: 1000, c: 0, ep: 'E3', v: '""' };
    const state: KeyState = { vs: [v1, v2], cc: { [ME]: 2 }, pts: { [ME]: [{ e: '', n: 1 }, { e: 'E3', n: 2 }] } };
    const forms = new Map<StoredVersion, Form>([[v1, { kind: 'delta', b: [[ME, 2]], d: Uint8Array.from([1, 2, 0]) }]]);
    const chain: EpochEntry[] = [['E2', 1], ['E3', 1]];
    const reg = registry([]);
    const { send, receive } = links(chain, reg, new Epochs());
    const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries: [['k0', state]] }, TABLE, { forms, epochs: send });
    const got = decode(frame, receive) as { entries: ReadonlyArray<readonly [string, KeyState]> };
    expect(normalState(got.entries[0]![1])).toEqual(normalState(state, forms));
  });

  it('anti-entropy range and key claims', () => {
    fc.assert(
      fc.property(fc.array(stateArb, { minLength: 1, maxLength: 4 }), chainArb, regArb, (made, chain, recs) => {
        const reg = registry(recs);
        const keys = made.map(({ state }, i) => [`k${i}`, state] as const);
        const learned = new Epochs();
        const { send, receive } = links(chain, reg, learned);
        const frame = encodeMessage(
          { type: MsgType.AntiEntropy, space: 's', run: 1, top: 2, final: false, want: [], items: [{ kind: 'range', level: 1, index: 3, keys }, { kind: 'keys', keys }] },
          TABLE,
          { epochs: send },
        );
        const got = decode(frame, receive) as unknown as { items: Array<{ keys: Array<[string, KeyState]> }> };
        const want = keys.map(([k, s]) => [k, normalClaim(s)]);
        expect(got.items.map((it) => it.keys.map(([k, s]) => [k, normalClaim(s)]))).toEqual([want, want]);
        expectLearned(named(keys.map(([, s]) => s), new EpochOut(links(chain, reg, learned).send.me, reg)), reg, learned);
      }),
    );
  });

  it('an untagged state whose dots are implied costs at 11 what it cost at 10, version words crossing a byte included', () => {
    fc.assert(
      fc.property(fc.array(stateArb, { minLength: 1, maxLength: 4 }), (made) => {
        const entries = made.map(({ state }, i) => [`k${i}`, untag(state)] as const);
        const m = { type: MsgType.Changes, space: 's', upTo: 7, entries } as const;
        const at10 = encodeMessage(m, TABLE).byteLength;
        const at11 = encodeMessage(m, TABLE, { epochs: links([], new Epochs(), new Epochs()).send }).byteLength;
        // A state naming no epoch says so in its head (a bit that takes a byte only from 32 versions on): its versions'
        // words carry no flag, so a logical counter from 16 to 31 takes one byte as at 10 (it took two before).
        expect(at11).toBe(at10);
        const ae = (ep?: EpochLink) => encodeMessage({ type: MsgType.AntiEntropy, space: 's', run: 1, top: 2, final: false, want: [], items: [{ kind: 'keys', keys: entries }] }, TABLE, { epochs: ep }).byteLength;
        expect(ae(links([], new Epochs(), new Epochs()).send)).toBe(ae());
      }),
    );
  });
});

function untag(s: KeyState): KeyState {
  const vs = s.vs.map(({ ep: _e, ...v }) => v).sort(byDot);
  const uniq = vs.filter((v, i) => i === 0 || byDot(vs[i - 1]!, v) !== 0);
  const cc: Record<string, number> = {};
  for (const r of Object.keys(s.cc)) cc[r] = s.cc[r]!;
  for (const v of uniq) cc[v.r] = Math.max(cc[v.r] ?? 0, v.n);
  return { vs: uniq, cc };
}

// ---- before 11 ------------------------------------------------------------------------------------------------

describe('a peer speaking 10 or less', () => {
  it('is sent no state naming an epoch: the encoder refuses it with a clear error', () => {
    const tagged: KeyState = { vs: [{ r: ME, n: 3, t: 1, c: 0, ep: 'E1', v: '1' }], cc: { [ME]: 3 }, pts: { [ME]: [{ e: 'E1', n: 3 }] } };
    expect(() => encodeMessage({ type: MsgType.Changes, space: 's', upTo: 1, entries: [['k', tagged]] }, TABLE)).toThrow(/cannot be sent to a peer speaking protocol 10 or less/);
    expect(() =>
      encodeMessage({ type: MsgType.AntiEntropy, space: 's', run: 1, top: 0, final: false, want: [], items: [{ kind: 'keys', keys: [['k', tagged]] }] }, TABLE),
    ).toThrow(/cannot be sent to a peer speaking protocol 10 or less/);
  });
});

// ---- hostile bytes ----------------------------------------------------------------------------------------------

/** A CHANGES frame of one key whose versions are written by `body` (one version: rid, counter, time, word, ...). */
function frame(body: (w: Writer) => void): Uint8Array {
  const w = new Writer(TABLE);
  w.u8(MsgType.Changes);
  w.str('s');
  w.uint(0);
  w.uint(0);
  w.uint(1);
  w.str('k');
  body(w);
  return w.finish();
}

/** A state's head at 11 with `nv` versions, the context implied, some version naming its epoch ((2 × nv + 0) × 2 + 1). */
const namedHead = (nv: number) => nv * 4 + 1;

/** A tombstone version of `r` at `n` naming an epoch (word (0 × 2 + 1) × 4 + 1); the caller writes the reference. */
function namedTomb(w: Writer, r: string, n: number): void {
  w.sym(r);
  w.uint(n);
  w.int(0);
  w.uint(5);
}

describe('protocol 11: hostile epoch references and chains are refused, never decoded into a state', () => {
  const receive = () => {
    const learned = new Epochs();
    return { learned, link: links([], new Epochs(), learned).receive };
  };

  it('a reference to an entry the frame has not made, or to another replica’s entry', () => {
    const { learned, link } = receive();
    const bad = frame((w) => {
      w.uint(namedHead(1)); // one version, implied context
      namedTomb(w, OTHER, 4);
      w.uint(3); // no third entry
    });
    expect(() => decode(bad, link)).toThrow(/unknown epoch reference/);
    const other = frame((w) => {
      w.uint(namedHead(2));
      namedTomb(w, OTHER, 4);
      w.uint(0);
      w.uint(3); // one record, whole
      w.str('E1');
      w.uint(namedHead(1));
      namedTomb(w, ME, 5);
      w.uint(1); // OTHER's E1
    });
    expect(() => decode(other, link)).toThrow(/another replica's epoch/);
    // Neither frame decoded whole: nothing learned, though the second told E1's chain.
    expect(learned.knows(OTHER, 'E1')).toBe(false);
  });

  it('a table past its bound, a chain claiming more records than allowed or than the frame holds', () => {
    const { link } = receive();
    const n = MAX_FRAME_EPOCHS + 1;
    const huge = frame((w) => {
      w.uint(namedHead(n));
      for (let i = 0; i < n; i++) {
        namedTomb(w, OTHER, i + 1);
        w.uint(0);
        w.uint(3);
        w.str(`L${i}`);
        w.uint(0);
      }
    });
    expect(() => decode(huge, link)).toThrow(/epoch table over its bound/);
    const long = frame((w) => {
      w.uint(namedHead(1));
      namedTomb(w, OTHER, 4);
      w.uint(0);
      w.uint(1_000_001);
    });
    expect(() => decode(long, link)).toThrow(/too long/);
    const short = frame((w) => {
      w.uint(namedHead(1));
      namedTomb(w, OTHER, 4);
      w.uint(0);
      w.uint(40 * 2 + 1);
      w.str('E1');
      w.uint(1);
    });
    expect(() => decode(short, link)).toThrow(ProtocolError);
  });

  it('a chain with a loop, fork points going down, a bad label; a frame with trailing bytes teaches nothing', () => {
    const { learned, link } = receive();
    const chain = (records: Array<[string, number]>, whole = 1, trailing = false) =>
      frame((w) => {
        w.uint(namedHead(1));
        namedTomb(w, OTHER, 50);
        w.uint(0);
        w.uint(records.length * 2 + whole);
        for (const [l, f] of records) {
          w.str(l);
          w.uint(f);
        }
        if (trailing) w.u8(0);
      });
    expect(() => decode(chain([['E1', 1], ['E2', 2], ['E1', 3]]), link)).toThrow(/loop/);
    expect(() => decode(chain([['E1', 5], ['E2', 2]]), link)).toThrow(/out of order/);
    expect(() => decode(chain([['E 1', 5]]), link)).toThrow(/invalid epoch label/);
    expect(() => decode(chain([['E1', 1], ['E2', 2]], 1, true), link)).toThrow(/trailing bytes/);
    expect(learned.knows(OTHER, 'E1') || learned.knows(OTHER, 'E2')).toBe(false);
    const ok = decode(chain([['E1', 1], ['E2', 2]]), link) as { entries: ReadonlyArray<readonly [string, KeyState]> };
    expect(ok.entries[0]![1].vs[0]).toMatchObject({ r: OTHER, n: 50, ep: 'E2', d: 1 });
    expect(learned.parentOf(OTHER, 'E2')).toEqual({ parent: 'E1', fork: 2 });
    expect(learned.parentOf(OTHER, 'E1')).toEqual({ parent: '', fork: 1 });
  });

  it('mutated frames of tagged states decode to a well-formed state or throw a ProtocolError', () => {
    fc.assert(
      fc.property(fc.array(stateArb, { minLength: 1, maxLength: 3 }), chainArb, regArb, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (made, chain, recs, flips) => {
        const reg = registry(recs);
        const entries = made.map(({ state }, i) => [`k${i}`, state] as const);
        const { send } = links(chain, reg, new Epochs());
        const bytes = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 1, entries }, TABLE, { epochs: send });
        for (const [at, b] of flips) bytes[1 + (at % (bytes.length - 1))] = b;
        let got: Message;
        try {
          got = decode(bytes, links(chain, reg, new Epochs()).receive);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          return;
        }
        for (const [, s] of (got as { entries: ReadonlyArray<readonly [string, KeyState]> }).entries) {
          for (let i = 1; i < s.vs.length; i++) expect(byDot(s.vs[i - 1]!, s.vs[i]!)).toBeLessThan(0);
          for (const v of s.vs) expect(s.cc[v.r] ?? 0).toBeGreaterThanOrEqual(v.n);
          for (const [r, points] of Object.entries(s.pts ?? {})) expect(s.cc[r]).toBe(Math.max(...points.map((p) => p.n)));
        }
      }),
    );
  });
});

describe('protocol 11: what a dot implies', () => {
  it("the sender's own dot takes the epoch of its chain whose range holds it; every other dot is untagged", () => {
    const chain: EpochEntry[] = [
      ['E1', 10],
      ['E2', 20],
    ];
    expect([1, 10, 11, 20, 21, 99].map((n) => chainEpoch(chain, n))).toEqual(['', '', 'E1', 'E1', 'E2', 'E2']);
    const ep = new EpochOut({ id: ME, chain }, new Epochs());
    expect(ep.named(ME, 21, 'E2')).toBe(false);
    expect(ep.named(ME, 21, undefined)).toBe(true);
    expect(ep.named(OTHER, 21, 'E2')).toBe(true);
    expect(ep.named(OTHER, 21, undefined)).toBe(false);
  });

  it("a state of the sender's own dots in its chain costs what the same state untagged costs (0 B an epoch)", () => {
    fc.assert(
      fc.property(fc.array(stateArb, { minLength: 1, maxLength: 4 }), chainArb, (made, chain) => {
        // Every dot the sender's, each in the epoch its chain gives it.
        const own = (s: KeyState): KeyState => {
          const vs = untag(s).vs.map((v) => {
            const e = chainEpoch(chain, v.n);
            return { ...v, r: ME, ...(e ? { ep: e } : {}) };
          });
          const uniq = vs.sort(byDot).filter((v, i) => i === 0 || byDot(vs[i - 1]!, v) !== 0);
          return { vs: uniq, ...dotsContext(uniq) };
        };
        const tagged = made.map(({ state }, i) => [`k${i}`, own(state)] as const);
        const plain = tagged.map(([k, s]) => [k, untag(s)] as const);
        const size = (entries: Array<readonly [string, KeyState]>, c: readonly EpochEntry[]) =>
          encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries }, TABLE, { epochs: links(c, new Epochs(), new Epochs()).send }).byteLength;
        expect(size(tagged, chain)).toBe(size(plain, []));
        const learned = new Epochs();
        const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries: tagged }, TABLE, { epochs: links(chain, new Epochs(), learned).send });
        const got = decode(frame, links(chain, new Epochs(), learned).receive) as { entries: ReadonlyArray<readonly [string, KeyState]> };
        expect(got.entries.map(([k, s]) => [k, normalState(s)])).toEqual(tagged.map(([k, s]) => [k, normalState(s)]));
      }),
    );
  });
});

describe('protocol 11: frames on one link, the sender plain or not (epoch-wire.ts `plain`)', () => {
  // Root labels (7 characters: epochs.ts ROOT_LABEL) among the sender's chain: its dots at or below the last one's fork imply none.
  const ROOTS = ['Root001', 'Root002'];
  const rootedChainArb = fc
    .uniqueArray(fc.constantFrom(...LABELS, ...ROOTS), { maxLength: 4 })
    .chain((ls) => fc.tuple(fc.constant(ls), fc.array(fc.nat(40), { minLength: ls.length, maxLength: ls.length })))
    .map(([ls, fs]): EpochEntry[] => {
      const sorted = [...fs].sort((a, b) => a - b);
      return ls.map((l, i) => [l, sorted[i]!] as const);
    });
  /** Each of the sender's dots in the epoch its chain gives it (a tagger's), or untagged (`plain`), or as drawn. */
  const ownAs = (chain: readonly EpochEntry[], how: 'tagger' | 'plain' | 'drawn', s: KeyState): KeyState => {
    if (how === 'drawn') return s;
    const vs = s.vs
      .map((v) => {
        if (v.r !== ME) return v;
        // A tagger's dots at or below its (last) root label's fork are from before it tagged.
        const root = chain.map(([l]) => ROOTS.includes(l)).lastIndexOf(true);
        const e = how === 'tagger' ? chainEpoch(chain.slice(Math.max(0, root)), v.n) : '';
        const { ep: _, x, ...rest } = v;
        return { ...rest, ...(e ? { ep: e } : {}) };
      })
      .sort(byDot);
    const uniq = vs.filter((v, i) => i === 0 || byDot(vs[i - 1]!, v) !== 0);
    return { vs: uniq, ...dotsContext(uniq) };
  };
  type Step = 'changes' | 'live' | 'ae' | 'parts' | 'rolled back';
  const stepArb = fc.record({ states: fc.array(stateArb, { minLength: 1, maxLength: 3 }), how: fc.constantFrom('tagger', 'plain', 'drawn'), step: fc.constantFrom<Step>('changes', 'live', 'ae', 'parts', 'rolled back') });

  it('every frame that went decodes to its state, and both ends turn the sender plain alike', () => {
    fc.assert(
      fc.property(rootedChainArb, regArb, fc.array(stepArb, { minLength: 1, maxLength: 6 }), (chain, recs, steps) => {
        const reg = registry(recs);
        const learned = new Epochs();
        const { send: bare, receive } = links(chain, reg, learned);
        const told = new ToldChains(ME, false);
        const send: EpochLink = { ...bare, told };
        const out = new ConnTableOut(TABLE);
        const inn = new ConnTableIn(TABLE);
        let upTo = 7;
        for (const { states, how, step } of steps) {
          upTo++;
          const entries = states.map(({ state }, i) => [`k${i}`, ownAs(chain, how, state)] as const);
          const forms = new Map<StoredVersion, Form>();
          if (how === 'drawn') for (const { forms: f } of states) for (const [v, x] of f) forms.set(v, x);
          const changes = { type: MsgType.Changes, space: 's', upTo, entries } as const;
          const frames: Array<[Uint8Array, unknown]> = [];
          if (step === 'ae') {
            const m: Message = { type: MsgType.AntiEntropy, space: 's', run: 1, top: 2, final: false, want: [], items: [{ kind: 'keys', keys: entries }] };
            frames.push([encodeMessage(m, TABLE, { epochs: send }), [entries.map(([k, s]) => [k, normalClaim(s)])]]);
          } else if (step === 'parts') {
            // A key in parts (wire.ts sendParts): its PART frames and the last are all written before any goes.
            const [k0, s0] = entries[0]!;
            if (s0.vs.length > 0) frames.push([encodeMessage({ type: MsgType.Part, space: 's', upTo: 0, entries: [[k0, s0]] }, TABLE, { forms, epochs: send }), [[k0, normalState(s0, forms)]]]);
            frames.push([encodeMessage(changes, TABLE, { forms, epochs: send }), entries.map(([k, s]) => [k, normalState(s, forms)])]);
          } else {
            const live = step === 'live' && entries.length === 1 ? out : undefined;
            frames.push([encodeMessage(changes, TABLE, { forms, epochs: send, ...(live ? { live } : {}) }), entries.map(([k, s]) => [k, normalState(s, forms)])]);
          }
          if (step === 'rolled back') {
            told.rollback();
            out.rollback();
            continue;
          }
          told.commit();
          out.commit();
          for (const [frame, want] of frames) {
            const got = decode(frame, receive, inn) as unknown as { entries?: Array<[string, KeyState]>; items?: Array<{ keys: Array<[string, KeyState]> }> };
            if (got.items) expect(got.items.map((it) => it.keys.map(([k, s]) => [k, normalClaim(s)]))).toEqual(want);
            else expect(got.entries!.map(([k, s]) => [k, normalState(s)])).toEqual(want);
          }
          expect(receive.peer.plain === true).toBe(send.me.plain === true);
        }
      }),
      { numRuns: Number(process.env.NUM_RUNS ?? 600) },
    );
  });

  it('a sender that tags as its chain from the last root label says never turns plain, and names no dot of its own', () => {
    fc.assert(
      fc.property(rootedChainArb, fc.array(fc.array(stateArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }), (chain, frames) => {
        const { send, receive } = links(chain, new Epochs(), new Epochs());
        for (const made of frames) {
          const entries = made.map(({ state }, i) => [`k${i}`, ownAs(chain, 'tagger', untag(state))] as const);
          const plain = entries.map(([k, s]) => [k, untag(s)] as const);
          const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries }, TABLE, { epochs: send });
          // Its own dots cost what they cost untagged (other replicas' untagged dots imply none either).
          expect(frame.byteLength).toBe(encodeMessage({ type: MsgType.Changes, space: 's', upTo: 7, entries: plain }, TABLE, { epochs: links([], new Epochs(), new Epochs()).send }).byteLength);
          decode(frame, receive);
        }
        expect([send.me.plain, receive.peer.plain]).toEqual([undefined, undefined]);
      }),
    );
  });
  it("a sender that does not tag pays for one dot of its own in its first frame, not for every one (S2's repair at 11)", () => {
    // A fresh replica at 11 that wrote before it met a peer at 11: its first epoch has a root label (fork 0) and its
    // dots name none. Its first frame of 100 keys (an anti-entropy claim, a repair's CHANGES): before, every one of its
    // dots was named untagged in that frame (2 B a version word and reference; 1 000 keys of S2: +2 000 B of claims).
    const chain: EpochEntry[] = [['Root001', 0]];
    const entries = Array.from({ length: 100 }, (_, i) => {
      const vs: StoredVersion[] = [{ r: ME, n: 10 + i, t: 1_000 + i, c: i % 16, v: JSON.stringify(i) }];
      return [`k${i}`, { vs, ...dotsContext(vs) }] as const;
    });
    const changes: Message = { type: MsgType.Changes, space: 's', upTo: 7, entries };
    const claims: Message = { type: MsgType.AntiEntropy, space: 's', run: 1, top: 2, final: false, want: [], items: [{ kind: 'keys', keys: entries }] };
    for (const m of [changes, claims]) {
      const at10 = encodeMessage(m, TABLE).byteLength;
      const { send, receive } = links(chain, new Epochs(), new Epochs());
      const first = encodeMessage(m, TABLE, { epochs: send });
      // One dot named untagged: the table entry (2 B) and its flag; every later one implies untagged.
      expect(first.byteLength - at10).toBeLessThanOrEqual(3);
      const got = decode(first, receive) as unknown as { entries?: Array<[string, KeyState]>; items?: Array<{ keys: Array<[string, KeyState]> }> };
      const keys = got.entries ?? got.items![0]!.keys;
      expect(keys.map(([k, st]) => [k, normalClaim(st)])).toEqual(entries.map(([k, st]) => [k, normalClaim(st)]));
      // Both ends turned the side plain: the next frame costs what it costs at 10.
      expect([send.me.plain, receive.peer.plain]).toEqual([true, true]);
      expect(encodeMessage(m, TABLE, { epochs: send }).byteLength).toBe(at10);
    }
  });

  it('within a frame, a dot of the sender after its first untagged one is named where it is tagged, and read back so', () => {
    // A fresh replica that wrote untagged, then met a peer at 11 and tags in that same root-label epoch (identity.ts
    // meetEpochPeer): a frame holding both kinds of its dots, the untagged ones first in the frame, then the tagged.
    const chain: EpochEntry[] = [['Root001', 5]];
    const mk = (i: number, tagged: boolean): readonly [string, KeyState] => {
      const vs: StoredVersion[] = [{ r: ME, n: i, t: 1_000 + i, c: 0, v: JSON.stringify(i), ...(tagged ? { ep: 'Root001' } : {}) }];
      return [`k${String(i).padStart(2, '0')}`, { vs, ...dotsContext(vs) }];
    };
    // Untagged 1–5 imply untagged anyway (at or below the fork); 6–9 untagged above it (the first turns the frame);
    // 10–14 tagged in Root001, which the frame must then name.
    const entries = [...Array.from({ length: 9 }, (_, i) => mk(i + 1, false)), ...Array.from({ length: 5 }, (_, i) => mk(i + 10, true))];
    for (const m of [
      { type: MsgType.Changes, space: 's', upTo: 7, entries } as Message,
      { type: MsgType.AntiEntropy, space: 's', run: 1, top: 2, final: false, want: [], items: [{ kind: 'keys', keys: entries }] } as Message,
    ]) {
      const { send, receive } = links(chain, new Epochs(), new Epochs());
      const got = decode(encodeMessage(m, TABLE, { epochs: send }), receive) as unknown as { entries?: Array<[string, KeyState]>; items?: Array<{ keys: Array<[string, KeyState]> }> };
      const keys = got.entries ?? got.items![0]!.keys;
      expect(keys.map(([k, st]) => [k, normalClaim(st)])).toEqual(entries.map(([k, st]) => [k, normalClaim(st)]));
      expect([send.me.plain, receive.peer.plain]).toEqual([true, true]);
    }
  });
});
