/**
 * Protocol 11 in sessions (lib/sync/epoch-wire.ts; not announced by default yet, so the replicas here announce it
 * through ReplicaCore.speaks, as the simulator plays releases): two replicas that both speak 11 sync by catch-up,
 * live frames and anti-entropy, and every frame one sends after its hello is written at 11 (it decodes with the
 * protocol 11 decoder to the versions it stores, HLC logical counters included, where the word differs from 10's).
 * A replica speaking 11 and a peer of an earlier release (5, 9, 10) still connect and sync, at the older protocol;
 * a key whose state names an epoch is left out of a frame to such a peer and reported, the rest of the frame goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { ConnTableIn } from '../../lib/sync/conn-table.js';
import type { EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, MsgType, PROTOCOL_VERSIONS, type Message } from '../../lib/sync/messages.js';
import { ConcordError } from '../../lib/errors.js';
import { stagingLimit } from '../../lib/sync/key-parts.js';
import { Wire } from '../../lib/sync/wire.js';
import { dump, synced, tapped } from './support.js';

const WITH_11 = [...PROTOCOL_VERSIONS.filter((v) => v < 11), 11];
const ME = 'sender-id-aaaaaaaaaaaa';
const PEER = 'receiver-id-bbbbbbbbbb';
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

type WithCore = { core: { speaks?: readonly number[] } };

async function replica(speaks: readonly number[], keys: string): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  (r as unknown as WithCore).core.speaks = speaks;
  open.push(r);
  // Many writes in one go: several share a millisecond, so their HLC logical counters pass 0.
  await Promise.all(Array.from({ length: 150 }, (_, i) => r.space('s').put(`${keys}${i}`, { i })));
  return r;
}

/** Syncs a and b (a's frames recorded), with a round of anti-entropy; then live writes on a. */
async function run(a: Replica, b: Replica): Promise<Uint8Array[]> {
  const sent: Uint8Array[] = [];
  const [ta, tb] = pairTransports();
  a.connect(
    tapped(ta, (frame, conn) => (frame instanceof Uint8Array && sent.push(frame), conn.send(frame))),
    { antiEntropyInterval: 0 },
  );
  b.connect(tb, { antiEntropyInterval: 0 });
  await synced(a, b);
  // One at a time, each synced before the next: single log entries, which go as LIVE frames.
  for (let i = 0; i < 20; i++) {
    await a.space('s').put(`live${i}`, { i });
    await a.whenSynced();
  }
  await synced(a, b);
  expect(await dump(b, 's')).toEqual(await dump(a, 's'));
  return sent;
}

/**
 * Decodes a's frames after its hello in order (the connection's table for LIVE frames), at 11 when `link`, and checks
 * every version against a's stored record: returns how many versions had a logical counter above 0.
 */
async function check(a: Replica, b: Replica, frames: readonly Uint8Array[], link: EpochLink | undefined): Promise<{ versions: number; logical: number; kinds: Set<number> }> {
  const table = [a.replicaId, b.replicaId];
  const conn = new ConnTableIn(table);
  let versions = 0;
  let logical = 0;
  const kinds = new Set<number>();
  for (const f of frames.slice(frames.findIndex((f) => f[0] === MsgType.Hello) + 1)) {
    kinds.add(f[0]!);
    const m: Message = decodeMessage(f, { maxValueBytes: 1 << 20, table, conn, epochs: link });
    if (m.type !== MsgType.Changes) continue;
    for (const [key, s] of m.entries as ReadonlyArray<readonly [string, KeyState]>) {
      const rec = await a.core.storage.get('s', key);
      for (const v of s.vs) {
        const stored = rec!.vs.find((x) => x.r === v.r && x.n === v.n);
        expect(stored, key).toBeDefined();
        expect([v.t, v.c], key).toEqual([stored!.t, stored!.c]);
        versions++;
        if (v.c > 0) logical++;
      }
    }
  }
  return { versions, logical, kinds };
}

describe('protocol 11 in sessions', () => {
  it('two replicas speaking 11 sync (catch-up, anti-entropy, live) and every frame goes at 11', async () => {
    const a = await replica(WITH_11, 'a');
    const b = await replica(WITH_11, 'b');
    const frames = await run(a, b);
    const learned = new Epochs();
    const link: EpochLink = {
      me: { id: b.replicaId, chain: [] },
      peer: { id: a.replicaId, chain: [] },
      reg: () => learned,
      learn: (r, records) => learned.learnChain(r, records),
    };
    const got = await check(a, b, frames, link);
    expect(got.versions).toBeGreaterThanOrEqual(170);
    // Versions whose word differs between 10 and 11 went, and decoded at 11 to what a stores.
    expect(got.logical).toBeGreaterThan(0);
    expect(got.kinds.has(MsgType.AntiEntropy)).toBe(true);
    expect(got.kinds.has(MsgType.Live) || got.kinds.has(MsgType.LiveCleared)).toBe(true);
  });

  for (const newest of [5, 9, 10]) {
    it(`a replica speaking 11 and a peer of an earlier release (up to ${newest}) sync at the older protocol`, async () => {
      const a = await replica(WITH_11, 'a');
      const b = await replica(
        PROTOCOL_VERSIONS.filter((v) => v <= newest),
        'b',
      );
      const got = await check(a, b, await run(a, b), undefined);
      expect(got.versions).toBeGreaterThanOrEqual(170);
      expect(got.logical).toBeGreaterThan(0);
      // And the other way round: the newer one is the one recorded.
      const c = await replica(PROTOCOL_VERSIONS.filter((v) => v <= newest), 'c');
      const d = await replica(WITH_11, 'd');
      expect((await check(c, d, await run(c, d), undefined)).versions).toBeGreaterThanOrEqual(170);
    });
  }
});

describe('a state naming an epoch, for a peer below 11', () => {
  const tagged: KeyState = { vs: [{ r: ME, n: 3, t: 5, c: 0, ep: 'E1', v: '1' }], cc: { [ME]: 3 }, pts: { [ME]: [{ e: 'E1', n: 3 }] } };
  const plain: KeyState = { vs: [{ r: ME, n: 4, t: 5, c: 0, v: '2' }], cc: { [ME]: 4 } };

  function wire(at11: boolean) {
    const reports: unknown[] = [];
    const withheld: string[] = [];
    const w = new Wire(
      (e) => reports.push(e),
      (_space, keys) => void withheld.push(...keys),
    );
    w.start(ME, PEER, 0, at11 ? { mine: [], theirs: [] } : undefined);
    const frames: Uint8Array[] = [];
    w.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['t', tagged], ['p', plain]] }, 1 << 20, (f) => frames.push(f));
    const link: EpochLink | undefined = at11 ? { me: { id: PEER, chain: [] }, peer: { id: ME, chain: [] }, reg: () => new Epochs(), learn: () => {} } : undefined;
    const conn = new ConnTableIn([ME, PEER]);
    const got = frames.map((f) => decodeMessage(f, { maxValueBytes: 1 << 20, table: [ME, PEER], conn, epochs: link }));
    return { reports, withheld, keys: got.flatMap((m) => (m.type === MsgType.Changes ? m.entries.map(([k]) => k) : [])) };
  }

  it('is left out of the frame and reported (PROTOCOL); the rest of the frame goes', () => {
    const old = wire(false);
    expect(old.keys).toEqual(['p']);
    expect(old.withheld).toEqual(['t']);
    expect(old.reports).toHaveLength(1);
    expect(old.reports[0]).toBeInstanceOf(ConcordError);
    expect((old.reports[0] as ConcordError).code).toBe('PROTOCOL');
    expect(String(old.reports[0])).toMatch(/names an epoch, which the peer's protocol \(below 11\) cannot carry/);
    // At 11 both go.
    const now = wire(true);
    expect(now.keys).toEqual(['t', 'p']);
    expect(now.reports).toEqual([]);
  });

  it('goes as its context alone where the context has entries a peer below 11 can carry; the key stays left out', () => {
    const Q = 'third-replica-cccccccc';
    // The state's own replica has a version and points: left out of the context; Q, untagged and with no version, goes.
    const withQ: KeyState = { ...tagged, cc: { ...tagged.cc, [Q]: 7 } };
    const reports: unknown[] = [];
    const withheld: string[] = [];
    const w = new Wire((e) => reports.push(e), (_space, keys) => void withheld.push(...keys));
    w.start(ME, PEER, 0, undefined);
    const frames: Uint8Array[] = [];
    const told: Message[] = [];
    w.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['t', withQ], ['p', plain]] }, 1 << 20, (f, m) => (frames.push(f), told.push(m)));
    const conn = new ConnTableIn([ME, PEER]);
    const got = frames.map((f) => decodeMessage(f, { maxValueBytes: 1 << 20, table: [ME, PEER], conn }));
    const entries = got.flatMap((m) => (m.type === MsgType.Changes ? m.entries : []));
    expect(entries.map(([k]) => k)).toEqual(['t', 'p']);
    expect(entries[0]![1]).toEqual({ vs: [], cc: { [Q]: 7 } });
    // The session is told the frame carried p alone: t is withheld, not acknowledged by this frame.
    expect(told.flatMap((m) => (m.type === MsgType.Changes ? m.entries.map(([k]) => k) : []))).toEqual(['p']);
    expect(withheld).toEqual(['t']);
    expect((reports[0] as ConcordError).code).toBe('PROTOCOL');
  });

  it('is claimed as nothing in an anti-entropy turn (the peer sends its state whole); at 11 its claim goes as it is', () => {
    for (const at11 of [false, true]) {
      const w = new Wire(() => {});
      w.start(ME, PEER, 0, at11 ? { mine: [], theirs: [] } : undefined);
      const frames: Uint8Array[] = [];
      const keys = [['t', tagged] as const, ['p', plain] as const];
      w.send({ type: MsgType.AntiEntropy, space: 's', run: 1, top: 0, final: false, want: [], items: [{ kind: 'keys', keys }] }, 1 << 20, (f) => frames.push(f));
      const link: EpochLink | undefined = at11 ? { me: { id: PEER, chain: [] }, peer: { id: ME, chain: [] }, reg: () => new Epochs(), learn: () => {} } : undefined;
      const m = decodeMessage(frames[0]!, { maxValueBytes: 1 << 20, table: [ME, PEER], epochs: link });
      const claims = m.type === MsgType.AntiEntropy && m.items[0]!.kind === 'keys' ? m.items[0]!.keys : [];
      expect(claims.map(([k, st]) => [k, st.vs.map((v) => [v.n, v.ep]), st.pts])).toEqual([
        ['t', at11 ? [[3, 'E1']] : [], at11 ? { [ME]: [{ e: 'E1', n: 3 }] } : undefined],
        ['p', [[4, undefined]], undefined],
      ]);
    }
  });
});

describe('protocol 11: a tagged key state too large for one frame', () => {
  it('goes in parts and arrives whole, epochs and points included', () => {
    const FRAME = 16 * 1024;
    const big = (i: number) => JSON.stringify(`${i}:`.padEnd(5000, 'x'));
    // In canonical order (PEER's id sorts first).
    const vs = [
      { r: PEER, n: 5, t: 12, c: 0, v: big(3) },
      { r: PEER, n: 6, t: 13, c: 0, ep: 'E9', v: big(4) },
      { r: ME, n: 3, t: 10, c: 0, ep: 'E1', v: big(1) },
      { r: ME, n: 7, t: 11, c: 2, ep: 'E2', v: big(2) },
    ];
    const state: KeyState = { vs, cc: { [ME]: 9, [PEER]: 6 }, pts: { [ME]: [{ e: 'E1', n: 4 }, { e: 'E2', n: 9 }], [PEER]: [{ e: '', n: 5 }, { e: 'E9', n: 6 }] } };
    const sentReg = new Epochs();
    sentReg.learn(ME, [
      ['E1', 1],
      ['E2', 5],
    ]);
    const sender = new Wire(
      (e) => {
        throw e;
      },
      () => {},
      () => sentReg,
    );
    sender.start(ME, PEER, stagingLimit(FRAME), { mine: [], theirs: [] });
    const learned = new Epochs();
    const receiver = new Wire(
      (e) => {
        throw e;
      },
      () => {},
      () => learned,
    );
    receiver.start(PEER, ME, stagingLimit(FRAME), { mine: [], theirs: [] });
    const frames: Uint8Array[] = [];
    sender.send({ type: MsgType.Changes, space: 's', upTo: 4, entries: [['big', state]] }, FRAME, (f) => frames.push(f));
    expect(frames.filter((f) => f[0] === MsgType.Part).length).toBeGreaterThan(1);
    const got = frames.map((f) => receiver.decode(f, 1 << 20)).filter((m) => m !== undefined);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    if (m.type !== MsgType.Changes) throw new Error('not CHANGES');
    const [, s] = m.entries[0]!;
    expect(s.vs.map((v) => [v.r, v.n, v.ep, v.t, v.c, v.v])).toEqual(vs.map((v) => [v.r, v.n, v.ep, v.t, v.c, v.v]));
    expect([s.cc, s.pts]).toEqual([state.cc, state.pts]);
    // The receiver learned the chain of ME's epochs the frames named.
    expect(learned.parentOf(ME, 'E2')).toEqual({ parent: 'E1', fork: 5 });
    expect(learned.parentOf(ME, 'E1')).toEqual({ parent: '', fork: 1 });
  });
});
