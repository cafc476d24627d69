/**
 * Encode once, LIVE frames too (live-shared.ts, table-state.ts): links of one sender whose LIVE tables are alike take
 * the frame one of them wrote for the same entry, and every link's frame decodes, through that link's own table at the
 * receiver, to exactly what was sent — also where a frame names a link's own peer, where links took different frames
 * between, where a frame was rolled back, where a table clears (peers' ids of different lengths clear at different
 * writes), and at protocol 11, where an epoch's first naming differs by what each peer holds of its chain.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { randomId } from '../../lib/ids.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { ToldChains, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, encodeMessage, MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { byDot, dotsContext } from '../../lib/sync/wire-state.js';

const W = 'writer-id-cccccccccccc';

const version = (r: string, n: number, value: unknown, e?: string): StoredVersion => ({ r, n, t: 1_700_000_000_000 + n, c: 0, v: JSON.stringify(value), ...(e ? { ep: e } : {}) });
const stateOf = (vs: StoredVersion[], cc?: Record<string, number>): KeyState => {
  const sorted = [...vs].sort(byDot);
  return cc ? { vs: sorted, cc } : { vs: sorted, ...dotsContext(sorted) };
};

function norm(m: Changes) {
  return {
    space: m.space,
    upTo: m.upTo,
    entries: m.entries.map(([k, s]) => [k, s.vs.map((v) => [v.r, v.n, v.ep ?? '', v.t, v.c, v.d ?? 0, v.v]), Object.entries(s.cc).sort(([a], [b]) => (a < b ? -1 : 1))]),
  };
}

interface Link {
  readonly peer: string;
  readonly out: ConnTableOut;
  readonly inn: ConnTableIn;
  readonly send?: EpochLink;
  readonly receive?: EpochLink;
  readonly told?: ToldChains;
  /** The receiver's registry (protocol 11). */
  readonly learned?: Epochs;
}

/** Links from `relay` to each of `peers`, at protocol 11 when `reg` (the relay's epoch records) is given (and `at11` says so). */
function links(relay: string, peers: readonly string[], reg?: Epochs, at11: (i: number) => boolean = () => true): Link[] {
  return peers.map((peer, i) => {
    const out = new ConnTableOut([relay, peer]);
    const inn = new ConnTableIn([relay, peer]);
    if (!reg || !at11(i)) return { peer, out, inn };
    const told = new ToldChains(relay, true);
    const learned = new Epochs();
    const send: EpochLink = { me: { id: relay, chain: [] }, peer: { id: peer, chain: [] }, told, reg: () => reg, learn: () => expect.fail('the sender learns nothing') };
    const receive: EpochLink = { me: { id: peer, chain: [] }, peer: { id: relay, chain: [] }, reg: () => learned, learn: (r, records) => learned.learnChain(r, records) };
    return { peer, out, inn, send, receive, told, learned };
  });
}

/** Encodes `m` on `l` as a session does (wire.ts): sent (committed, decoded at the receiver and checked) or lost (rolled back). */
function put(relay: string, l: Link, m: Changes, sent = true): Uint8Array {
  const frame = encodeMessage(m, [relay, l.peer], { live: l.out, epochs: l.send });
  if (!sent) {
    l.out.rollback();
    l.told?.rollback();
    return frame;
  }
  l.out.commit();
  l.told?.commit();
  if (m.upTo > 0) l.out.moved(m.space, m.upTo);
  const got = decodeMessage(frame, { maxValueBytes: 1 << 20, table: [relay, l.peer], conn: l.inn, epochs: l.receive }) as Changes;
  expect(norm(got)).toEqual(norm(m));
  return frame;
}

const live = (upTo: number, entry: Entry, space = 's'): Changes => ({ type: MsgType.Changes, space, upTo, entries: [entry] });

describe('LIVE frames shared between links alike', () => {
  it("a write fanned out to links alike is written once: every link sends the first one's frame", () => {
    // Fails where each link wrote its own LIVE frame (the same bytes, made once per link).
    const relay = randomId();
    const ls = links(relay, [randomId(), randomId(), randomId()]);
    for (let i = 1; i <= 5; i++) {
      const entry: Entry = [`k${i}`, stateOf([version(W, i, { title: `item ${i}`, n: i })])];
      const [fa, fb, fc] = ls.map((l) => put(relay, l, live(i, entry)));
      expect(fb).toBe(fa);
      expect(fc).toBe(fa);
      expect(fa![0]).toBe(MsgType.Live);
    }
  });

  it("a frame naming a link's own peer is that link's: its table names the peer by its seed, and it is alike no more", () => {
    const relay = randomId();
    const [a, b, c] = [randomId(), randomId(), randomId()];
    const ls = links(relay, [a, b, c]);
    const [la, lb, lc] = ls as [Link, Link, Link];
    // b wrote a version the writer's state holds in its context: b's id is in the frame. b first, then the others.
    const named: Entry = ['k1', stateOf([version(W, 3, 1)], { [W]: 3, [b]: 5 })];
    const fb = put(relay, lb, live(1, named));
    const fa = put(relay, la, live(1, named));
    const fc = put(relay, lc, live(1, named));
    expect(fa).not.toBe(fb);
    expect(fc).toBe(fa);
    // b's table did not add its own id, a's and c's did: b writes its own frames from now on, a and c share theirs.
    const next: Entry = ['k2', stateOf([version(W, 4, 2)])];
    const [ga, gb, gc] = ls.map((l) => put(relay, l, live(2, next)));
    expect(gb).not.toBe(ga);
    expect(gc).toBe(ga);
    // A version by a, written first on a link that then adds a's id as a string: a takes none of it.
    const byA: Entry = ['k3', stateOf([version(a, 1, 3)])];
    const hc = put(relay, lc, live(3, byA));
    const ha = put(relay, la, live(3, byA));
    expect(ha).not.toBe(hc);
    put(relay, lb, live(3, byA));
    // A key that is c's peer id (any valid id may be a key): c's table names it by its seed, a's adds it as a string.
    const keyC: Entry = [c, stateOf([version(W, 5, 4)])];
    const ia = put(relay, la, live(4, keyC));
    const ic = put(relay, lc, live(4, keyC));
    expect(ic).not.toBe(ia);
    expect(ic.byteLength).toBeLessThan(ia.byteLength);
  });

  it('links that took different frames, a frame lost, or a log frame between, write their own; alike again, they share again', () => {
    const relay = randomId();
    const ls = links(relay, [randomId(), randomId(), randomId()]);
    const [la, lb, lc] = ls as [Link, Link, Link];
    // The same entry object for every link, as a relay's live stream hands them (outgoing.ts).
    const made = new Map<number, Entry>();
    const e = (i: number): Entry => made.get(i) ?? (made.set(i, [`k${i}`, stateOf([version(W, i, i)])]), made.get(i)!);
    for (const l of ls) put(relay, l, live(1, e(1)));
    // Only a gets entry 2 (the others' peers wrote it: an echo skipped), then all get 3.
    put(relay, la, live(2, e(2)));
    const [f3a, f3b, f3c] = ls.map((l) => put(relay, l, live(3, e(3))));
    expect(f3a).not.toBe(f3b);
    expect(f3c).toBe(f3b);
    // b's frame of entry 4 is lost (over its link's frame limit): c, taking the frame b wrote, is not moved by b's loss.
    put(relay, lb, live(4, e(4)), false);
    const f4c = put(relay, lc, live(4, e(4)));
    const f4b = put(relay, lb, live(4, e(4)));
    expect(f4b).toBe(f4c);
    // A CHANGES frame of two entries moves b's and c's position alike: they share the next LIVE frame.
    const two: Changes = { type: MsgType.Changes, space: 's', upTo: 6, entries: [e(5), e(6)] };
    put(relay, lb, two);
    put(relay, lc, two);
    const [f7a, f7b, f7c] = ls.map((l) => put(relay, l, live(7, e(7))));
    expect(f7c).toBe(f7b);
    expect(f7a).not.toBe(f7b);
  });

  it("at protocol 11 an epoch's first naming differs by what each peer holds of its chain; after it the links share frames", () => {
    const relay = randomId();
    const reg = new Epochs();
    reg.add(W, 'Ep00001', '', 0);
    const ls = links(relay, [randomId(), randomId(), randomId()], reg);
    // c's peer holds W's chain already: its first frame names the epoch by its label alone.
    ls[2]!.told!.hold(W, ['Ep00001']);
    ls[2]!.learned!.add(W, 'Ep00001', '', 0);
    const made = new Map<number, Entry>();
    const e = (i: number): Entry => made.get(i) ?? (made.set(i, [`k${i}`, stateOf([version(W, i, i, 'Ep00001')])]), made.get(i)!);
    const first = ls.map((l) => put(relay, l, live(1, e(1))));
    expect(first[1]).not.toBe(first[0]); // each named the epoch for the first time on its link: written by each
    expect(first[2]!.byteLength).toBeLessThan(first[0]!.byteLength);
    for (let i = 2; i <= 4; i++) {
      const [fa, fb, fc] = ls.map((l) => put(relay, l, live(i, e(i))));
      expect(fb).toBe(fa);
      expect(fc).toBe(fa);
    }
  });

  it("a table clears by its own size, its peer's id counted: a link alike whose table clears where the writer's did not writes its own", () => {
    // Fails where a link took a frame that did not clear its table (type LIVE) where its own size calls for a clear, or
    // the other way round.
    for (const first of [0, 1]) {
      const relay = randomId();
      const ls = links(relay, ['p', 'q'.repeat(64)]);
      // The tables hold relay, peer, W, then the keys: 49 080 characters of keys leave the short peer's table at 49 119
      // (no clear before a frame: at most 65 536 - 16 384) and the long one's at 49 182 (a clear).
      const keys = [...Array.from({ length: 49 }, (_, i) => `${i}`.padEnd(1000, '-')), 'x'.repeat(80)];
      let n = 0;
      for (const key of keys) {
        const entry: Entry = [key, stateOf([version(W, ++n, n)])];
        const [fs, fl] = ls.map((l) => put(relay, l, live(n, entry)));
        expect(fl).toBe(fs);
      }
      const entry: Entry = ['next', stateOf([version(W, ++n, n)])];
      const frames: Uint8Array[] = [];
      for (const i of [first, 1 - first]) frames[i] = put(relay, ls[i]!, live(n, entry));
      expect([frames[0]![0], frames[1]![0]]).toEqual([MsgType.Live, MsgType.LiveCleared]);
    }
  });

  it('a link left behind (its peer stopped acknowledging) holds its own state, not the states the others went through since', async () => {
    // Fails where a kept frame held the state it led to: the stuck link's state held every later state and its frames.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const relay = randomId();
    const ls = links(relay, [randomId(), randomId(), randomId()]);
    const entries: Entry[] = []; // the relay's log keeps them (memory storage): kept frames live as long
    const passed: Array<WeakRef<object>> = [];
    for (let i = 1; i <= 200; i++) {
      const entry: Entry = [`k${i}`, stateOf([version(W, i, i)])];
      entries.push(entry);
      // Link 0 took the first 10 writes only (then its window was full); the others go on.
      for (const l of i <= 10 ? ls : ls.slice(1)) put(relay, l, live(i, entry));
      if (i > 20 && i < 190) passed.push(new WeakRef(ls[1]!.out.state));
    }
    await new Promise((r) => setImmediate(r));
    gc();
    expect(passed.filter((w) => w.deref() !== undefined)).toEqual([]);
    // Link 0 still takes what it missed, and it decodes (frames of its own now: alike no more).
    for (let i = 11; i <= 12; i++) put(relay, ls[0]!, live(i, entries[i - 1]!));
  });

  it('links alike hold one copy of the strings their frames added, not one each', () => {
    // Fails where each link's table added every key to an index of its own: a hundred links, a hundred copies.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const relay = randomId();
    const LINKS = 100;
    const WRITES = 600;
    const retained = (fanOut: boolean): number => {
      gc();
      gc();
      const before = v8.getHeapStatistics().used_heap_size;
      const ls: Array<[string, ConnTableOut]> = Array.from({ length: LINKS }, () => {
        const peer = randomId();
        return [peer, new ConnTableOut([relay, peer])];
      });
      for (let i = 1; i <= WRITES; i++) {
        // The fan-out writes a new key each time; the baseline the same key (its tables add no string past the first).
        const entry: Entry = [fanOut ? `key-${i}` : 'key', stateOf([version(W, i, i)])];
        for (const [peer, out] of ls) {
          encodeMessage(live(i, entry), [relay, peer], { live: out });
          out.commit();
        }
      }
      gc();
      gc();
      const grew = v8.getHeapStatistics().used_heap_size - before;
      expect(ls.length).toBe(LINKS); // held until measured
      return grew;
    };
    const base = retained(false);
    const perString = (retained(true) - base) / (LINKS * WRITES);
    if (process.env.LIVE_SHARED_MEMORY) console.log(`retained per link and key: ${perString.toFixed(1)} B (base ${base})`);
    // One log of the keys for all the links: a few bytes per link and key at most (an index each: tens).
    expect(perString).toBeLessThan(16);
  });

  it('links parting on a shared log (different strings at one position, a kept frame lost by its writer) decode what was sent', () => {
    const relay = randomId();
    const ls = links(relay, [randomId(), randomId(), randomId()]);
    const [la, lb, lc] = ls as [Link, Link, Link];
    const made = new Map<string, Entry>();
    const e = (k: string, n: number): Entry => made.get(k) ?? (made.set(k, [k, stateOf([version(W, n, n)])]), made.get(k)!);
    for (const l of ls) put(relay, l, live(1, e('k1', 1)));
    // a adds x where b adds y (b's stream skipped x: its peer wrote it): b parts from the log a and c go on sharing.
    const x = put(relay, la, live(2, e('x', 2)));
    expect(put(relay, lc, live(2, e('x', 2)))).toBe(x);
    put(relay, lb, live(2, e('y', 2)));
    for (const l of ls) put(relay, l, live(3, e('k3', 3)));
    // a's frame of z is kept for c, then lost on a (rolled back); c takes it; a then adds w where z stands.
    const lost = put(relay, la, live(4, e('z', 4)), false);
    expect(put(relay, lc, live(4, e('z', 4)))).toBe(lost);
    put(relay, la, live(5, e('w', 5)));
    put(relay, lc, live(5, e('w', 5)));
    put(relay, la, live(6, e('z', 4)));
    for (const l of [la, lc]) put(relay, l, live(7, e('k7', 7)));
    // b, on a log of its own, takes what the others took: every frame decodes through its own table.
    let n = 7;
    for (const k of ['x', 'z', 'w', 'k7']) put(relay, lb, live(++n, e(k, n)));
  });

  it('random fan-outs to links with peers of different lengths: every frame decodes to what was sent, and links alike share (seeded)', () => {
    const runs = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: 12 }, (_, i) => 1 + i);
    let shared = 0;
    for (const seed of runs) {
      try {
        shared += randomFanOut(seed);
      } catch (e) {
        throw new Error(`live-shared random fan-out failed at SEED=${seed}: ${(e as Error).message}`, { cause: e });
      }
    }
    // A run may see its links part early (a peer's own version names it, a frame lost): the runs together share.
    expect(shared).toBeGreaterThan(0);
  });
});

/** One run; the frames a link sent that another link had sent in the same step (written once). */
function randomFanOut(seed: number): number {
  let x = seed >>> 0 || 1;
  const rnd = () => ((x = (x * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const relay = randomId(16, rnd);
  const peers = [randomId(8, rnd), randomId(16, rnd), randomId(40, rnd), randomId(64, rnd)];
  // Every link at 10, every link at 11 (the writer's versions tagged), or some of each (a relay serving peers of an
  // earlier release beside the others: untagged versions, which both can carry).
  const mode = seed % 3;
  const reg = mode === 0 ? undefined : new Epochs();
  reg?.add(W, 'Ep00001', '', 0);
  const ls = links(relay, peers, reg, (i) => mode === 1 || i % 2 === 0);
  const tag = mode === 1 ? 'Ep00001' : undefined;
  let n = 0;
  let shared = 0;
  for (let step = 0; step < 250; step++) {
    n++;
    // Now and then a key that is a link's peer id (a string that link's table names by its seed).
    const r = rnd();
    const key = r < 0.3 ? `k${Math.floor(rnd() * 8)}` : r < 0.33 ? pick(peers) : `key-${n}-${'x'.repeat(Math.floor(rnd() * 900))}`;
    const writer = rnd() < 0.15 ? pick(peers) : W;
    const cc: Record<string, number> = { [writer]: n };
    const other = pick(peers);
    if (rnd() < 0.15 && other !== writer) cc[other] = 1 + Math.floor(rnd() * n);
    const entry: Entry = [key, stateOf([version(writer, n, { n, s: 'v'.repeat(Math.floor(rnd() * 40)) }, writer === W ? tag : undefined)], cc)];
    const space = rnd() < 0.1 ? 't' : 's';
    // Now and then a link takes another frame, or none (its peer wrote the entry: an echo skipped).
    const to = rnd() < 0.97 ? ls : ls.filter(() => rnd() < 0.5);
    const frames: Uint8Array[] = [];
    for (const l of to) {
      if (rnd() < 0.01) {
        // A log frame of two entries: the link's position moves by CHANGES.
        const other: Entry = [`k${n}b`, stateOf([version(W, n, 0, tag)])];
        put(relay, l, { type: MsgType.Changes, space, upTo: n, entries: [entry, other] });
        continue;
      }
      const lost = rnd() < 0.01;
      const f = put(relay, l, live(n, entry, space), !lost);
      if (lost) continue;
      if (frames.includes(f)) shared++;
      frames.push(f);
    }
  }
  return shared;
}
