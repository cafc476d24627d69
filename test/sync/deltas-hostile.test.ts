// Hostile deltas (docs/deltas.md, "attacks"): a delta that does not apply to the base it names, or one that expands
// past maxValueBytes, is refused alone — the key keeps its state and is asked for whole (NEED), the rest of the frame
// is stored, the app is told, the link stays (closing it, the stream resumed with the same delta: a loop); a frame cut
// inside a value, a LIVE frame growing the connection's table without bound, NEED for what the asker may not see:
// each closes only that connection (4400) and stores nothing of its frame.
import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { yjsValue } from '../../adapters/yjs/index.js';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { CloseCode, ConcordError, memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { ConnTableOut } from '../../lib/sync/conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import type { Form } from '../../lib/sync/wire-state.js';
import { registerValueType, typedBytes, TypedBytes, type ValueType } from '../../lib/typed.js';
import { encodeValue } from '../../lib/values.js';
import { bytesType } from '../support/bytes-type.js';
import { connectRaw } from '../values/hostile.js';
import { until } from './support.js';

/** A test type whose delta `[k]` repeats its base k × 1000 times: a tiny delta, a huge value (no size bound declared). */
const bloat: ValueType<TypedBytes> = {
  ...bytesType('test-bloat'),
  apply: (base, delta) => {
    const out = new Uint8Array(base.length * delta[0]! * 1000);
    for (let i = 0; i < out.length; i += base.length) out.set(base, i);
    return typedBytes('test-bloat', out);
  },
};
registerValueType(bloat);

interface Peer {
  replica: Replica;
  id: string;
  peer: string;
  send(m: Message, forms?: Map<StoredVersion, Form>): void;
  sendRaw(f: Uint8Array): void;
  closed: () => { code: number; reason: string } | undefined;
  /** The frames the replica sent. */
  got: Uint8Array[];
  /** What the replica told on its error event. */
  errors: unknown[];
}

const open: Replica[] = [];
afterAll(async () => {
  for (const r of open) await r.close();
});

/** A replica and a raw peer synced on space 's' (both hellos exchanged, the peer's item sent). */
async function rawPeer(maxValueBytes?: number): Promise<Peer> {
  const replica = await openReplica({ storage: memoryStorage(), ...(maxValueBytes ? { maxValueBytes } : {}) });
  open.push(replica);
  replica.space('s');
  await replica.space('s').put('honest', 'kept');
  const errors: unknown[] = [];
  replica.on('error', (e) => errors.push(e));
  const { conn, raw, peer, got, closed } = await connectRaw(replica);
  await until(() => got.length > 1, 'the replica syncing the space');
  return {
    replica,
    id: raw.id,
    peer,
    got,
    errors,
    send: (m, forms) => conn.send(encodeMessage(m, [raw.id, peer], forms ? { forms } : {})),
    sendRaw: (f) => conn.send(f),
    closed,
  };
}

const doc = (s: string) => {
  const d = new Y.Doc();
  d.getText('t').insert(0, s);
  return d;
};

function version(r: string, n: number, v?: string | Uint8Array): StoredVersion {
  return v === undefined ? { r, n, t: Date.now(), c: 0 } : { r, n, t: Date.now(), c: 0, v };
}

/** Gives the replica `v` as the whole state of `key` at (peer, 1), by a repair frame. */
async function holds(p: Peer, key: string, v: string | Uint8Array): Promise<void> {
  p.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [[key, { vs: [version(p.id, 1, v)], cc: { [p.id]: 1 } }]] });
  await until(async () => (await p.replica.core.storage.get('s', key)) !== undefined, 'the base stored');
}

/** A log frame: `key` at (peer, 2) as `delta` against (peer, 1), beside a plain entry. */
function deltaFrame(p: Peer, key: string, delta: Uint8Array): void {
  const v = version(p.id, 2);
  const state: KeyState = { vs: [v], cc: { [p.id]: 2 } };
  const beside: KeyState = { vs: [version(p.id, 3, '"beside"')], cc: { [p.id]: 3 } };
  p.send({ type: MsgType.Changes, space: 's', upTo: 5, entries: [['beside', beside], [key, state]] }, new Map([[v, { kind: 'delta', b: [[p.id, 1]], d: delta }]]));
}

/** The keys the replica asked for whole (its NEED frames so far). */
function needed(p: Peer): string[] {
  const keys: string[] = [];
  for (const f of p.got) {
    try {
      const m = decodeMessage(f, { maxValueBytes: 1 << 20 });
      if (m.type === MsgType.Need) keys.push(...m.keys.map(([k]) => k));
    } catch {
      // a LIVE frame (it needs the connection's table): not a NEED
    }
  }
  return keys;
}

/**
 * The delta of `key` refused alone: the link open, the rest of the frame stored, the key at its base and asked for
 * whole, the app told (`why`), the cursor held; then the key sent whole (a repair state, as a NEED answer is) is
 * stored and releases the cursor.
 */
async function refused(p: Peer, key: string, base: string | Uint8Array, why: RegExp): Promise<void> {
  const s = p.replica.space('s');
  await until(async () => needed(p).includes(key) && (await s.get('beside'))?.value === 'beside', 'the rest stored and the key asked for');
  expect(p.closed()).toBeUndefined();
  const rec = await p.replica.core.storage.get('s', key);
  expect(rec!.vs.map((v) => v.n)).toEqual([1]);
  expect(rec!.vs[0]!.v).toEqual(base);
  expect(await p.replica.core.storage.getMeta(`c:${p.id}:s`)).not.toMatchObject({ s: 5 });
  expect((await s.get('honest'))?.value).toBe('kept');
  const told = p.errors.filter((e) => e instanceof ConcordError && e.code === 'PROTOCOL' && e.message.includes(`"${key}"`));
  expect(told).toHaveLength(1);
  expect((told[0] as Error).message).toMatch(why);
  // The whole state (the sender's answer to the NEED): stored, and the held cursor goes with it.
  p.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [[key, { vs: [version(p.id, 2, '"whole"')], cc: { [p.id]: 2 } }]] });
  await until(async () => (await s.get(key))?.value === 'whole', 'the key stored whole');
  await until(async () => ((await p.replica.core.storage.getMeta<{ s: number }>(`c:${p.id}:s`))?.s ?? 0) === 5, 'the cursor released');
  expect(p.closed()).toBeUndefined();
}

describe('hostile deltas', () => {
  it('a delta naming a base that is not a value with deltas (a plain value): refused alone, the key asked for whole, the link kept', async () => {
    const p = await rawPeer();
    await holds(p, 'k', '"plain"');
    deltaFrame(p, 'k', Y.encodeStateAsUpdate(doc('x')));
    await refused(p, 'k', '"plain"', /does not apply/);
  });

  it('a delta that is not a Yjs update, against a document it holds: refused alone, the key asked for whole, the link kept', async () => {
    const p = await rawPeer();
    const base = encodeValue(yjsValue(Y.encodeStateAsUpdate(doc('hello')))) as Uint8Array;
    await holds(p, 'd', base);
    deltaFrame(p, 'd', Uint8Array.of(5, 200, 1, 2, 3));
    await refused(p, 'd', base, /malformed delta/);
  });

  it('a tiny delta that expands past maxValueBytes: refused alone (nothing of 20 MB stored), the key asked for whole, the link kept', async () => {
    const p = await rawPeer(64 * 1024);
    const base = encodeValue(typedBytes('test-bloat', new Uint8Array(100).fill(1))) as Uint8Array;
    await holds(p, 'b', base);
    deltaFrame(p, 'b', Uint8Array.of(200)); // 100 B × 200 000 = 20 MB
    await refused(p, 'b', base, /maxValueBytes/);
  });

  it('a delta in a repair state (NEED answers and anti-entropy go whole) still closes with 4400', async () => {
    const p = await rawPeer();
    await holds(p, 'k', '"plain"');
    const v = version(p.id, 2);
    p.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [v], cc: { [p.id]: 2 } }]] }, new Map([[v, { kind: 'delta', b: [[p.id, 1]], d: Uint8Array.of(1) }]]));
    await until(() => p.closed() !== undefined, 'the connection closing');
    expect(p.closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
  });

  it('a delta that fits is stored as its derivation and reads back as the value the writer meant', async () => {
    const p = await rawPeer();
    const d = doc('hello');
    const base = encodeValue(yjsValue(Y.encodeStateAsUpdate(d))) as Uint8Array;
    await holds(p, 'd', base);
    const sv = Y.encodeStateVector(d);
    d.getText('t').insert(5, ' world');
    deltaFrame(p, 'd', Y.encodeStateAsUpdate(d, sv));
    await until(async () => (await p.replica.space('s').get('beside'))?.value === 'beside', 'the frame stored');
    const got = new Y.Doc();
    Y.applyUpdate(got, (await p.replica.space('s').get('d'))!.value as Uint8Array);
    expect(got.getText('t').toString()).toBe('hello world');
    expect(p.closed()).toBeUndefined();
  });

  it('a frame cut inside a value closes with 4400 and stores nothing of it', async () => {
    const p = await rawPeer();
    const big = encodeValue(new Uint8Array(50_000).fill(9)) as Uint8Array;
    const whole = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 3, entries: [['a', { vs: [version(p.id, 1, '"a"')], cc: { [p.id]: 1 } }], ['big', { vs: [version(p.id, 2, big)], cc: { [p.id]: 2 } }]] }, [p.id, p.peer]);
    p.sendRaw(whole.subarray(0, 25_000));
    await until(() => p.closed() !== undefined, 'the connection closing');
    expect(p.closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(await p.replica.space('s').get('a')).toBeUndefined();
    expect(await p.replica.space('s').get('big')).toBeUndefined();
  });

  it("LIVE frames that never clear the connection's string table are refused once it is full; what came before is kept", async () => {
    const p = await rawPeer();
    // A sender that never clears: each frame adds a new 1000-character key.
    const table = new ConnTableOut([p.id, p.peer]);
    table.begin = () => false;
    let sent = 0;
    for (let i = 1; i <= 80 && !p.closed(); i++) {
      const key = String(i).padStart(1000, 'k');
      p.sendRaw(encodeMessage({ type: MsgType.Changes, space: 's', upTo: i, entries: [[key, { vs: [version(p.id, i, String(i))], cc: { [p.id]: i } }]] }, undefined, { live: table }));
      sent = i;
      await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => p.closed() !== undefined, 'the connection closing');
    expect(p.closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(p.closed()!.reason).toMatch(/string table/);
    expect(sent).toBeLessThan(80);
    expect((await p.replica.space('s').get(String(1).padStart(1000, 'k')))?.value).toBe(1);
  });

  it('NEED for a space the session does not sync closes with 4400; NEED for absent keys is answered with empty states', async () => {
    const p = await rawPeer();
    p.send({ type: MsgType.Need, space: 's', keys: [['absent', ''], ['honest', 'yjs']] });
    await new Promise((r) => setTimeout(r, 50));
    expect(p.closed()).toBeUndefined();
    p.send({ type: MsgType.Need, space: 'other', keys: [['x', '']] });
    await until(() => p.closed() !== undefined, 'the connection closing');
    expect(p.closed()!.code).toBe(CloseCode.PROTOCOL_ERROR);
  });
});
