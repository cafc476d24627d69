/**
 * A link's deferred ACK (lib/sync/ack-policy.ts) keeps one timer and starts it again (Timers.refresh, Node's
 * Timeout.refresh) where it made one per period: with 50 clients on a thread (bench S7) each period's timer and its
 * closures lived across the young generation's collections, which copied them. The ACKs go when they went: the same
 * ACKs at the same times on timers that refresh and on timers that do not (the simulator's), over seeded streams.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from '../../lib/check-merge.js';
import { ACK_DELAY, ACK_EVERY, AckPolicy } from '../../lib/sync/ack-policy.js';
import { defaultTimers, guardedTimers, type Timers } from '../../lib/sync/session-state.js';

/** Timers on a virtual clock (`advance`), counting what was made; `refresh` only where `refreshes`. */
function clock(refreshes: boolean) {
  let now = 0;
  let made = 0;
  const due = new Map<object, { at: number; fn: () => void; ms: number }>();
  const timers: Timers = {
    setTimeout(fn, ms) {
      made++;
      const h = {};
      due.set(h, { at: now + ms, fn, ms });
      return h;
    },
    clearTimeout(h) {
      due.delete(h as object);
    },
  };
  const fired = new Map<object, { fn: () => void; ms: number }>();
  if (refreshes) {
    timers.refresh = (h) => {
      const t = due.get(h as object) ?? fired.get(h as object);
      if (!t) return false;
      due.set(h as object, { at: now + t.ms, fn: t.fn, ms: t.ms });
      return true;
    };
  }
  return {
    timers,
    get made() {
      return made;
    },
    get now() {
      return now;
    },
    /** Moves the clock to `to`, running each timer due on the way at its time, in order. */
    advance(to: number) {
      for (;;) {
        let next: [object, { at: number; fn: () => void; ms: number }] | undefined;
        for (const e of due) if (e[1].at <= to && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        now = next[1].at;
        due.delete(next[0]);
        fired.set(next[0], next[1]);
        next[1].fn();
      }
      now = to;
    },
  };
}

/** The ACKs (time and upTo) a seeded stream of frames gets on `timers`. */
function run(seed: number, refreshes: boolean): { acks: string[]; made: number } {
  const random = prng(seed);
  const c = clock(refreshes);
  const acks: string[] = [];
  const p = new AckPolicy((upTo) => acks.push(`${c.now}:${upTo}`), guardedTimers(c.timers, (e) => { throw e; }), () => false, `c${seed} s`);
  let upTo = 0;
  for (let f = 0; f < 400; f++) {
    // Bursts, a steady stream, and quiet gaps longer than a period.
    const gap = random() < 0.1 ? Math.floor(random() * 3 * ACK_DELAY) : Math.floor(random() * 12);
    c.advance(c.now + gap);
    upTo += 1 + Math.floor(random() * 2);
    p.stored(upTo, random() < 0.05);
  }
  c.advance(c.now + 5 * ACK_DELAY);
  return { acks, made: c.made };
}

describe('the deferred ACK keeps one timer where timers refresh', () => {
  it('the same ACKs at the same times with and without refresh (seeded streams)', () => {
    const seed0 = Number(process.env.SEED ?? Date.now() % 100_000);
    for (let i = 0; i < 20; i++) {
      const seed = seed0 + i;
      const plain = run(seed, false);
      const refreshed = run(seed, true);
      expect(refreshed.acks, `SEED=${seed0} (stream ${seed})`).toEqual(plain.acks);
      expect(plain.acks.length, `SEED=${seed0}`).toBeGreaterThan(400 / ACK_EVERY);
      // One timer made for the link's life where timers refresh; one a period otherwise.
      expect(refreshed.made, `SEED=${seed0}`).toBe(1);
      expect(plain.made, `SEED=${seed0}`).toBeGreaterThan(10);
    }
  });

  describe('Node timers', () => {
    const handles: unknown[] = [];
    afterEach(() => handles.splice(0).forEach((h) => defaultTimers.clearTimeout(h)));

    it('refresh starts a Node timer again, whether it waits or ran; a handle without refresh (a browser’s number) is not', async () => {
      let runs = 0;
      const h = defaultTimers.setTimeout(() => runs++, 5);
      handles.push(h);
      expect(defaultTimers.refresh!(h)).toBe(true);
      await new Promise((r) => setTimeout(r, 40));
      expect(runs).toBe(1);
      expect(defaultTimers.refresh!(h)).toBe(true);
      await new Promise((r) => setTimeout(r, 40));
      expect(runs).toBe(2);
      expect(defaultTimers.refresh!(17)).toBe(false);
    });

    it('a quiet stream’s ACK goes once on Node timers, and again after more frames', async () => {
      const acks: number[] = [];
      const p = new AckPolicy((upTo) => acks.push(upTo), guardedTimers(defaultTimers, (e) => { throw e; }), () => false, 'node s');
      p.stored(1, false);
      p.stored(2, false);
      await new Promise((r) => setTimeout(r, 3 * ACK_DELAY));
      expect(acks).toEqual([2]);
      p.stored(3, false);
      await new Promise((r) => setTimeout(r, 3 * ACK_DELAY));
      expect(acks).toEqual([2, 3]);
    });
  });
});
