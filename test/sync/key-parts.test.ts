/**
 * Attacks on key states sent in parts (lib/sync/key-parts.ts, protocol 10): a connection cut between parts, a
 * truncated part, a hostile peer that sends parts without end or interleaves them, a newer write of the key while
 * its parts are on their way, and a peer of an earlier release (no parts: the key is reported, the link keeps on).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import type { StoredVersion } from '../../lib/dvv.js';
import { ProtocolError } from '../../lib/sync/codec.js';
import { lastOfParts, partFrames, stagingLimit } from '../../lib/sync/key-parts.js';
import { encodeMessage, MsgType, type Changes, type Part } from '../../lib/sync/messages.js';
import type { Transport } from '../../lib/transport.js';
import { Wire } from '../../lib/sync/wire.js';
import { synced, tapped, until } from './support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const FRAME = 16 * 1024;
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function replica(errors: unknown[] = [], speaks?: readonly number[]): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 8 * 1024, ...(speaks ? { speaks } : {}) });
  r.on('error', (e) => errors.push(e));
  r.space('s');
  open.push(r);
  return r;
}

const value = (i: number) => `${i}:`.padEnd(4000, String.fromCharCode(97 + i));

/** A hub holding 'big' with five concurrent siblings of 4 000 bytes (about 20 KB: over one 16 KiB frame). */
async function hub(errors: unknown[] = [], speaks?: readonly number[]): Promise<Replica> {
  const h = await replica(errors, speaks);
  for (let i = 0; i < 5; i++) {
    const w = await replica(errors, speaks);
    await w.space('s').put('big', value(i));
    const [tw, th] = pairTransports({ maxFrameBytes: FRAME });
    const lw = w.connect(tw, { antiEntropyInterval: 0 });
    const lh = h.connect(th, { antiEntropyInterval: 0 });
    await synced(w, h);
    lw.close();
    lh.close();
  }
  await until(async () => (await h.space('s').get('big'))?.versions.length === 5, 'the hub holds five siblings');
  return h;
}

function link(a: Replica, b: Replica, wrap: (t: Transport) => Transport = (t) => t) {
  const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
  return [a.connect(wrap(ta), { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })] as const;
}

const vOf = (r: string, n: number, v: string): StoredVersion => ({ r, n, t: 1000 + n, c: 0, v: JSON.stringify(v) });
const ME = 'a'.repeat(22);
const PEER = 'b'.repeat(22);

/** A receiving Wire (the peer speaks 10) and the frames a peer sends it, through the peer's string table. */
function receiver() {
  const wire = new Wire((e) => {
    throw e;
  });
  wire.start(ME, PEER, stagingLimit(FRAME));
  const enc = (m: Part | Changes) => encodeMessage(m, [PEER, ME]);
  const part = (key: string, vs: StoredVersion[]): Part => ({ type: MsgType.Part, space: 's', upTo: 0, entries: [[key, { vs, cc: Object.fromEntries(vs.map((v) => [v.r, v.n])) }]] });
  return { wire, enc, part };
}

describe('key states in parts', () => {
  it('a connection cut between parts joins nothing, and the next connection brings the whole key (the cursor did not pass it)', async () => {
    const h = await hub();
    const late = await replica();
    let parts = 0;
    let cut = false;
    // h's side is wrapped: after its first PART, the connection closes before the rest goes.
    const [lh, ll] = link(h, late, (t) =>
      tapped(t, (frame, conn) => {
        if (cut) return;
        if (frame instanceof Uint8Array && frame[0] === MsgType.Part && ++parts === 2) {
          cut = true;
          return conn.close(1000, 'cut between parts');
        }
        conn.send(frame);
      }),
    );
    await until(() => cut, 'the cut');
    lh.close();
    ll.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await late.space('s').get('big')).toBeUndefined();
    link(h, late);
    await synced(h, late);
    await until(async () => (await late.space('s').get('big'))?.versions.length === 5, 'the whole key after reconnecting');
    expect([...(await late.space('s').get('big'))!.siblings].sort()).toEqual([0, 1, 2, 3, 4].map(value).sort());
  });

  it('a write of the key racing its parts: both replicas end with the same state', async () => {
    const h = await hub();
    const late = await replica();
    const before = await h.space('s').get('big');
    link(h, late);
    // A resolving write on the hub while the late replica catches up (its parts may be on their way).
    const w = h.space('s').put('big', 'resolved', { context: before!.context });
    await until(async () => (await late.space('s').get('big'))?.value === 'resolved', 'the resolving write reaches late');
    await w;
    await synced(h, late);
    const [a, b] = [await h.space('s').get('big'), await late.space('s').get('big')];
    expect(b!.versions).toEqual(a!.versions);
    expect(b!.conflict).toBe(false);
  });

  it('a peer of an earlier release gets no parts: the key is reported VALUE_TOO_LARGE, the rest syncs', async () => {
    const errors: unknown[] = [];
    // 10's path: a hub that met peers at 11 tags its keys, and a peer of an earlier release then gets none (item 6).
    const h = await hub(errors, SPEAKS_10);
    await h.space('s').put('small', 1);
    const late = await replica();
    late.core.speaks = [5, 6, 7, 8, 9];
    const sentTypes: number[] = [];
    const [th, tl] = pairTransports({ maxFrameBytes: FRAME });
    h.connect(tapped(th, (f, c) => (f instanceof Uint8Array && sentTypes.push(f[0]!), c.send(f))), { antiEntropyInterval: 0 });
    late.connect(tl, { antiEntropyInterval: 0 });
    await until(async () => (await late.space('s').get('small'))?.value === 1, 'the small key');
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    expect(sentTypes).not.toContain(MsgType.Part);
    expect(await late.space('s').get('big')).toBeUndefined();
  });

  it('the receiver joins the parts only with the frame that ends them, as one state', () => {
    const { wire, enc, part } = receiver();
    const vs = [vOf(PEER, 1, 'x'), vOf(PEER, 3, 'y'), vOf(ME, 2, 'z')];
    expect(wire.decode(enc(part('k', vs.slice(0, 2))), 1 << 20)).toBeUndefined();
    expect(wire.decode(enc(part('k', vs.slice(2))), 1 << 20)).toBeUndefined();
    const last = lastOfParts({ type: MsgType.Changes, space: 's', upTo: 7, entries: [['k', { vs, cc: { [PEER]: 4, [ME]: 2 } }]] });
    const m = wire.decode(enc(last), 1 << 20) as Changes;
    expect(m.upTo).toBe(7);
    expect(m.entries[0]![1].cc).toEqual({ [PEER]: 4, [ME]: 2 });
    expect(m.entries[0]![1].vs.map((v) => `${v.r[0]}${v.n}`).sort()).toEqual(['a2', 'b1', 'b3']);
  });

  it('refuses parts interleaved with another key, another message, a duplicate dot, or a version outside the context', () => {
    const cases: Array<[string, (r: ReturnType<typeof receiver>) => Uint8Array]> = [
      ['another key', (r) => r.enc(r.part('other', [vOf(PEER, 9, 'q')]))],
      ['another message', () => encodeMessage({ type: MsgType.Ack, space: 's', upTo: 0 }, [PEER, ME])],
      ['another key ends', (r) => r.enc({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['other', { vs: [], cc: { [PEER]: 9 } }]] })],
      ['duplicate dot', (r) => r.enc({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [vOf(PEER, 1, 'x')], cc: { [PEER]: 1 } }]] })],
      ['outside the context', (r) => r.enc({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [], cc: { [PEER]: 0 + 1 } }]] })],
    ];
    for (const [what, next] of cases) {
      const r = receiver();
      r.wire.decode(r.enc(r.part('k', [vOf(PEER, 1, 'x'), vOf(PEER, 2, 'y')])), 1 << 20);
      expect(() => r.wire.decode(next(r), 1 << 20), what).toThrow(ProtocolError);
    }
  });

  it('a hostile peer sending parts without end is refused once they outgrow the staging limit', () => {
    const { wire, enc, part } = receiver();
    let staged = 0;
    let n = 0;
    const refused = () => {
      for (;;) {
        const f = enc(part('k', [vOf(PEER, ++n, 'v'.repeat(8000))]));
        staged += f.byteLength;
        wire.decode(f, 1 << 20);
      }
    };
    expect(refused).toThrow(/outgrew what this replica stages of one key/);
    expect(staged).toBeLessThanOrEqual(stagingLimit(FRAME) + FRAME);
    // Tiny parts (tombstones) are counted by version too: memory stays bounded.
    const r = receiver();
    let k = 0;
    expect(() => {
      for (;;) r.wire.decode(r.enc(r.part('k', [{ r: PEER, n: ++k, t: 1, c: 0, d: 1 }])), 1 << 20);
    }).toThrow(ProtocolError);
    expect(k).toBeLessThan(stagingLimit(FRAME) / 64 + 1);
  });

  it('a truncated part is a protocol error, and a PART from a peer that did not announce 10 is refused', () => {
    const { wire, enc, part } = receiver();
    const f = enc(part('k', [vOf(PEER, 1, 'x'.repeat(100))]));
    expect(() => wire.decode(f.slice(0, f.byteLength >> 1), 1 << 20)).toThrow(ProtocolError);
    const old = new Wire(() => {});
    old.start(ME, PEER);
    expect(() => old.decode(f, 1 << 20)).toThrow(/did not announce protocol 10/);
  });

  it('the sender frames every part under the limit, or none: a version alone over the limit is refused', () => {
    const vs = [0, 1, 2, 3, 4].map((i) => vOf(PEER, i + 1, value(i)));
    const frames = partFrames('s', ['k', { vs, cc: { [PEER]: 5 } }], FRAME, (m) => encodeMessage(m, [ME, PEER]));
    expect(Array.isArray(frames)).toBe(true);
    for (const f of frames as Uint8Array[]) expect(f.byteLength).toBeLessThanOrEqual(FRAME);
    expect((frames as Uint8Array[]).length).toBeGreaterThan(1);
    const one = partFrames('s', ['k', { vs: [vOf(PEER, 1, 'x'.repeat(FRAME))], cc: { [PEER]: 1 } }], FRAME, (m) => encodeMessage(m, [ME, PEER]));
    expect(one).toMatch(/over the connection's frame limit/);
  });
});
