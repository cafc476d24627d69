/**
 * A link's LIVE epoch table (lib/sync/epoch-table.ts, protocol 11): each direction remembers the epochs its LIVE frames
 * named, so a later frame names one by its index, and a dot of a replica other than the sender implies the epoch its
 * last entry named. In step at both ends through frames lost (encoded, not sent: rolled back), frames of other kinds
 * between, and clears at the bound; a hostile peer's reference to an entry never made, a table past its bound or an
 * entry made twice is refused with a ProtocolError and teaches nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { Epochs, type Point } from '../../lib/epoch-points.js';
import type { Writer } from '../../lib/sync/codec.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { FRAME_EPOCHS, MAX_LINK_EPOCHS } from '../../lib/sync/epoch-table.js';
import { ToldChains, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, encodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import { byDot, dotsContext, type Form } from '../../lib/sync/wire-state.js';
import { Wire } from '../../lib/sync/wire.js';
import { memoryStorage, openReplica, type ConnectionHandlers, type Replica, type Transport } from '../../lib/index.js';
import { metAt11 } from '../support/epoch-peer.js';
import { memoryRelay } from '../support/tab-group.js';
import { tags } from './keystroke-frames.js';
import { until } from './support.js';
import { newEntry, rawLive, tombstoneNaming } from '../support/raw-live.js';
import { explicitContext } from './epoch-states.js';

/** `inner`, recording the frames its client receives. */
function recording(inner: Transport, got: Uint8Array[]): Transport {
  return { ...inner, open: (h: ConnectionHandlers) => inner.open({ ...h, onMessage: (f) => (f instanceof Uint8Array && got.push(f), h.onMessage(f)) }) };
}

const ME = 'relay-id-aaaaaaaaaaaaaa';
const PEER = 'follower-id-bbbbbbbbbb';
const WRITERS = ['writer-id-cccccccccccc', 'writer-id-dddddddddddd', 'writer-id-eeeeeeeeeeee'];
const [W1, W2] = WRITERS as [string, string];
const TABLE = [ME, PEER];

/** Both ends of a fresh link at 11 from ME (a relay: it teaches its records of other replicas) to PEER. */
function link(reg = senderRecords(), learned = new Epochs()): { send: EpochLink; receive: EpochLink; told: ToldChains; learned: Epochs } {
  const told = new ToldChains(ME, true);
  return {
    send: { me: { id: ME, chain: [] }, peer: { id: PEER, chain: [] }, told, reg: () => reg, learn: () => expect.fail('the sender learns nothing') },
    receive: { me: { id: PEER, chain: [] }, peer: { id: ME, chain: [] }, reg: () => learned, learn: (r, records) => learned.learnChain(r, records) },
    told,
    learned,
  };
}

/** The relay's records: the first eight labels of each replica fork from untagged (so a chain goes whole, then by label alone). */
function senderRecords(): Epochs {
  const reg = new Epochs();
  for (const r of [ME, PEER, ...WRITERS]) for (let i = 0; i < 8; i++) reg.add(r, `Ep${String(i).padStart(5, '0')}`, '', 0);
  return reg;
}

const tomb = (r: string, n: number, e: string, t = 1_000): StoredVersion => ({ r, n, t, c: 0, d: 1, ...(e ? { ep: e } : {}) });
const stateOf = (vs: StoredVersion[]): KeyState => {
  const sorted = [...vs].sort(byDot);
  return { vs: sorted, ...dotsContext(sorted) };
};
const live = (upTo: number, state: KeyState, key = 'k'): Message => ({ type: MsgType.Changes, space: 's', upTo, entries: [[key, state]] });

function norm(s: KeyState) {
  return {
    vs: s.vs.map((v) => [v.r, v.n, v.ep ?? '', v.t, v.c, v.d ?? 0, v.v]),
    cc: Object.entries(s.cc).sort(([a], [b]) => (a < b ? -1 : 1)),
    pts: Object.entries(s.pts ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

const dots = (s: KeyState) => s.vs.map((v) => [v.r, v.n, v.ep ?? '']);
const decoded = (m: Message): KeyState => (m as { entries: ReadonlyArray<readonly [string, KeyState]> }).entries[0]![1];

/** The sender's and receiver's ends of one link's LIVE state (`bound`: the epoch table's, both ends). */
function ends(bound?: number) {
  const l = link();
  return { ...l, out: new ConnTableOut(TABLE, bound), inn: new ConnTableIn(TABLE, bound) };
}

describe("a link's LIVE epoch table: a writer's epoch named once per link", () => {
  it('from its second LIVE frame on, a third replica’s tagged dot costs what an untagged one does (a relay forwarding keystrokes)', () => {
    // Fails where a frame's epoch table lived for one frame: every frame named the writer's epoch by its label.
    const sizes = (e: string) => {
      const { send, receive, out, inn } = ends();
      return [1, 2, 3].map((i) => {
        const frame = encodeMessage(live(i, stateOf([tomb(W1, 10 + i, e)])), TABLE, { epochs: send, live: out });
        out.commit();
        expect(norm(decoded(decodeMessage(frame, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn })))).toEqual(norm(stateOf([tomb(W1, 10 + i, e)])));
        return frame.byteLength;
      });
    };
    const [tagged, untagged] = [sizes('Ep00001'), sizes('')];
    expect(tagged[0]).toBeGreaterThan(untagged[0]!);
    expect(tagged.slice(1)).toEqual(untagged.slice(1));
  });

  it('a frame encoded but not sent is rolled back: the next frame names the epoch again, as the receiver needs', () => {
    const { send, receive, out, inn, told } = ends();
    const state = (n: number) => stateOf([tomb(W1, n, 'Ep00001'), tomb(W2, n, 'Ep00002')]);
    const go = (upTo: number, sent: boolean) => {
      const frame = encodeMessage(live(upTo, state(upTo)), TABLE, { epochs: send, live: out });
      if (!sent) return (out.rollback(), told.rollback());
      out.commit();
      told.commit();
      expect(norm(decoded(decodeMessage(frame, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn })))).toEqual(norm(state(upTo)));
    };
    go(1, false); // lost: the receiver never saw its entries
    go(2, true);
    go(3, false); // lost after entries were made: they stay, and what they imply too
    go(4, true);
    expect(out.epochs.size).toBe(inn.epochs.size);
  });

  it("another replica's untagged delta base named in a LIVE frame does not turn the frame plain (fast-check seed -1009637705 at 20 000 runs)", () => {
    // Frame 1 leaves W1's and W2's last entries E1 and E2. Frame 2: W2's delta at 2 in E2 on W1's untagged base 1 (named:
    // W1's dots imply E1 now), then W2's untagged version 3 (named: W2's imply E2). The state's head was judged as if the
    // base had turned the frame plain (only the sender's untagged dot does), said no version is named, and the reader
    // took version 3 in E2.
    const { send, receive, out, inn } = ends();
    const read = (f: Uint8Array) => dots(decoded(decodeMessage(f, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn })));
    read(encodeMessage(live(1, stateOf([tomb(W1, 1, 'E1'), tomb(W2, 1, 'E2')])), TABLE, { epochs: send, live: out }));
    out.commit();
    const delta: StoredVersion = { r: W2, n: 2, t: 1_000, c: 0, ep: 'E2', v: '1' };
    const state = stateOf([delta, { r: W2, n: 3, t: 1_000, c: 0, v: '2' }]);
    const forms = new Map<StoredVersion, Form>([[delta, { kind: 'delta', b: [[W1, 1]], d: Uint8Array.from([1]) }]]);
    expect(read(encodeMessage(live(2, state), TABLE, { forms, epochs: send, live: out }))).toEqual([
      [W2, 2, 'E2'],
      [W2, 3, ''],
    ]);
  });

  it('a LIVE frame over the frame limit goes otherwise (wire.ts), and the link stays in step', () => {
    // A relay's wire toward its follower: a keystroke, then a state too large for a frame (rolled back, left out: its
    // context alone goes), then keystrokes naming the epochs the rolled-back frame had made.
    const reg = new Epochs();
    const reported: string[] = [];
    const sender = new Wire((e) => reported.push((e as { code?: string }).code ?? String(e)), () => {}, () => reg);
    const receiver = new Wire((e) => expect.fail(String(e)), () => {}, () => new Epochs());
    sender.start(ME, PEER, 0, { mine: [], theirs: [], teaches: true });
    receiver.start(PEER, ME, 0, { mine: [], theirs: [], others: true });
    const frames: Uint8Array[] = [];
    const LIMIT = 400;
    const big: StoredVersion = { r: W2, n: 5, t: 1_000, c: 0, v: JSON.stringify('x'.repeat(LIMIT)), ep: 'Ep00002' };
    const steps: KeyState[] = [stateOf([tomb(W1, 1, 'Ep00001')]), stateOf([big]), stateOf([tomb(W2, 6, 'Ep00002')]), stateOf([tomb(W1, 7, 'Ep00001'), tomb(W2, 7, 'Ep00002')])];
    steps.forEach((st, i) => sender.send(live(i + 1, st, `k${i}`), LIMIT, (f) => frames.push(f)));
    const got = frames.map((f) => receiver.decode(f, 1 << 20)).filter((m): m is Message => m?.type === MsgType.Changes);
    const states = got.flatMap((m) => (m as { entries: ReadonlyArray<readonly [string, KeyState]> }).entries);
    for (const i of [0, 2, 3]) expect(norm(states.find(([k]) => k === `k${i}`)![1])).toEqual(norm(steps[i]!));
    expect(frames.some((f) => f[0] === MsgType.Live)).toBe(true);
    expect(reported).toEqual(['VALUE_TOO_LARGE']);
  });
});

// ---- the link over many frames ------------------------------------------------------------------------------------

const LABELS = Array.from({ length: 24 }, (_, i) => `Ep${String(i).padStart(5, '0')}`);
const dotArb = fc.record({ r: fc.constantFrom(ME, PEER, ...WRITERS), e: fc.constantFrom('', '', ...LABELS), n: fc.integer({ min: 1, max: 60 }) });
const stateArb = fc
  .record({ dots: fc.array(dotArb, { minLength: 1, maxLength: 5 }), extra: fc.array(dotArb, { maxLength: 4 }), delete: fc.boolean() })
  .map(({ dots, extra, delete: d }) => {
    const seen = new Set<string>();
    const vs: StoredVersion[] = [];
    for (const x of dots) {
      if (seen.has(`${x.r}/${x.e}/${x.n}`)) continue;
      seen.add(`${x.r}/${x.e}/${x.n}`);
      vs.push({ r: x.r, n: x.n, t: 1_000 + x.n, c: x.n % 3, ...(x.e ? { ep: x.e } : {}), ...(d ? { d: 1 as const } : { v: JSON.stringify(x.n) }) });
    }
    const base = stateOf(vs);
    if (extra.length === 0) return base;
    // An explicit context: the versions' points and a few more.
    return { vs: base.vs, ...explicitContext([...base.vs.map((v) => [v.r, v.ep ?? '', v.n] as const), ...extra.map((x) => [x.r, x.e, x.n] as const)]) };
  });

type Step = 'live' | 'lost' | 'changes' | 'ae';
const stepArb = fc.record({ state: stateArb, step: fc.constantFrom<Step>('live', 'live', 'live', 'lost', 'changes', 'ae') });

describe("a link's LIVE epoch table over many frames", () => {
  it('every frame that went decodes to its state, both tables in step and within their bound, through losses, other frames and clears', () => {
    // A bound of FRAME_EPOCHS + 16 at both ends: the tables clear every few frames.
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), fc.boolean(), (steps, small) => {
        const bound = small ? FRAME_EPOCHS + 16 : undefined;
        const { send, receive, out, inn, told } = ends(bound);
        let upTo = 0;
        for (const { state, step } of steps) {
          const m: Message =
            step === 'ae'
              ? { type: MsgType.AntiEntropy, space: 's', run: 1, top: upTo, final: false, want: [], items: [{ kind: 'keys', keys: [['k', state]] }] }
              : live(step === 'changes' ? 0 : ++upTo, state);
          const frame = encodeMessage(m, TABLE, { epochs: send, live: out });
          if (step === 'lost') {
            out.rollback();
            told.rollback();
            upTo--;
            continue;
          }
          out.commit();
          told.commit();
          const got = decodeMessage(frame, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn });
          const st = got.type === MsgType.AntiEntropy ? (got.items[0] as unknown as { keys: Array<[string, KeyState]> }).keys[0]![1] : decoded(got);
          if (step === 'ae') expect(dots(st)).toEqual(dots(state));
          else expect(norm(st)).toEqual(norm(state));
          expect(out.epochs.size).toBe(inn.epochs.size);
          expect(inn.epochs.size).toBeLessThanOrEqual(bound ?? MAX_LINK_EPOCHS);
        }
      }),
    );
  });

  it('a relay naming thousands of epochs to one follower: each end holds at most MAX_LINK_EPOCHS, clearing as it goes', () => {
    const { send, receive, out, inn } = ends();
    let cleared = 0;
    let most = 0;
    for (let i = 1; i <= 400; i++) {
      // Each frame: five writers, each in an epoch of its own not seen before (2 000 epochs in all).
      const vs = Array.from({ length: 5 }, (_, j) => tomb(`writer-${String(j).padStart(2, '0')}-ffffffffffff`, i, `E${String(i * 5 + j).padStart(6, '0')}`));
      const frame = encodeMessage(live(i, stateOf(vs)), TABLE, { epochs: send, live: out });
      out.commit();
      if (frame[0] === MsgType.LiveCleared) cleared++;
      expect(norm(decoded(decodeMessage(frame, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn })))).toEqual(norm(stateOf(vs)));
      most = Math.max(most, inn.epochs.size, out.epochs.size);
    }
    expect(most).toBeLessThanOrEqual(MAX_LINK_EPOCHS);
    expect(cleared).toBeGreaterThanOrEqual(3);
  });

  it('a state naming more epochs than a LIVE frame may add goes as a CHANGES frame, and the table is as before it', () => {
    const { send, receive, out, inn } = ends();
    const read = (f: Uint8Array) => decoded(decodeMessage(f, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn }));
    const first = stateOf([tomb(W1, 1, 'Ep00001')]);
    read(encodeMessage(live(1, first), TABLE, { epochs: send, live: out }));
    out.commit();
    const pts: Point[] = Array.from({ length: FRAME_EPOCHS + 1 }, (_, i) => ({ e: `M${String(i).padStart(6, '0')}`, n: i + 1 }));
    const many: KeyState = { vs: [tomb(W1, 2, 'Ep00001')], cc: { [W1]: FRAME_EPOCHS + 1 }, pts: { [W1]: [...pts, { e: 'Ep00001', n: 2 }].sort((a, b) => (a.e < b.e ? -1 : 1)) } };
    const size = out.epochs.size;
    const frame = encodeMessage(live(2, many), TABLE, { epochs: send, live: out });
    out.commit();
    expect(frame[0]).toBe(MsgType.Changes);
    expect(out.epochs.size).toBe(size);
    expect(norm(read(frame))).toEqual(norm(many));
    // The next LIVE frame names W1's epoch as the link left it.
    const next = stateOf([tomb(W1, 70, 'Ep00001')]);
    expect(norm(read(encodeMessage(live(3, next), TABLE, { epochs: send, live: out })))).toEqual(norm(next));
  });
});

// ---- hostile bytes ----------------------------------------------------------------------------------------------

describe("a hostile peer and a link's LIVE epoch table", () => {
  const receiver = (bound?: number) => {
    const { receive, learned } = link();
    const inn = new ConnTableIn(TABLE, bound);
    const frame = rawLive(TABLE);
    const read = (f: Uint8Array) => decodeMessage(f, { maxValueBytes: 1 << 20, table: TABLE, epochs: receive, conn: inn });
    return { learned, inn, read, liveFrame: (_upTo: number, r: string, n: number, ref: (w: Writer) => void, cleared = false) => frame(tombstoneNaming('k', r, n, ref), cleared) };
  };

  it('a reference to an entry no frame made, to one made before a clear, or to another replica’s entry is refused', () => {
    const { read, learned, liveFrame } = receiver();
    expect(() => read(liveFrame(1, W1, 3, (w) => w.uint(5)))).toThrow(/unknown epoch reference/);
    const r2 = receiver();
    expect(dots(decoded(r2.read(r2.liveFrame(1, W1, 3, newEntry('Ep00001')))))).toEqual([[W1, 3, 'Ep00001']]);
    // Entry 0 is W1's: W2's dot may not name it, and after a clear it is gone.
    expect(() => r2.read(r2.liveFrame(2, W2, 4, (w) => w.uint(1)))).toThrow(/another replica's epoch/);
    const r3 = receiver();
    r3.read(r3.liveFrame(1, W1, 3, newEntry('Ep00001')));
    expect(dots(decoded(r3.read(r3.liveFrame(2, W1, 4, (w) => w.uint(1)))))).toEqual([[W1, 4, 'Ep00001']]);
    expect(() => r3.read(r3.liveFrame(3, W1, 5, (w) => w.uint(1), true))).toThrow(/unknown epoch reference/);
    expect(learned.knows(W1, 'Ep00001')).toBe(false);
  });

  it('an entry the link already holds, made again, is refused', () => {
    const { read, liveFrame } = receiver();
    read(liveFrame(1, W1, 3, newEntry('Ep00001')));
    expect(() => read(liveFrame(2, W1, 4, newEntry('Ep00001')))).toThrow(/twice/);
  });

  it('a frame that would pass the bound is refused and teaches nothing; the sender would have cleared first', () => {
    const { read, learned, inn, liveFrame } = receiver();
    for (let i = 0; i < MAX_LINK_EPOCHS; i++) read(liveFrame(i + 1, W1, i + 1, newEntry(`L${String(i).padStart(6, '0')}`)));
    expect(inn.epochs.size).toBe(MAX_LINK_EPOCHS);
    expect(() => read(liveFrame(MAX_LINK_EPOCHS + 1, W1, MAX_LINK_EPOCHS + 1, newEntry('Overflow')))).toThrow(/connection's epoch table over its bound/);
    expect(learned.knows(W1, 'Overflow')).toBe(false);
    expect(inn.epochs.size).toBe(MAX_LINK_EPOCHS);
    // Cleared by its sender, the same entry is taken.
    expect(decoded(read(liveFrame(MAX_LINK_EPOCHS + 1, W1, MAX_LINK_EPOCHS + 1, newEntry('Overflow'), true))).vs[0]!.ep).toBe('Overflow');
    expect(inn.epochs.size).toBe(1);
  });
});

// ---- a session -------------------------------------------------------------------------------------------------

describe("a link's LIVE epoch table across a reconnect", () => {
  it('a follower that reconnects starts both tables empty, and the writer’s writes reach it in the writer’s epoch', async () => {
    const opened: Replica[] = [];
    const open = async (storage = memoryStorage()) => {
      const r = await openReplica({ storage, now: () => 1_765_000_000_000 });
      opened.push(r);
      return r;
    };
    const [relay, a, b] = [await open(), await open(await metAt11(memoryStorage())), await open()];
    try {
      const mem = memoryRelay(relay);
      const got: Uint8Array[] = [];
      a.connect(mem.transport(), { antiEntropyInterval: 0 });
      const follow = () => b.connect(recording(mem.transport(), got), { antiEntropyInterval: 0 });
      let link = follow();
      const epochOf = async (k: string) => ((await b.core.storage.get('s', k)) as { vs: StoredVersion[] } | undefined)?.vs[0]?.ep;
      const write = async (k: string) => {
        await a.space('s').put(k, k);
        await until(async () => (await b.space('s').get(k)) !== undefined, k);
      };
      for (const k of ['k1', 'k2', 'k3']) await write(k);
      expect(tags(a)).toBe(true);
      const mine = await epochOf('k1');
      expect(mine).toBeDefined();
      link.close();
      await a.space('s').put('k4', 'k4');
      link = follow();
      await until(async () => (await b.space('s').get('k4')) !== undefined, 'k4 after the reconnect');
      const before = got.length;
      for (const k of ['k5', 'k6']) await write(k);
      // The LIVE frames after the reconnect: the first names the writer's epoch again, read by a fresh table.
      expect(got.slice(before).some((f) => f[0] === MsgType.Live || f[0] === MsgType.LiveCleared)).toBe(true);
      for (const k of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) expect(await epochOf(k), k).toBe(mine);
      link.close();
    } finally {
      await Promise.all(opened.map((r) => r.close()));
    }
  });
});
