/**
 * When the deferred ACKs of a client go (lib/sync/ack-policy.ts), the policy alone on held timers: how many ACKs a
 * stream of frames nobody waits for costs, when the stream slows down (a loaded machine: the timer's period ends
 * every few frames) and when a relay's many clients receive the same frames in step (S7's fan-out).
 */
import { describe, expect, it } from 'vitest';
import { ACK_DELAY, ACK_EVERY, AckPolicy } from '../../lib/sync/ack-policy.js';
import { WINDOW } from '../../lib/sync/outgoing.js';
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
