// Anti-entropy's fast path (lib/sync/fast-path.ts, protocol 7) between real replicas: two replicas with no shared
// cursor and every kind of difference converge in one run of two round trips, values go only to the side that lacks
// them, a sketch that does not peel falls back to the tree walk, keys sharing a hash are not hidden, peers of the
// last releases get the forms they read (the Merkle path for 6, full-width items for 7), and a hostile peer's items get
// no more than the keys they name.
import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode, pairTransports, type Replica, type Transport } from '../../lib/index.js';
import { MerkleTree, bucketOf } from '../../lib/sync/merkle.js';
import { wireHash } from '../../lib/sync/antientropy.js';
import { encodeMessage, MsgType, type AeItem, type Message } from '../../lib/sync/messages.js';
import { keyHash } from '../../lib/sync/sketch.js';
import { prng } from '../sim/clock.js';
import { connectRaw } from '../values/hostile.js';
import { decodedFrom, dump, replicaPool, synced, tapped, until } from './support.js';
import { readerEpochs, speaks11 } from '../support/epoch-reader.js';

const pool = replicaPool();
const replica = pool.replica;
afterAll(() => pool.closeAll());

const SPACE = 's';
const big = (tag: string) => tag + ':' + 'x'.repeat(3000);

interface Sent {
  who: 'a' | 'b';
  bytes: number;
  m: Message | undefined;
}

/**
 * A transport that records what its side sends (decoded where the frame decodes alone: in 11's form where both hellos,
 * noted in `hellos`, list it), and may claim older versions.
 */
function recorded(inner: Transport, who: 'a' | 'b', log: Sent[], table: () => string[], hellos: Map<string, readonly number[]>, versions?: number[]): Transport {
  return tapped(inner, (frame, conn) => {
    const [me, peer] = table() as [string, string];
    const at11 = speaks11(hellos.get(me), hellos.get(peer));
    const m = frame instanceof Uint8Array ? decodedFrom([frame], 0, [me, peer], at11 ? readerEpochs(me, peer) : undefined)[0] : undefined;
    if (m?.type === MsgType.Hello) hellos.set(me, versions ?? m.versions);
    if (versions && m?.type === MsgType.Hello) return conn.send(encodeMessage({ ...m, versions }));
    log.push({ who, bytes: typeof frame === 'string' ? frame.length : frame.byteLength, m });
    conn.send(frame);
  });
}

async function copyAll(from: Replica, to: Replica): Promise<void> {
  const page = await from.core.storage.scan(SPACE, { limit: 1e9 });
  await to.core.join(SPACE, page.map(([k, rec]) => [k, { vs: rec.vs, cc: rec.cc }] as const));
}

/**
 * Seeded randomness and a stepping clock: ids, run ids and HLCs (so state hashes, and so the sketch's cells) are the
 * same every time, and whether a sketch peels (about 99 % of runs at these sizes) does not change from run to run.
 */
function seeded(seed: number) {
  let t = 1_790_000_000_000;
  return { random: prng(seed), now: () => (t += 3) };
}

let seeds = 1;

/** Two replicas holding the same `n` keys, with no cursor into each other's log. */
async function twins(n: number, prefix = 'k'): Promise<[Replica, Replica]> {
  const a = await replica(seeded(seeds++));
  const s = a.space(SPACE);
  for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => s.put(`${prefix}${i + j}`, { n: i + j })));
  const b = await replica(seeded(seeds++));
  b.space(SPACE);
  await copyAll(a, b);
  return [a, b];
}

/** Connects a and b (both hellos may claim older protocol versions: b then speaks as a peer of that release would), waits until synced; the frames each sent, hellos (and their chain frames) apart. */
async function exchange(a: Replica, b: Replica, bVersions?: number[], maxFrameBytes?: number): Promise<Sent[]> {
  const [ta, tb] = pairTransports(maxFrameBytes ? { maxFrameBytes } : {});
  const log: Sent[] = [];
  const hellos = new Map<string, readonly number[]>();
  const la = a.connect(recorded(ta, 'a', log, () => [a.replicaId, b.replicaId], hellos, bVersions), { antiEntropyInterval: 0 });
  const lb = b.connect(recorded(tb, 'b', log, () => [b.replicaId, a.replicaId], hellos, bVersions), { antiEntropyInterval: 0 });
  await synced(a, b);
  la.close();
  lb.close();
  return log.filter((s) => s.m?.type !== MsgType.Hello && s.m?.type !== MsgType.Epochs); // a chain frame (protocol 11) completes its hello
}

const aeItems = (log: Sent[]) => log.flatMap((s) => (s.m?.type === MsgType.AntiEntropy ? s.m.items : []));
/** A frame of the anti-entropy run: one of its turns, or repair states (CHANGES with upTo 0). */
const ofTheRun = (s: Sent) => s.m?.type === MsgType.AntiEntropy || (s.m?.type === MsgType.Changes && s.m.upTo === 0 && s.m.entries.length > 0);
/** A frame that answers or asks something, as BENCHMARKS S2 counts them: everything but ACKs and empty CHANGES. */
const answering = (s: Sent) => s.m?.type !== MsgType.Ack && !(s.m?.type === MsgType.Changes && s.m.entries.length === 0);
/**
 * Round trips among the frames `counts` takes: changes of sender. By default those of the run: the log stream is left
 * out, since a join that makes siblings of both sides' versions is a new entry of each side's log, and each streams it
 * to the other once the run is over (the peer model knows each side's state, not their join).
 */
function roundTrips(log: Sent[], counts: (s: Sent) => boolean = ofTheRun): number {
  let turns = 0;
  let last: string | undefined;
  for (const s of log) {
    if (!counts(s)) continue;
    if (s.who !== last) turns++;
    last = s.who;
  }
  return Math.max(1, Math.ceil((turns - 1) / 2));
}
const valueBytes = (log: Sent[], who: 'a' | 'b') =>
  log.filter((s) => s.who === who).reduce((n, s) => n + (s.m?.type === MsgType.Changes ? s.m.entries.reduce((x, [, st]) => x + st.vs.reduce((y, v) => y + (typeof v.v === 'string' ? v.v.length : 0), 0), 0) : 0), 0);

describe('anti-entropy fast path', () => {
  // Which side sends the sketch and which peels it follows the replica ids: both orderings are run.
  it.each([0, 1])('every kind of difference converges in one run of two round trips (ordering %i)', async (flip) => {
    const [x, y] = await twins(6000);
    const [a, b] = flip ? [y, x] : [x, y];
    const sa = a.space(SPACE);
    const sb = b.space(SPACE);
    for (let i = 0; i < 40; i++) await sa.put(`k${i * 97}`, { n: -i }); // rewritten on a, small
    for (let i = 0; i < 10; i++) await sb.put(`k${i * 89 + 1}`, big(`b${i}`)); // rewritten on b, large
    for (let i = 0; i < 5; i++) {
      await sa.put(`k${i * 83 + 2}`, `a-side ${i}`); // concurrent: siblings on both after
      await sb.put(`k${i * 83 + 2}`, `b-side ${i}`);
    }
    for (let i = 0; i < 5; i++) await sa.delete(`k${i * 79 + 3}`);
    for (let i = 0; i < 5; i++) await sa.put(`only-a-${i}`, big(`only a ${i}`));
    for (let i = 0; i < 5; i++) await sb.put(`only-b-${i}`, `only b ${i}`);
    const log = await exchange(a, b);
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
    expect((await sb.get('k0'))?.value).toEqual({ n: -0 });
    expect((await sa.get('k1'))?.value).toBe(big('b0'));
    expect((await sa.get('k2'))?.siblings ?? (await sa.get('k2'))).toBeDefined();
    expect(await sb.get('k3')).toBeUndefined();
    expect((await sb.get('only-a-0'))?.value).toBe(big('only a 0'));
    expect((await sa.get('only-b-0'))?.value).toBe('only b 0');
    const items = aeItems(log);
    expect(items.filter((it) => it.kind === 'sketch')).toHaveLength(1);
    // No tree walk: after the opening's level, no node or range item went.
    expect(items.filter((it) => it.kind === 'range' || (it.kind === 'node' && it.level > 2))).toEqual([]);
    expect(roundTrips(log)).toBeLessThanOrEqual(2);
    // Each large value went once, to the side that lacked it: b's ten, a's five, nothing back.
    const bigBytes = big('').length;
    expect(valueBytes(log, 'b')).toBeLessThan(11 * bigBytes);
    expect(valueBytes(log, 'a')).toBeLessThan(6 * bigBytes);
  });

  // As BENCHMARKS S2 counts them: every frame until both ends are synced, the log stream's included (an ACK or an
  // empty CHANGES frame answers nothing). Where only one side changed, nothing of the run is news to that side: a TOP
  // for the echoes of its own states made it wait for one more frame — a third round trip when that side had opened
  // the run (fixed in 2960dd9). Both roles are run: the smaller replicaId opens.
  it.each(['opens', 'answers'])("one side's rewrites reach the other in two round trips, counting every frame until both are synced (the writer %s the run)", async (role) => {
    const [x, y] = await twins(6000);
    const [a, b] = (x.replicaId < y.replicaId) === (role === 'opens') ? [x, y] : [y, x];
    for (let i = 0; i < 40; i++) await a.space(SPACE).put(`k${i * 97}`, { n: -i });
    const log = await exchange(a, b);
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
    expect(aeItems(log).filter((it) => it.kind === 'sketch')).toHaveLength(1);
    expect(log.find((s) => s.m?.type === MsgType.AntiEntropy)?.who).toBe(role === 'opens' ? 'a' : 'b');
    expect(roundTrips(log, answering)).toBeLessThanOrEqual(2);
  });

  it('a sketch that does not peel falls back to the tree walk, and the run still converges', async () => {
    const [a, b] = await twins(6000);
    // Every key under one node of the opening level changed: the estimate says about one key differs, and a sketch
    // of fewer cells than differing keys cannot peel.
    const keys = (await a.core.storage.scan(SPACE, { limit: 1e9 })).map(([k]) => k).filter((k) => bucketOf(k) >>> 8 === 7);
    expect(keys.length).toBeGreaterThan(15);
    for (const k of keys) await a.space(SPACE).put(k, 'changed');
    // and one elsewhere, so some node but not all differ
    await b.space(SPACE).put('k1', 'changed on b');
    const log = await exchange(a, b);
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
    const items = aeItems(log);
    expect(items.some((it) => it.kind === 'sketch')).toBe(true);
    expect(items.some((it) => it.kind === 'node' && it.level > 2)).toBe(true);
  });

  it('a key hidden behind another with the same key hash is found in the same run', async () => {
    // Two keys of one bucket and one hash: found by search (30 bits; a few tens of thousands of candidates).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const k = `c${i}`;
      const h = keyHash(k, bucketOf(k));
      const other = seen.get(h);
      if (other) pair = [other, k];
      else seen.set(h, k);
    }
    const [a, b] = await twins(5000);
    await a.space(SPACE).put(pair[0], 'both hold this');
    await copyAll(a, b);
    await b.space(SPACE).put(pair[1], 'only b holds this'); // same hash as pair[0], which does not differ
    for (let i = 0; i < 20; i++) await a.space(SPACE).put(`k${i * 131}`, 'changed');
    const log = await exchange(a, b);
    expect(aeItems(log).some((it) => it.kind === 'sketch')).toBe(true);
    expect((await a.space(SPACE).get(pair[1]))?.value).toBe('only b holds this');
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
  });

  it('claims of long keys split over frames under a small frame limit', async () => {
    const long = 'p'.repeat(600); // 15 claims of these in one item would not fit one frame
    const [a, b] = await twins(6000, long);
    // Large values on both sides: whichever side peels the sketch claims its 15 (about 9.4 KB of claims).
    for (let i = 0; i < 15; i++) await a.space(SPACE).put(`${long}${i * 193}`, 'a'.repeat(3000));
    for (let i = 0; i < 15; i++) await b.space(SPACE).put(`${long}${i * 197 + 1}`, 'b'.repeat(3000));
    const log = await exchange(a, b, undefined, 8192);
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
    const items = aeItems(log);
    expect(items.some((it) => it.kind === 'sketch')).toBe(true);
    expect(items.filter((it) => it.kind === 'keys').length).toBeGreaterThan(1);
    expect(Math.max(...log.map((s) => s.bytes))).toBeLessThanOrEqual(8192);
    // The claimed keys the other side wants back go as a bitmap over the claims, not as 600-byte keys again.
    const claimed = new Set(items.flatMap((it) => (it.kind === 'keys' ? it.keys.map(([k]) => k) : [])));
    expect(items.some((it) => it.kind === 'wanted')).toBe(true);
    expect(log.flatMap((s) => (s.m?.type === MsgType.AntiEntropy ? s.m.want : [])).filter((k) => claimed.has(k))).toEqual([]);
  });

  it("protocol 8's compact items between peers speaking it; a peer of the last release (protocol 7) gets 32-bit hashes and 12-byte cells", async () => {
    const forms = async (bVersions?: number[]) => {
      const [a, b] = await twins(6000);
      for (let i = 0; i < 30; i++) await a.space(SPACE).put(`k${i * 131}`, 'changed');
      const log = await exchange(a, b, bVersions);
      expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
      const items = aeItems(log);
      const sketch = items.find((it) => it.kind === 'sketch');
      expect(sketch).toBeDefined();
      expect(roundTrips(log)).toBeLessThanOrEqual(2);
      return { widths: new Set(items.flatMap((it) => (it.kind === 'node' ? [it.hash.length] : []))), packed: sketch?.kind === 'sketch' && sketch.packed === true };
    };
    expect(await forms()).toEqual({ widths: new Set([6]), packed: true });
    expect(await forms([5, 6, 7])).toEqual({ widths: new Set([8]), packed: false });
  });

  it('a peer of the last release (protocol 6) gets the Merkle path', async () => {
    const [a, b] = await twins(5000);
    for (let i = 0; i < 20; i++) await a.space(SPACE).put(`k${i * 131}`, 'changed');
    const log = await exchange(a, b, [5, 6]);
    expect(await dump(a, SPACE)).toEqual(await dump(b, SPACE));
    const items = aeItems(log);
    expect(items.some((it) => it.kind === 'sketch' || it.kind === 'keys' || it.kind === 'hashes')).toBe(false);
    expect(items.some((it) => it.kind === 'range')).toBe(true);
  });
});

describe('fast-path items from a hostile peer', () => {
  const received = decodedFrom;


  it.each<[string, AeItem]>([
    ['a sketch that answers no opening of ours', { kind: 'sketch', level: 1, nodes: [2], m: 1, cells: new Uint32Array(3) }],
    ['claims wanted back where we claimed nothing', { kind: 'wanted', bits: new Uint8Array([1]) }],
  ])('%s closes the link', async (_, item) => {
    const r = await replica();
    await r.space(SPACE).put('k', 1);
    const { conn, raw, peer, got, closed } = await connectRaw(r);
    await until(() => got.length > 1, 'the replica syncing the space');
    conn.send(encodeMessage({ type: MsgType.AntiEntropy, space: SPACE, run: 5, top: 1, items: [item], want: [], final: false }, [raw.id, peer]));
    await until(() => closed() !== undefined, 'the link closing');
    expect(closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
  });

  it('a replica announcing an earlier release refuses items of a later one (as its decoder would); one announcing 8 reads them', async () => {
    const opening = (width: 6 | 8): AeItem[] => Array.from({ length: 16 }, (_, i) => ({ kind: 'node' as const, level: 1, index: i, hash: '0'.repeat(width) }));
    const outcome = async (speaks: number[] | undefined, width: 6 | 8) => {
      const r = await replica();
      if (speaks) r.core.speaks = speaks;
      for (let i = 0; i < 40; i++) await r.space(SPACE).put(`k${i}`, i);
      const { conn, raw, peer, got, closed } = await connectRaw(r);
      await until(() => got.length > 1, 'the replica syncing the space');
      const mark = got.length;
      conn.send(encodeMessage({ type: MsgType.AntiEntropy, space: SPACE, run: 5, top: 1, items: opening(width), want: [], final: false }, [raw.id, peer]));
      await until(() => closed() !== undefined || received(got, mark, [peer, raw.id]).some((m) => m.type === MsgType.AntiEntropy), 'an answer or the link closing');
      return closed()?.code ?? 'answered';
    };
    expect(await outcome([5, 6, 7], 6)).toBe(CloseCode.PROTOCOL_ERROR);
    expect(await outcome([5, 6, 7], 8)).toBe('answered');
    expect(await outcome(undefined, 6)).toBe('answered');
  });

  it('thousands of asked-for hashes get the states of the keys we hold under them, each once, nothing more', async () => {
    const r = await replica();
    for (let i = 0; i < 300; i++) await r.space(SPACE).put(`k${i}`, big(`v${i}`));
    const { conn, raw, peer, got } = await connectRaw(r);
    await until(() => got.length > 1, 'the replica syncing the space');
    // The opening of a run, with three of the sixteen nodes made to differ: the replica answers with a sketch.
    const tree = new MerkleTree();
    for (const [k, rec] of await r.core.storage.scan(SPACE, { limit: 1e9 })) tree.set(k, rec.h);
    const run = 77;
    const send = (m: Message) => conn.send(encodeMessage(m, [raw.id, peer]));
    const nodes = Array.from({ length: 16 }, (_, i) => ({ kind: 'node' as const, level: 1, index: i, hash: i < 3 ? '00000000' : wireHash(tree.hash(1, i), run) }));
    let mark = got.length;
    send({ type: MsgType.AntiEntropy, space: SPACE, run, top: 1, items: nodes, want: [], final: false });
    await until(() => received(got, mark, [peer, raw.id]).some((m) => m.type === MsgType.AntiEntropy), 'the sketch');
    const sketch = received(got, mark, [peer, raw.id]).flatMap((m) => (m.type === MsgType.AntiEntropy ? m.items : [])).find((it) => it.kind === 'sketch');
    expect(sketch && sketch.kind === 'sketch' && sketch.nodes).toEqual([0, 1, 2]);
    // Now 4 000 hashes, one of them a key's the replica holds.
    const target = 'k7';
    const hashes = Array.from({ length: 4000 }, (_, i) => (i * 2654435761) % 2 ** 30);
    hashes[100] = keyHash(target, bucketOf(target));
    mark = got.length;
    send({ type: MsgType.AntiEntropy, space: SPACE, run, top: 0, items: [{ kind: 'hashes', hashes }], want: [], final: false });
    await until(() => received(got, mark, [peer, raw.id]).some((m) => m.type === MsgType.AntiEntropy), 'the answer');
    const states = received(got, mark, [peer, raw.id]).flatMap((m) => (m.type === MsgType.Changes ? m.entries.map(([k]) => k) : []));
    expect(states).toContain(target);
    expect(new Set(states).size).toBe(states.length);
    // At most the keys whose hash was named (a random hash meets one of 300 keys about once in 3.6 million).
    for (const k of states) expect(hashes).toContain(keyHash(k, bucketOf(k)));
  });

  it('floods of openings from two sessions share one credit of sketches per space; it refills with the clock', async () => {
    let clock = 1_790_000_000_000;
    const r = await replica({ now: () => clock });
    for (let i = 0; i < 300; i++) await r.space(SPACE).put(`k${i}`, i);
    const tree = new MerkleTree();
    for (const [k, rec] of await r.core.storage.scan(SPACE, { limit: 1e9 })) tree.set(k, rec.h);
    const flooders = [await connectRaw(r), await connectRaw(r)];
    for (const { got } of flooders) await until(() => got.length > 1, 'the replica syncing the space');
    let run = 0;
    /** The first item of the replica's answer to an opening whose nodes all differ but the last. */
    const answer = async ({ conn, raw, peer, got }: Awaited<ReturnType<typeof connectRaw>>) => {
      const mark = got.length;
      run++;
      const nodes = Array.from({ length: 16 }, (_, i) => ({ kind: 'node' as const, level: 1, index: i, hash: i < 15 ? '00000000' : wireHash(tree.hash(1, i), run) }));
      conn.send(encodeMessage({ type: MsgType.AntiEntropy, space: SPACE, run, top: 1, items: nodes, want: [], final: false }, [raw.id, peer]));
      await until(() => received(got, mark, [peer, raw.id]).some((m) => m.type === MsgType.AntiEntropy && !m.more), `the answer to run ${run}`);
      return received(got, mark, [peer, raw.id]).flatMap((m) => (m.type === MsgType.AntiEntropy ? m.items : []))[0]!.kind;
    };
    const kinds: string[] = [];
    for (let i = 0; i < 170; i++) for (const f of flooders) kinds.push(await answer(f));
    // Each sketch passes over about 280 of the 300 keys; the credit is 8 passes of 10 000 keys (the floor).
    const sketches = kinds.filter((k) => k === 'sketch').length;
    expect(sketches).toBeGreaterThan(250);
    expect(sketches).toBeLessThan(300);
    expect(kinds.slice(-10)).toEqual(new Array(10).fill('node'));
    // Ten seconds later: one more pass of credit, about 35 sketches.
    clock += 10_000;
    const later: string[] = [];
    for (let i = 0; i < 50; i++) later.push(await answer(flooders[i % 2]!));
    const more = later.filter((k) => k === 'sketch').length;
    expect(more).toBeGreaterThan(30);
    expect(more).toBeLessThan(40);
  });
});
