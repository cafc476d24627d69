/**
 * When a receiver acknowledges log frames (lib/sync/ack-policy.ts): frames nobody waits for — a peer passing on
 * another replica's writes — are answered together by one ACK, at the latest after ACK_EVERY frames or once the
 * stream was quiet for a period of ACK_DELAY (a slowed stream is not answered every few frames);
 * frames carrying the sender's own writes, every frame where the receiver is a relay, and every frame of a peer that
 * speaks protocol 5 only are answered at once. Topology: w — h — c over in-memory pairs; c's delayed ACK timer is
 * held by the test (it fires only when told), so what goes when is decided by the policy, not by the clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pairTransports, type Replica, type Transport } from '../../lib/index.js';
import { ACK_DELAY, ACK_EVERY, SMALL_FRAME, TINY_EVERY, TINY_FRAME, WIDE_EVERY } from '../../lib/sync/ack-policy.js';
import { decodeMessage, encodeMessage, MsgType } from '../../lib/sync/messages.js';
import { defaultTimers, type Timers } from '../../lib/sync/session-state.js';
import { LogStream, TINY_WINDOW, WIDE_WINDOW, WINDOW } from '../../lib/sync/outgoing.js';
import { gate, type Gate } from './gate.js';
import { replicaPool, streamPort, tapped, until } from './support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

/** What a replica of the release before protocol 12 announces. */
const SPEAKS_11: readonly number[] = [...SPEAKS_10, 11];
import { fnv1a } from '../../lib/sync/sketch.js';

/** Timers whose ACK_DELAY timeouts wait for `fire()`; every other timeout runs as usual. */
function heldAckTimers() {
  const held = new Map<object, () => void>();
  const timers: Timers = {
    setTimeout(fn, ms) {
      if (ms !== ACK_DELAY) return defaultTimers.setTimeout(fn, ms);
      const handle = {};
      held.set(handle, fn);
      return handle;
    },
    clearTimeout(h) {
      if (h && typeof h === 'object' && held.delete(h)) return;
      defaultTimers.clearTimeout(h);
    },
  };
  return {
    timers,
    get waiting() {
      return held.size;
    },
    fire() {
      const fns = [...held.values()];
      held.clear();
      for (const fn of fns) fn();
    },
  };
}

/** A transport whose hellos claim protocol 5 only (a peer of the last release). */
function speaksFiveOnly(inner: Transport): Transport {
  return tapped(inner, (frame, conn) => {
    if (frame instanceof Uint8Array && frame[0] === MsgType.Hello) {
      const hello = decodeMessage(frame, { maxValueBytes: 1 << 20 });
      if (hello.type === MsgType.Hello) return conn.send(encodeMessage({ ...hello, versions: [5] }));
    }
    conn.send(frame);
  });
}

const pool = replicaPool();
afterEach(() => pool.closeAll());

const LOG_FRAMES = new Set<number>([MsgType.Changes, MsgType.Live, MsgType.LiveCleared]);
const count = (g: Gate, types: ReadonlySet<number>) => g.sent.filter((f) => types.has(f[0]!)).length;
const ACKS = new Set<number>([MsgType.Ack]);

/** w — h — c: c's side of its link to h is gated (its frames recorded) and its ACK timer held. */
async function chain(options: { hSpeaksFive?: boolean; cIsRelay?: boolean; cPhaseLast?: boolean; hSpeaks?: readonly number[]; cSpeaks?: readonly number[] } = {}) {
  // A peer speaking 5 only beside writers of 10 (SPEAKS_10): writers that met a peer at 11 would tag, and such a peer
  // then gets none of their keys (item 6).
  const o = options.hSpeaksFive ? { speaks: SPEAKS_10 } : {};
  const [w, h] = [await pool.replica(o), await pool.replica(options.hSpeaks ? { speaks: options.hSpeaks } : o)];
  const co = options.cSpeaks ? { speaks: options.cSpeaks } : o;
  let c = await pool.replica(co);
  // `cPhaseLast`: c's deferred ACK goes at the 16th frame of each ACK_EVERY (ack-policy.ts: a link's phase is a hash of
  // its replica's id and the space), so a test of fewer frames sees only the timer's ACKs, whatever ids were minted.
  for (let i = 0; options.cPhaseLast && fnv1a(`${c.replicaId} s`) % ACK_EVERY !== 0; i++) {
    if (i === 500) throw new Error('no replica id of phase 0 in 500 minted');
    c = await pool.replica(co);
  }
  if (options.cIsRelay) c.core.promptAcks = true;
  const [tw, th1] = pairTransports();
  w.connect(tw);
  h.connect(th1);
  const [th2, tc] = pairTransports();
  const toC = gate(options.hSpeaksFive ? speaksFiveOnly(th2) : th2);
  const fromC = gate(tc);
  const t = heldAckTimers();
  h.connect(toC.transport);
  c.connect(fromC.transport, { timers: t.timers });
  await until(() => [w, h, c].every((r) => r.status === 'synced'), 'the chain synced');
  return { w, h, c, toC, fromC, t };
}

/** Writes n keys on `r`, one frame each (every put waits for its first hop's ACK); `value`: each one's (its index). */
async function writeEach(r: Replica, prefix: string, n: number, value: (i: number) => unknown = (i) => i): Promise<void> {
  for (let i = 0; i < n; i++) await (await r.space('s').put(`${prefix}${i}`, value(i))).synced;
}

/** A value whose frame is small, not tiny (over TINY_FRAME bytes, well under SMALL_FRAME). */
const smallValue = (i: number) => `${i}`.padEnd(TINY_FRAME + 40, '.');

const has = (r: Replica, key: string) => async () => (await r.space('s').get(key)) !== undefined;

describe('acknowledging log frames', () => {
  it('answers frames of writes passed on by one ACK, once the stream was quiet for a period', async () => {
    const { w, h, c, toC, fromC, t } = await chain({ cPhaseLast: true });
    const frames0 = count(toC, LOG_FRAMES);
    const acks0 = count(fromC, ACKS);
    await writeEach(w, 'k', 5);
    await until(has(c, 'k4'), 'the writes on c');
    const frames = count(toC, LOG_FRAMES) - frames0;
    expect(frames).toBeGreaterThanOrEqual(2);
    // Nobody waits for these ACKs: none went yet, and h's stream to c still waits for one.
    expect(count(fromC, ACKS) - acks0).toBe(0);
    expect(t.waiting).toBe(1);
    expect(h.status).not.toBe('synced');
    // The period that ends saw frames after its first: another period, still no ACK.
    t.fire();
    expect(count(fromC, ACKS) - acks0).toBe(0);
    expect(t.waiting).toBe(1);
    // A period without a frame: the ACK goes.
    t.fire();
    await until(() => h.status === 'synced', 'h synced once c acknowledged');
    expect(count(fromC, ACKS) - acks0).toBe(1);
    expect(w.status).toBe('synced');
  });

  it('answers a frame of the sender’s own write at once', async () => {
    const { h, c, fromC, t } = await chain();
    const acks0 = count(fromC, ACKS);
    await h.space('s').put('own', 1);
    await until(has(c, 'own'), 'h’s write on c');
    // No timer fires in this test: the ACK goes because h may be waiting for it (its w.synced, its pending count).
    await until(() => count(fromC, ACKS) > acks0, 'c acknowledging h’s own write', 2000);
    await until(() => h.status === 'synced', 'h synced');
    expect(t.waiting).toBe(0);
  });

  // Where one end speaks 11 at most (a relay or a client of that release), tiny frames are answered as there: one
  // ACK in ACK_EVERY frames, the sender's window WINDOW. Where both speak WIDE_ACKS, small frames one in WIDE_EVERY, the
  // window WIDE_WINDOW, and tiny ones one in TINY_EVERY, the window TINY_WINDOW.
  for (const [name, ends, every, window, value] of [
    ['h of the release before (11)', { hSpeaks: SPEAKS_11 }, ACK_EVERY, WINDOW, undefined],
    ['c of the release before (11)', { cSpeaks: SPEAKS_11 }, ACK_EVERY, WINDOW, undefined],
    ['both at 12, small frames', {}, WIDE_EVERY, WIDE_WINDOW, smallValue],
    ['both at 12, tiny frames', {}, TINY_EVERY, TINY_WINDOW, undefined],
  ] as const) {
    it(`keeps the sender’s window open without the timer: one ACK at least every ${every} frames (${name})`, async () => {
      const { w, c, fromC, toC, t } = await chain(ends);
      const acks0 = count(fromC, ACKS);
      const frames0 = count(toC, LOG_FRAMES);
      const n = 3 * window;
      await writeEach(w, 'x', n, value);
      // More frames than the window holds reach c although the timer never fires.
      await until(has(c, `x${n - 1}`), 'every write on c', 20_000);
      const frames = count(toC, LOG_FRAMES) - frames0;
      const acks = count(fromC, ACKS) - acks0;
      expect(frames).toBeGreaterThan(window);
      expect(acks).toBeGreaterThanOrEqual(Math.floor(frames / every));
      expect(acks).toBeLessThanOrEqual(Math.ceil(frames / every));
      t.fire();
    }, 30_000);
  }

  it('answers a slowed stream (a timer period ending every few frames) once every ACK_EVERY frames, not every period', async () => {
    // c's phase the last of each ACK_EVERY frames: the held timer's periods end on every 4th frame here, so its phase ACK
    // goes as a period ends. (With another phase, a period armed by the frame just after a phase ACK would end at once
    // here — a real one runs ACK_DELAY from that frame —, and 1 in 4 minted ids saw 8 ACKs for 64 frames.)
    const { w, c, fromC, toC, t } = await chain({ cPhaseLast: true });
    const acks0 = count(fromC, ACKS);
    const frames0 = count(toC, LOG_FRAMES);
    const n = 2 * WINDOW;
    for (let i = 0; i < n; i++) {
      await (await w.space('s').put(`y${i}`, i)).synced;
      await until(has(c, `y${i}`), `y${i} on c`);
      if (i % 4 === 3) t.fire(); // the machine is loaded: four frames in each period of ACK_DELAY
    }
    const frames = count(toC, LOG_FRAMES) - frames0;
    expect(frames).toBeGreaterThanOrEqual(n);
    expect(count(fromC, ACKS) - acks0).toBeLessThanOrEqual(Math.ceil(frames / ACK_EVERY) + 1);
    t.fire();
    t.fire();
    await until(() => w.status === 'synced' && count(fromC, ACKS) > acks0, 'the last frames acknowledged once quiet');
  }, 30_000);

  // Runs of smaller frames longer than the larger one's window, then a larger one while they wait unacknowledged: each
  // larger one makes c answer at once, or within its tier's frames (more ACKs than the smaller frames alone would cost).
  for (const [name, n, value, every] of [
    ['small and large frames mix at 12 (a large one out: WINDOW again)', 2 * WIDE_WINDOW, (i: number) => (i % 40 === 39 ? 'x'.repeat(SMALL_FRAME + 100) : smallValue(i)), WIDE_EVERY],
    ['tiny and large frames mix at 12 (a large one out: WINDOW again)', 2 * WIDE_WINDOW, (i: number) => (i % 40 === 39 ? 'x'.repeat(SMALL_FRAME + 100) : i), TINY_EVERY],
    ['tiny and small frames mix at 12 (a small one out: WIDE_WINDOW again)', TINY_WINDOW, (i: number) => (i % 200 === 199 ? smallValue(i) : i), TINY_EVERY],
  ] as const) {
    it(`keeps the window open without the timer where ${name}`, async () => {
      const { w, c, fromC, toC, t } = await chain();
      const acks0 = count(fromC, ACKS);
      const frames0 = count(toC, LOG_FRAMES);
      await writeEach(w, 'm', n, value);
      await until(has(c, `m${n - 1}`), 'every write on c', 20_000);
      const frames = count(toC, LOG_FRAMES) - frames0;
      expect(frames).toBeGreaterThanOrEqual(n);
      expect(count(fromC, ACKS) - acks0).toBeGreaterThan(Math.ceil(frames / every));
      t.fire();
    }, 30_000);
  }

  it('answers every frame at once where the sender speaks protocol 5 only, or the receiver is a relay', async () => {
    for (const options of [{ hSpeaksFive: true }, { cIsRelay: true }]) {
      const { w, c, fromC, toC } = await chain(options);
      const acks0 = count(fromC, ACKS);
      const frames0 = count(toC, LOG_FRAMES);
      await writeEach(w, 'k', 5);
      await until(has(c, 'k4'), 'the writes on c');
      await until(() => count(fromC, ACKS) - acks0 === count(toC, LOG_FRAMES) - frames0, `one ACK per frame (${JSON.stringify(options)})`, 2000);
      await pool.closeAll();
    }
  });
});

describe('LogStream (outgoing.ts)', () => {
  it('takes one ACK for every frame up to its seq', () => {
    const sent: number[] = [];
    let last = 0;
    const stream = new LogStream('s', streamPort(sent, { readLog: async () => [], lastSeq: () => last }), () => 0);
    stream.start(0, 0);
    const rec = (seq: number) => ({ seq, src: 'other', vs: [], cc: {} });
    return (async () => {
      await Promise.resolve();
      for (let seq = 1; seq <= 3; seq++) {
        stream.changed({ space: 's', key: `k${seq}`, rec: rec(seq) } as never, last);
        last = seq;
        await Promise.resolve(); // each change its own frame (one frame per tick)
      }
      expect(sent).toEqual([1, 2, 3]);
      expect(stream.busy).toBe(true);
      stream.ack(2);
      expect(stream.busy).toBe(true); // frame 3 still waits
      stream.ack(3);
      expect(stream.busy).toBe(false);
      expect(stream.done).toBe(true);
    })();
  });
});
