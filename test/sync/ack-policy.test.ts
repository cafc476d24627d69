/**
 * When the deferred ACKs of a client go (lib/sync/ack-policy.ts), the policy alone on held timers: how many ACKs a
 * stream of frames nobody waits for costs, when the stream slows down (a loaded machine: the timer's period ends
 * every few frames) and when a relay's many clients receive the same frames in step (S7's fan-out).
 */
import { describe, expect, it } from 'vitest';
import { ACK_DELAY, ACK_EVERY, AckPolicy, SMALL_FRAME, TINY_EVERY, TINY_FRAME, WIDE_EVERY } from '../../lib/sync/ack-policy.js';
import { LogStream, TINY_WINDOW, WIDE_WINDOW, WINDOW } from '../../lib/sync/outgoing.js';
import type { KeyRecord } from '../../lib/storage.js';
import { streamPort } from './support.js';
import type { Timers } from '../../lib/sync/session-state.js';

/** Timers that fire only when told (`tick`: every timer due now runs). */
function heldTimers() {
  let due = new Map<object, () => void>();
  const timers: Timers = {
    setTimeout(fn, ms) {
      expect(ms).toBe(ACK_DELAY);
      const h = {};
      due.set(h, fn);
      return h;
    },
    clearTimeout(h) {
      due.delete(h as object);
    },
  };
  return {
    timers,
    get waiting() {
      return due.size;
    },
    tick() {
      const fns = [...due.values()];
      due = new Map();
      for (const fn of fns) fn();
    },
  };
}

/** A policy for link `link` whose ACKs land in `acks`. */
function policy(link: string, t = heldTimers(), closed = () => false) {
  const acks: number[] = [];
  return { acks, t, p: new AckPolicy((upTo) => acks.push(upTo), t.timers, closed, link) };
}

describe('AckPolicy', () => {
  it('a slowed stream (the timer period ends every 4 frames) is acknowledged about once every ACK_EVERY frames', () => {
    const { acks, t, p } = policy('c1 s');
    const n = 10 * ACK_EVERY;
    for (let f = 1; f <= n; f++) {
      p.stored(f, false);
      if (f % 4 === 0) t.tick();
    }
    expect(acks.length).toBeLessThanOrEqual(Math.ceil(n / ACK_EVERY) + 1);
    // Then the stream goes quiet: the last frames are acknowledged within two periods.
    t.tick();
    t.tick();
    expect(acks.at(-1)).toBe(n);
    expect(t.waiting).toBe(0);
  });

  it('never leaves more than ACK_EVERY frames (half the sender’s window) unacknowledged, timer or not', () => {
    const { acks, p } = policy('c2 s');
    let open = 0;
    for (let f = 1; f <= 4 * WINDOW; f++) {
      p.stored(f, false);
      open = acks.at(-1) === f ? 0 : open + 1;
      expect(open).toBeLessThan(ACK_EVERY);
    }
    expect(ACK_EVERY * 2).toBeLessThanOrEqual(WINDOW);
  });

  it('acknowledges a frame someone waits for at once, with the frames before it', () => {
    const { acks, t, p } = policy('c3 s');
    p.stored(1, false);
    p.stored(2, false);
    p.stored(3, true);
    expect(acks).toEqual([3]);
    expect(t.waiting).toBe(0);
  });

  it('sends nothing once the session closed, and a timer of a closed session stops', () => {
    let closed = false;
    const { acks, t, p } = policy('c4 s', heldTimers(), () => closed);
    p.stored(1, false);
    p.stored(2, false);
    closed = true;
    t.tick();
    t.tick();
    expect(acks).toEqual([]);
    expect(t.waiting).toBe(0);
  });

  it('answers the small frames of a peer speaking WIDE_ACKS once in WIDE_EVERY', () => {
    const { acks, p } = policy('c6 s');
    let open = 0;
    for (let f = 1; f <= 4 * WIDE_EVERY; f++) {
      p.stored(f, false, SMALL_FRAME);
      open = acks.at(-1) === f ? 0 : open + 1;
      expect(open).toBeLessThan(WIDE_EVERY);
    }
    // One at the link's phase in each WIDE_EVERY frames (ACK_EVERY's rule would have sent 16).
    expect(acks.length).toBe(4);
    expect(WIDE_EVERY * 2).toBeLessThanOrEqual(WIDE_WINDOW);
  });

  it('answers at once a large frame after ACK_EVERY small ones, and within ACK_EVERY frames while a large one waits', () => {
    const { acks, p } = policy('c7 s');
    let f = 0;
    let open = 0;
    // Small frames until more than ACK_EVERY wait (the sender may have WINDOW out, one of them the large one next).
    while (open <= ACK_EVERY && f < 2 * WIDE_EVERY) {
      p.stored(++f, false, SMALL_FRAME);
      open = acks.at(-1) === f ? 0 : open + 1;
    }
    expect(open).toBeGreaterThan(ACK_EVERY);
    p.stored(++f, false);
    expect(acks.at(-1)).toBe(f);
    // A large frame first, small ones after it: the large one waits for ACK_EVERY frames at most.
    p.stored(++f, false);
    const large = f;
    for (let i = 1; i < ACK_EVERY; i++) p.stored(++f, false, SMALL_FRAME);
    expect(acks.at(-1)).toBeGreaterThanOrEqual(large);
    // Once answered, small frames wait by WIDE_EVERY again.
    const before = acks.length;
    for (let i = 0; i < ACK_EVERY + 1; i++) p.stored(++f, false, SMALL_FRAME);
    expect(acks.length - before).toBeLessThanOrEqual(1);
  });

  it('answers the tiny frames of a peer speaking WIDE_ACKS once in TINY_EVERY, one byte more by WIDE_EVERY', () => {
    const { acks, p } = policy('c8 s');
    let open = 0;
    for (let f = 1; f <= 4 * TINY_EVERY; f++) {
      p.stored(f, false, TINY_FRAME);
      open = acks.at(-1) === f ? 0 : open + 1;
      expect(open).toBeLessThan(TINY_EVERY);
    }
    expect(acks.length).toBe(4);
    expect(TINY_EVERY * 2).toBeLessThanOrEqual(TINY_WINDOW);
    const small = policy('c8 s');
    for (let f = 1; f <= 4 * TINY_EVERY; f++) small.p.stored(f, false, TINY_FRAME + 1);
    expect(small.acks.length).toBe((4 * TINY_EVERY) / WIDE_EVERY);
  });

  it('answers at once a small frame after WIDE_EVERY tiny ones, and within WIDE_EVERY frames while a small one waits', () => {
    const { acks, p } = policy('c9 s');
    let f = 0;
    let open = 0;
    // Tiny frames until more than WIDE_EVERY wait (the sender may have TINY_WINDOW out, one of them the small one next).
    while (open <= WIDE_EVERY && f < 2 * TINY_EVERY) {
      p.stored(++f, false, TINY_FRAME);
      open = acks.at(-1) === f ? 0 : open + 1;
    }
    expect(open).toBeGreaterThan(WIDE_EVERY);
    p.stored(++f, false, SMALL_FRAME);
    expect(acks.at(-1)).toBe(f);
    // A small frame first, tiny ones after it: the small one waits for WIDE_EVERY frames at most.
    p.stored(++f, false, SMALL_FRAME);
    const small = f;
    for (let i = 1; i < WIDE_EVERY; i++) p.stored(++f, false, TINY_FRAME);
    expect(acks.at(-1)).toBeGreaterThanOrEqual(small);
    // And a large one among tiny ones: ACK_EVERY frames at most.
    const before = acks.length;
    p.stored(++f, false);
    const large = f;
    for (let i = 1; i < ACK_EVERY; i++) p.stored(++f, false, TINY_FRAME);
    expect(acks.at(-1)).toBeGreaterThanOrEqual(large);
    // Once answered, tiny frames wait by TINY_EVERY again.
    const after = acks.length;
    expect(after).toBeGreaterThan(before);
    for (let i = 0; i < WIDE_EVERY + 1; i++) p.stored(++f, false, TINY_FRAME);
    expect(acks.length - after).toBeLessThanOrEqual(1);
  });

  it('spreads the ACKs of a relay’s clients over the frames they all receive', () => {
    const clients = 100;
    const n = 4 * ACK_EVERY;
    const all = Array.from({ length: clients }, (_, i) => policy(`client-${i.toString(36)}-${(i * 7919).toString(16)} space`));
    let most = 0;
    let total = 0;
    for (let f = 1; f <= n; f++) {
      let now = 0;
      for (const c of all) {
        const before = c.acks.length;
        c.p.stored(f, false);
        now += c.acks.length - before;
      }
      most = Math.max(most, now);
      total += now;
    }
    expect(total).toBeLessThanOrEqual(clients * Math.ceil(n / ACK_EVERY));
    // In step, each client counting ACK_EVERY from the same start, all 100 would acknowledge the same frames.
    expect(most).toBeLessThanOrEqual(Math.ceil((3 * clients) / ACK_EVERY));
  });
});

describe('the window of a log stream (outgoing.ts)', () => {
  /** A stream over a log of `n` records, one frame each (read one a page: the pump checks its window a page); `bytes(upTo)`: the frame's size on the wire as sent. */
  async function pumped(n: number, wide: boolean, bytes: (upTo: number) => number) {
    const sent: number[] = [];
    const rec = (seq: number) => ({ seq, src: 'other', vs: [], cc: {} }) as unknown as KeyRecord;
    const log = Array.from({ length: n }, (_, i) => [`k${i + 1}`, rec(i + 1)] as [string, KeyRecord]);
    const port = {
      ...streamPort(sent, { readLog: async (after: number) => log.slice(after, after + 1), lastSeq: () => n }),
      frameBudget: 1,
      wide,
      send: (m: { upTo: number }) => (sent.push(m.upTo), bytes(m.upTo)),
    };
    const stream = new LogStream('s', port, () => n);
    stream.start(0, 0);
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
    };
    await settle();
    return { sent, stream, settle };
  }

  it('keeps WIDE_WINDOW small frames out where the peer speaks WIDE_ACKS, WINDOW where it does not', async () => {
    expect((await pumped(1000, true, () => SMALL_FRAME)).sent.length).toBe(WIDE_WINDOW);
    expect((await pumped(1000, false, () => SMALL_FRAME)).sent.length).toBe(WINDOW);
  });

  it('keeps TINY_WINDOW tiny frames out where the peer speaks WIDE_ACKS, WINDOW where it does not', async () => {
    expect((await pumped(3000, true, () => TINY_FRAME)).sent.length).toBe(TINY_WINDOW);
    expect((await pumped(3000, false, () => 50)).sent.length).toBe(WINDOW);
  });

  it('keeps WIDE_WINDOW frames out while a small one is out among tiny ones, WINDOW while a large one is', async () => {
    const { sent, stream, settle } = await pumped(3000, true, (upTo) => (upTo === 10 ? TINY_FRAME + 1 : upTo === 200 ? SMALL_FRAME + 1 : 50));
    expect(sent.length).toBe(WIDE_WINDOW);
    stream.ack(9);
    await settle();
    expect(sent.length).toBe(9 + WIDE_WINDOW); // frame 10 still out
    stream.ack(10);
    await settle();
    // Tiny frames again up to 199, then the large 200 goes: WINDOW while it is out.
    expect(sent.length).toBe(200);
    stream.ack(199);
    await settle();
    expect(sent.length).toBe(199 + WINDOW); // frame 200 still out
    stream.ack(200);
    await settle();
    expect(sent.length).toBe(200 + TINY_WINDOW);
  });

  it('keeps WINDOW frames out while a large one is out, and opens again once it is acknowledged', async () => {
    const { sent, stream, settle } = await pumped(1000, true, (upTo) => (upTo === 10 ? SMALL_FRAME + 1 : SMALL_FRAME));
    expect(sent.length).toBe(WINDOW);
    stream.ack(9);
    await settle();
    expect(sent.length).toBe(9 + WINDOW); // frame 10 still out
    stream.ack(10);
    await settle();
    expect(sent.length).toBe(10 + WIDE_WINDOW);
    // A frame of exactly SMALL_FRAME bytes is small.
    expect((await pumped(1000, true, () => SMALL_FRAME)).sent.length).toBe(WIDE_WINDOW);
  });
});
