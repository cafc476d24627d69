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

  // Where the peer speaks WIDE_ACKS: one ACK at the link's phase in each WIDE_EVERY small frames (ACK_EVERY's rule would
  // have sent 16 in 64), in each TINY_EVERY tiny ones; a byte more than a tier's bound is the next tier's.
  for (const [name, bytes, every, window] of [
    ['small', SMALL_FRAME, WIDE_EVERY, WIDE_WINDOW],
    ['tiny', TINY_FRAME, TINY_EVERY, TINY_WINDOW],
  ] as const) {
    it(`answers the ${name} frames of a peer speaking WIDE_ACKS once in ${every}`, () => {
      const { acks, p } = policy(`c6 ${name}`);
      let open = 0;
      for (let f = 1; f <= 4 * every; f++) {
        p.stored(f, false, bytes);
        open = acks.at(-1) === f ? 0 : open + 1;
        expect(open).toBeLessThan(every);
      }
      expect(acks.length).toBe(4);
      expect(every * 2).toBeLessThanOrEqual(window);
    });
  }

  it('answers frames one byte over TINY_FRAME by WIDE_EVERY', () => {
    const { acks, p } = policy('c8 s');
    for (let f = 1; f <= 4 * TINY_EVERY; f++) p.stored(f, false, TINY_FRAME + 1);
    expect(acks.length).toBe((4 * TINY_EVERY) / WIDE_EVERY);
  });

  // Once more frames wait than a larger frame's tier allows, the sender may have that tier's window out, the larger
  // one next: it is answered at once; and while a larger one waits, within its tier's frames.
  for (const [name, smaller, every, larger, within] of [
    ['a large frame after ACK_EVERY small ones', SMALL_FRAME, WIDE_EVERY, Infinity, ACK_EVERY],
    ['a small frame after WIDE_EVERY tiny ones', TINY_FRAME, TINY_EVERY, SMALL_FRAME, WIDE_EVERY],
    ['a large frame after ACK_EVERY tiny ones', TINY_FRAME, TINY_EVERY, Infinity, ACK_EVERY],
  ] as const) {
    it(`answers at once ${name}, and within ${within} frames while such a one waits`, () => {
      const { acks, p } = policy(`c7 ${name}`);
      let f = 0;
      let open = 0;
      while (open <= within && f < 2 * every) {
        p.stored(++f, false, smaller);
        open = acks.at(-1) === f ? 0 : open + 1;
      }
      expect(open).toBeGreaterThan(within);
      p.stored(++f, false, larger);
      expect(acks.at(-1)).toBe(f);
      // The larger frame first, smaller ones after it: it waits for `within` frames at most.
      p.stored(++f, false, larger);
      const first = f;
      for (let i = 1; i < within; i++) p.stored(++f, false, smaller);
      expect(acks.at(-1)).toBeGreaterThanOrEqual(first);
      // Once answered, the smaller frames wait by their own tier again.
      const before = acks.length;
      for (let i = 0; i < within + 1; i++) p.stored(++f, false, smaller);
      expect(acks.length - before).toBeLessThanOrEqual(1);
    });
  }

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
    /** Acknowledges up to `upTo`, lets the pump run: how many frames went in all. */
    const ack = async (upTo: number) => {
      stream.ack(upTo);
      await settle();
      return sent.length;
    };
    return { sent, ack };
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
    const { sent, ack } = await pumped(3000, true, (upTo) => (upTo === 10 ? TINY_FRAME + 1 : upTo === 200 ? SMALL_FRAME + 1 : 50));
    expect(sent.length).toBe(WIDE_WINDOW);
    expect(await ack(9)).toBe(9 + WIDE_WINDOW); // frame 10 still out
    // Tiny frames again up to 199, then the large 200 goes: WINDOW while it is out.
    expect(await ack(10)).toBe(200);
    expect(await ack(199)).toBe(199 + WINDOW); // frame 200 still out
    expect(await ack(200)).toBe(200 + TINY_WINDOW);
  });

  it('keeps WINDOW frames out while a large one is out, and opens again once it is acknowledged', async () => {
    const { sent, ack } = await pumped(1000, true, (upTo) => (upTo === 10 ? SMALL_FRAME + 1 : SMALL_FRAME));
    expect(sent.length).toBe(WINDOW);
    expect(await ack(9)).toBe(9 + WINDOW); // frame 10 still out
    expect(await ack(10)).toBe(10 + WIDE_WINDOW);
    // A frame of exactly SMALL_FRAME bytes is small.
    expect((await pumped(1000, true, () => SMALL_FRAME)).sent.length).toBe(WIDE_WINDOW);
  });
});
