// Anti-entropy with large values (protocol 4): range items carry each key's dots, so a value travels only to the side
// that lacks it. Bytes are counted over pairTransports (what each side sent, hellos included), never timed.
import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode, pairTransports, type Replica } from '../../lib/index.js';
import { encodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import { connectRaw } from '../values/hostile.js';
import { decodedFrom, dump, replicaPool, synced, until } from './support.js';

/** Values far larger than the tree walk's hashes (a level of 256 node hashes is 1 KB), so the figures show the values. */
const SIZE = 8000;
/** A value whose JSON is about SIZE bytes, different per tag. */
const big = (tag: string) => tag + ':' + 'x'.repeat(SIZE - tag.length - 1);

const pool = replicaPool();
const replica = pool.replica;
afterAll(() => pool.closeAll());

/** Copies every record of `from` into `to` (as a relay would hold them): equal states, no cursor. */
async function copyAll(from: Replica, to: Replica, only?: (k: string) => boolean): Promise<void> {
  const page = await from.core.storage.scan('s', { limit: 1e9 });
  await to.core.join('s', page.filter(([k]) => !only || only(k)).map(([k, rec]) => [k, { vs: rec.vs, cc: rec.cc }] as const));
}

/** `n` keys of big values on a fresh replica, and a second replica holding the same records. */
async function twins(n: number): Promise<[Replica, Replica]> {
  const a = await replica();
  for (let i = 0; i < n; i++) await a.space('s').put(`k${i}`, big(`base${i}`));
  const b = await replica();
  await copyAll(a, b);
  return [a, b];
}

/** Connects two replicas over an in-memory pair, waits until both are synced; the bytes each side sent. */
async function exchange(a: Replica, b: Replica): Promise<{ fromA: number; fromB: number }> {
  const [ta, tb] = pairTransports();
  const la = a.connect(ta, { antiEntropyInterval: 0 });
  const lb = b.connect(tb, { antiEntropyInterval: 0 });
  await synced(a, b);
  la.close();
  lb.close();
  return { fromA: ta.stats.bytes, fromB: tb.stats.bytes };
}

const versionsOf = async (r: Replica, key: string) => (await r.core.storage.get('s', key))?.vs.map((v) => `${v.r === r.replicaId ? 'me' : v.r}:${v.n}${v.d ? 'd' : ''}`);

describe('anti-entropy sends each value only to the side that lacks it', () => {
  // Both orientations: which side answers the range items depends on the replica ids and the tree's depth.
  it.each(['a', 'b'] as const)('d keys rewritten on one side (%s): the other sends no value, the bytes stay near the new values', async (writer) => {
    const [x, y] = await twins(300);
    const [w, other] = writer === 'a' ? [x, y] : [y, x];
    let records = 0;
    for (let i = 0; i < 300; i += 15) {
      const v = big(`new${i}`);
      await w.space('s').put(`k${i}`, v);
      records += `k${i}`.length + JSON.stringify(v).length;
    }
    const { fromA, fromB } = await exchange(x, y);
    const [fromWriter, fromOther] = writer === 'a' ? [fromA, fromB] : [fromB, fromA];
    for (let i = 0; i < 300; i += 15) expect((await other.space('s').get(`k${i}`))?.value).toBe(big(`new${i}`));
    expect(await dump(x, 's')).toEqual(await dump(y, 's'));
    // Before protocol 4 the other side sent its 20 old values too: now hashes, dots and acknowledgements.
    expect(fromOther).toBeLessThan(SIZE / 2);
    expect(fromWriter + fromOther).toBeLessThan(1.2 * records);
  });

  it('concurrent versions on both sides: siblings converge on both, and a version both hold does not travel', async () => {
    const [a, b] = await twins(200);
    const c = await replica();
    await copyAll(a, c);
    // k1: three concurrent writes; a and b each also hold c's. k2: b and c wrote concurrently, a holds only c's.
    await a.space('s').put('k1', big('A1'));
    await b.space('s').put('k1', big('B1'));
    await c.space('s').put('k1', big('C1'));
    await b.space('s').put('k2', big('B2'));
    await c.space('s').put('k2', big('C2'));
    await copyAll(c, a, (k) => k === 'k1' || k === 'k2');
    await copyAll(c, b, (k) => k === 'k1' || k === 'k2');
    expect(await versionsOf(a, 'k1')).toHaveLength(2);
    expect(await versionsOf(a, 'k2')).toHaveLength(1);
    const { fromA, fromB } = await exchange(a, b);
    for (const r of [a, b]) {
      expect(await versionsOf(r, 'k1')).toHaveLength(3);
      expect(await versionsOf(r, 'k2')).toHaveLength(2);
    }
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    const values = async (r: Replica, k: string) => (await r.space('s').scan(k).next()).value?.siblings.slice().sort();
    expect(await values(a, 'k1')).toEqual([big('A1'), big('B1'), big('C1')]);
    expect(await values(b, 'k2')).toEqual([big('B2'), big('C2')]);
    // a sends A1 alone; b sends B1 and B2. C1 and C2, held on both sides, never travel (before: 3 and 4 values).
    expect(fromA).toBeGreaterThan(SIZE);
    expect(fromA).toBeLessThan(1.5 * SIZE);
    expect(fromB).toBeGreaterThan(2 * SIZE);
    expect(fromB).toBeLessThan(2.5 * SIZE);
  });

  it('a key deleted on one side: deleted on both, and the side that still held the value does not send it', async () => {
    const [a, b] = await twins(200);
    await a.space('s').delete('k5');
    // k6: deleted on a while b wrote it concurrently: b's value survives on both (a lacks it: it goes whole).
    await a.space('s').delete('k6');
    await b.space('s').put('k6', big('B6'));
    const { fromA, fromB } = await exchange(a, b);
    for (const r of [a, b]) {
      expect(await r.space('s').get('k5')).toBeUndefined();
      expect((await r.space('s').get('k6'))?.value).toBe(big('B6'));
    }
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    // b sends B6 once, and neither its value of k5 nor its base of k6 (both superseded by a's deletes).
    expect(fromB).toBeGreaterThan(SIZE);
    expect(fromB).toBeLessThan(1.5 * SIZE);
    expect(fromA).toBeLessThan(SIZE / 2);
  });
});

describe('anti-entropy dots from a hostile peer', () => {
  /** The messages the replica sent the raw peer since `from` (LIVE frames, which need the connection's table, left out). */
  const received = decodedFrom;


  it('forged dots cost the peer values it then lacks, never a value or a version of the replica; another space closes the link', async () => {
    const r = await replica();
    for (let i = 0; i < 3; i++) await r.space('s').put(`k${i}`, big(`v${i}`));
    r.space('other');
    await r.space('other').put('secret', big('secret'));
    const { conn, raw, peer, got, closed } = await connectRaw(r);
    await until(() => got.length > 1, 'the replica syncing the space');
    const me = raw.id;
    const before = await dump(r, 's');
    const mark = got.length;
    const dots = (vs: Array<[string, number]>, cc?: Record<string, number>) => ({ vs: vs.map(([rid, n]) => ({ r: rid, n, t: 0, c: 0 })), cc: cc ?? Object.fromEntries(vs) });
    // k0: claims the replica's own version (it does not hold it); k1: claims to have seen far more of the replica's
    // writes, all superseded (a context with no version); k2: a version of its own the replica lacks; k9: a key the
    // replica does not have.
    const send = (m: Message) => conn.send(encodeMessage(m, [me, peer]));
    send({
      type: MsgType.AntiEntropy,
      space: 's',
      run: 7,
      top: 1,
      items: [{ kind: 'range', level: 0, index: 0, keys: [['k0', dots([[peer, 1]])], ['k1', dots([], { [peer]: 2 ** 40 })], ['k2', dots([[me, 3]])], ['k9', dots([[me, 1]])]] }],
      want: [],
      final: false,
    });
    await until(() => received(got, mark, [peer, me]).some((m) => m.type === MsgType.AntiEntropy), 'the replica answering the turn');
    const answer = received(got, mark, [peer, me]);
    const states = answer.flatMap((m) => (m.type === MsgType.Changes ? m.entries : []));
    const turn = answer.find((m) => m.type === MsgType.AntiEntropy)!;
    // Only k2 goes (the peer lacks the replica's version of it), with its value; k0 and k1 go nowhere.
    expect(states.map(([k]) => k)).toEqual(['k2']);
    expect(states[0]![1].vs[0]!.v).toBe(JSON.stringify(big('v2')));
    // It asks for what the peer claims it holds: k1 (the claimed context), k2 (the peer's version), k9.
    expect(turn.type === MsgType.AntiEntropy && turn.want.slice().sort()).toEqual(['k1', 'k2', 'k9']);
    // Nothing of the claims was stored: the replica's states are unchanged, and its next write of k1 mints a counter
    // of its own, not one past the forged context.
    expect(await dump(r, 's')).toEqual(before);
    await r.space('s').put('k1', 'after');
    expect((await r.core.storage.get('s', 'k1'))!.vs.map((v) => v.n)[0]).toBeLessThan(10);
    // Dots for a space the session does not sync: the link closes, nothing of that space is sent.
    const mark2 = got.length;
    send({ type: MsgType.AntiEntropy, space: 'other', run: 8, top: 1, items: [{ kind: 'range', level: 0, index: 0, keys: [['secret', dots([])]] }], want: ['secret'], final: false });
    await until(() => closed() !== undefined, 'the link closing');
    expect(closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(received(got, mark2, [peer, me]).filter((m) => m.type === MsgType.Changes && m.space === 'other')).toEqual([]);
  });

  it('a range of many claimed keys is answered with wants, not with more than the states of the keys the replica holds under it', async () => {
    const r = await replica();
    for (let i = 0; i < 3; i++) await r.space('s').put(`k${i}`, big(`v${i}`));
    const { conn, raw, peer, got } = await connectRaw(r);
    await until(() => got.length > 1, 'the replica syncing the space');
    const mark = got.length;
    const keys = Array.from({ length: 2000 }, (_, i) => [`x${i}`, { vs: [{ r: raw.id, n: 1, t: 0, c: 0 }], cc: { [raw.id]: 1 } }] as const);
    conn.send(encodeMessage({ type: MsgType.AntiEntropy, space: 's', run: 9, top: 1, items: [{ kind: 'range', level: 0, index: 0, keys: [...keys] }], want: [], final: false }, [raw.id, peer]));
    await until(() => received(got, mark, [peer, raw.id]).some((m) => m.type === MsgType.AntiEntropy && !m.more), 'the replica answering the turn');
    const answer = received(got, mark, [peer, raw.id]);
    const states = answer.flatMap((m) => (m.type === MsgType.Changes ? m.entries : []));
    expect(states.map(([k]) => k).sort()).toEqual(['k0', 'k1', 'k2']);
    const bytes = got.slice(mark).reduce((n, f) => n + f.byteLength, 0);
    expect(bytes).toBeLessThan(3 * (SIZE + 100) + 2000 * 8);
  });
});
