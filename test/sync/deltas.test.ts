// Deltas on the wire (docs/deltas.md): a change to a document costs about the change; a receiver lacking a base asks
// for the whole state and never lets its cursor cover a version it lacks (crash included); a peer away for long gets
// the whole value; a connection dropped mid-stream loses nothing.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc, yjsValue, YJS_TYPE } from '../../adapters/yjs/index.js';
import { encodeValue } from '../../lib/values.js';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { gate } from './gate.js';
import { deltaOnLostBase } from './lost-base.js';
import { decodedFrom, synced, until } from './support.js';

const KEY = 'doc';
const text = (d: Y.Doc) => d.getText('body').toString();

async function stored(r: Replica, key = KEY): Promise<string> {
  const v = (await r.space('s').get(key))?.value as Uint8Array | undefined;
  const d = new Y.Doc();
  if (v) Y.applyUpdate(d, v);
  return text(d);
}

/** Types `n` lines at the end, one write each. */
async function typeLines(doc: Y.Doc, n: number, from = 0): Promise<void> {
  const t = doc.getText('body');
  for (let i = from; i < from + n; i++) {
    t.insert(t.length, `line ${i}: the quick brown fox jumps over the lazy dog\n`);
    await flushDoc(doc);
  }
}

const cursorOf = (r: Replica, peer: Replica) => r.core.storage.getMeta<{ e: string; s: number }>(`c:${peer.replicaId}:s`);

async function linked(storageB: StorageAdapter = memoryStorage()) {
  const a = await openReplica({ storage: memoryStorage() });
  const b = await openReplica({ storage: storageB });
  a.space('s');
  b.space('s');
  const [ta, tb] = pairTransports();
  const ga = gate(ta);
  const gb = gate(tb);
  const la = a.connect(ga.transport, { antiEntropyInterval: 0, backoff: { base: 5, max: 20 } });
  const lb = b.connect(gb.transport, { antiEntropyInterval: 0, backoff: { base: 5, max: 20 } });
  return { a, b, ga, gb, close: () => (la.close(), lb.close()) };
}

describe('deltas on the wire', () => {
  it('a keystroke into a large document travels as its delta, in one compact frame, and arrives exact', async () => {
    const { a, b, ga } = await linked();
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    const db = await openDoc(b.space('s'), KEY, { writeDelay: 0 });
    await typeLines(da, 300);
    await synced(a, b);
    expect(text(db)).toBe(text(da));
    const size = ((await a.space('s').get(KEY))!.value as Uint8Array).length;
    expect(size).toBeGreaterThan(15_000);
    for (let i = 0; i < 5; i++) {
      let update: Uint8Array | undefined;
      da.once('update', (u: Uint8Array) => (update = u));
      const before = ga.sent.length;
      da.getText('body').insert(1000 + i * 7, 'x');
      await flushDoc(da);
      await until(() => text(db) === text(da), 'the keystroke on b');
      const changes = ga.sent.slice(before).filter((f) => f[0] === MsgType.Changes || f[0] === MsgType.Live);
      expect(changes).toHaveLength(1);
      expect(changes[0]![0]).toBe(MsgType.Live);
      // The frame is the keystroke's Yjs update and a dozen bytes around it.
      expect(changes[0]!.length).toBeLessThanOrEqual(update!.length + 14);
    }
    expect(await stored(b)).toBe(text(da));
    const rec = await b.core.storage.get('s', KEY);
    expect(rec!.vs).toHaveLength(1);
    expect(rec!.vs[0]!.x).toBeDefined(); // held as its derivation until read
    await a.close();
    await b.close();
  });

  it('a delta against a base the receiver no longer holds: it stores the rest, asks NEED, and holds its cursor and ACKs until the state came whole', async () => {
    const { a, b, gb } = await linked();
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    const db = await openDoc(b.space('s'), KEY, { writeDelay: 0 });
    await typeLines(da, 50);
    await synced(a, b);
    const cursorBefore = (await cursorOf(b, a))!.s;
    // b writes over the version both hold while its frames to a are held: a still thinks b holds that version.
    await deltaOnLostBase(da, db, gb);
    await a.space('s').put('other', 'after the delta');
    await until(async () => (await b.space('s').get('other'))?.value === 'after the delta', 'the later entry stored on b');
    await until(() => gb.sent.some((f) => f[0] === MsgType.Need), 'b asking for the whole state');
    // The later frame is stored, but the cursor and the ACKs wait for the missing key.
    expect((await cursorOf(b, a))!.s).toBe(cursorBefore);
    const acksHeld = gb.sent.filter((f) => f[0] === MsgType.Ack).length;
    expect(await stored(b)).not.toContain('A');
    expect(b.status).not.toBe('synced');
    const released = gb.sent.length;
    gb.release();
    await synced(a, b);
    expect((await cursorOf(b, a))!.s).toBeGreaterThan(cursorBefore);
    expect(gb.sent.filter((f) => f[0] === MsgType.Ack).length).toBeGreaterThan(acksHeld);
    // Both held frames are answered by one ACK of the later (both sides read ACKs as cumulative: protocol 6), not
    // one each: no ACK after the release names a seq below the later frame's. (A frame of a's after the release may be
    // held with them and answered by that ACK: a's join of b's released write goes live to b, and may reach it before
    // a's answer to the NEED — then it brings the key whole and its seq is the one acknowledged.)
    const latest = (await a.core.storage.get('s', 'other'))!.seq;
    const acks = decodedFrom(gb.sent, released, [b.replicaId, a.replicaId]).flatMap((m) => (m.type === MsgType.Ack && m.upTo > 0 ? [m.upTo] : []));
    expect(acks[0]).toBeGreaterThanOrEqual(latest);
    expect(acks.every((u) => u >= latest)).toBe(true);
    await until(() => text(da) === text(db) && (text(da).startsWith('AB') || text(da).startsWith('BA')), 'both edits everywhere');
    expect(text(db)).toBe(text(da));
    expect(await stored(b)).toBe(text(da));
    expect(await stored(a)).toBe(text(da));
    await a.close();
    await b.close();
  });

  it('a crash while waiting for the whole state leaves no cursor covering the missing version; after it, the key arrives', async () => {
    const storage = volatileStorage();
    const { a, b, gb, close } = await linked(storage);
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    const db = await openDoc(b.space('s'), KEY, { writeDelay: 0 });
    await typeLines(da, 20);
    await synced(a, b);
    await deltaOnLostBase(da, db, gb);
    await a.space('s').put('other', 'kept');
    await until(async () => (await b.space('s').get('other'))?.value === 'kept', 'the later entry stored on b');
    await until(() => gb.sent.some((f) => f[0] === MsgType.Need), 'b asking for the whole state');
    // Crash: what b's disk holds now.
    const disk = await storage.crashed();
    db.destroy();
    close();
    await b.close();
    const b2 = await openReplica({ storage: disk });
    b2.space('s');
    expect(await stored(b2)).not.toContain('A'); // the missing version is not there…
    const top = (await a.core.storage.get('s', KEY))!.seq;
    expect((await cursorOf(b2, a))!.s).toBeLessThan(top); // …and the cursor does not cover it
    expect((await b2.space('s').get('other'))?.value).toBe('kept');
    const [t1, t2] = pairTransports();
    a.connect(t1, { antiEntropyInterval: 0 });
    b2.connect(t2, { antiEntropyInterval: 0 });
    await synced(a, b2);
    await until(async () => (await stored(b2)).includes('A'), 'the missing edit on b after the crash');
    expect(await stored(b2)).toBe(await stored(a));
    await a.close();
    await b2.close();
  });

  it('a peer away for a while gets the deltas since its cursor composed into one; away for longer than the chain, the whole value', async () => {
    const { a, b, ga, gb } = await linked();
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    await typeLines(da, 200);
    await synced(a, b);
    const away = async (edits: number, from: number) => {
      ga.offline();
      gb.offline();
      await until(() => a.status !== 'synced' && a.status !== 'syncing', 'a disconnected');
      await typeLines(da, edits, from);
      const before = ga.sent.length;
      ga.online();
      gb.online();
      await synced(a, b);
      expect(await stored(b)).toBe(text(da));
      // Every frame a sent: the value may travel in LIVE, LIVE_CLEARED (a string table cleared first), CHANGES or an
      // anti-entropy reply, whichever the reconnect takes (counting two kinds let a whole value pass unseen, in CI).
      return ga.sent.slice(before).reduce((n, f) => n + f.length, 0);
    };
    const size = () => a.space('s').get(KEY).then((g) => (g!.value as Uint8Array).length);
    const short = await away(10, 200);
    expect(short).toBeLessThan((await size()) / 4); // ten edits, one composed delta
    const long = await away(300, 210); // longer than a chain is kept
    expect(long).toBeGreaterThan((await size()) * 0.9);
    await a.close();
    await b.close();
  });

  it('a connection dropped with a value in flight loses nothing: nothing half-joined, and the value arrives after the reconnect', async () => {
    const { a, b, ga, close } = await linked();
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    await typeLines(da, 40);
    await synced(a, b);
    const before = await stored(b);
    ga.hold();
    await typeLines(da, 3, 40);
    await a.space('s').put('big', new Uint8Array(200_000).fill(7));
    await until(() => ga.held >= 2, 'frames in flight');
    ga.drop();
    close();
    expect(await stored(b)).toBe(before);
    expect(await b.space('s').get('big')).toBeUndefined();
    const [t1, t2] = pairTransports();
    a.connect(t1, { antiEntropyInterval: 0 });
    b.connect(t2, { antiEntropyInterval: 0 });
    await synced(a, b);
    expect(await stored(b)).toBe(text(da));
    expect(((await b.space('s').get('big'))!.value as Uint8Array).length).toBe(200_000);
    await a.close();
    await b.close();
  });
});

describe('a document version minted again', () => {
  it('when a remote state claims its dot for another write (a restore lost ours), the version minted again keeps its value, held as a delta or not', async () => {
    const a = await openReplica({ storage: memoryStorage() });
    const space = a.space('s');
    const doc = new Y.Doc();
    const t = doc.getText('body');
    const whole = (d: Y.Doc) => ({ value: yjsValue(Y.encodeStateAsUpdate(d)) });
    t.insert(0, 'first ');
    await space.writeWith(KEY, () => whole(doc));
    // The second write is a delta against the first: stored as its derivation (no value of its own yet).
    let delta: Uint8Array | undefined;
    doc.once('update', (u: Uint8Array) => (delta = u));
    t.insert(t.length, 'second');
    const w = await space.writeWith(KEY, () => ({ delta: delta!, type: YJS_TYPE }));
    const mine = (await a.core.storage.get('s', KEY))!.vs.find((v) => v.n === w.seq)!;
    expect(mine.v).toBeUndefined();
    expect(mine.x).toBeDefined();
    // A peer holds another write under the same dot (ours was lost by a restore, and minted again for this one).
    const other = new Y.Doc();
    other.getText('body').insert(0, 'lost write ');
    const theirs = { r: a.replicaId, n: w.seq, t: mine.t - 1, c: 0, v: encodeValue(yjsValue(Y.encodeStateAsUpdate(other)), 1 << 20) };
    await a.core.join('s', [[KEY, { vs: [theirs], cc: { [a.replicaId]: w.seq } }]]);
    const rec = (await a.core.storage.get('s', KEY))!;
    expect(rec.vs.map((v) => v.n).sort()).toEqual([w.seq, w.seq + 1]);
    const got = await space.get(KEY);
    expect(got?.conflict).toBe(false);
    const merged = new Y.Doc();
    Y.applyUpdate(merged, got!.value as Uint8Array);
    expect(text(merged)).toContain('first second');
    expect(text(merged)).toContain('lost write');
    await a.close();
  });
});
