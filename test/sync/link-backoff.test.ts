// The link's reconnect policy: the backoff tops out at 10 s, and a transport's wake signal (concord/ws: the
// browser's `online` event, the page visible again) makes a link waiting out its backoff reconnect at once.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica, type Transport } from '../../lib/index.js';
import type { Timers } from '../../lib/sync/link.js';
import { until } from './support.js';

/** Timers that record what was asked and fire only when told. */
function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: Timers & { delays: number[]; fireAll(): void; waiting(): number } = {
    delays: [],
    setTimeout(fn, ms) {
      timers.delays.push(ms);
      pending.set(next, { fn, ms });
      return next++;
    },
    clearTimeout(h) {
      pending.delete(h as number);
    },
    fireAll() {
      const due = [...pending.values()];
      pending.clear();
      for (const t of due) t.fn();
    },
    waiting: () => pending.size,
  };
  return timers;
}

/** A transport whose `open` is given; `wake()` fires its onWake listener (concord/ws: the browser's `online` event). */
function wakeable(label: string | undefined, open: Transport['open']): { transport: Transport; wake: () => void } {
  let listener: (() => void) | undefined;
  const transport: Transport = {
    ...(label !== undefined ? { label } : {}),
    open,
    onWake: (l) => {
      listener = l;
      return () => (listener = undefined);
    },
  };
  return { transport, wake: () => listener?.() };
}

const replicas: Replica[] = [];
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.close()));
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  replicas.push(r);
  return r;
}

describe('link reconnect policy', () => {
  it('backs off exponentially with jitter and tops out near 10 s by default', async () => {
    const r = await replica();
    let opens = 0;
    const failing: Transport = { label: 'down', open: async () => (opens++, Promise.reject(new Error('unreachable'))) };
    r.on('error', () => {});
    const timers = manualTimers();
    const link = r.connect(failing, { timers, random: () => 0.999999 });
    for (let i = 1; i <= 14; i++) {
      await until(() => timers.waiting() === 1, `attempt ${i} waits out its backoff`);
      timers.fireAll();
      await until(() => opens >= i + 1, `attempt ${i + 1}`);
    }
    link.close();
    const waits = timers.delays;
    expect(waits[0]).toBeGreaterThanOrEqual(124);
    expect(waits[0]).toBeLessThan(250);
    for (let i = 1; i < 5; i++) expect(waits[i]).toBeGreaterThan(waits[i - 1]!);
    expect(Math.max(...waits)).toBeLessThanOrEqual(10_000);
    expect(Math.max(...waits)).toBeGreaterThan(9_000);
  });

  it('a wake from the transport reconnects at once instead of waiting out the backoff', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    let up = false;
    let opens = 0;
    // Unreachable until `up`.
    const { transport: flaky, wake } = wakeable(ta.label, (handlers) => (opens++, up ? ta.open(handlers) : Promise.reject(new Error('offline'))));
    a.on('error', () => {});
    const timers = manualTimers();
    a.connect(flaky, { timers, backoff: { base: 60_000, max: 60_000 } });
    b.connect(tb);
    await until(() => opens === 1 && timers.waiting() === 1, 'the first attempt failed and the link waits 30–60 s');
    up = true;
    wake();
    await until(() => a.status === 'synced' && b.status === 'synced', 'synced right after the wake, no timer fired');
    expect(opens).toBe(2);
  });

  it('a wake that arrives while an attempt is still failing is not lost: the next attempt follows at once', async () => {
    // The browser reports `online` while the attempt begun offline has not failed yet (a slow refusal): once it
    // fails, the link must not wait out a 30–60 s backoff for a network that is already back.
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    let fail: (() => void) | undefined;
    let opens = 0;
    const { transport: flaky, wake } = wakeable(ta.label, (handlers) => {
      opens++;
      if (opens > 1) return ta.open(handlers);
      return new Promise((_, reject) => (fail = () => reject(new Error('offline'))));
    });
    a.on('error', () => {});
    const timers = manualTimers();
    a.connect(flaky, { timers, backoff: { base: 60_000, max: 60_000 } });
    b.connect(tb);
    await until(() => opens === 1 && fail !== undefined, 'the first attempt is in flight');
    wake(); // the network came back during the attempt
    fail!();
    await until(() => a.status === 'synced' && b.status === 'synced', 'synced with no timer fired');
    expect(opens).toBe(2);
  });

  it('wakes during attempts do not make a link spin: one wake buys one prompt retry', async () => {
    const r = await replica();
    let opens = 0;
    const { transport: failing, wake } = wakeable('down', async () => {
      opens++;
      if (opens === 1) wake(); // a wake during the first attempt only
      throw new Error('unreachable');
    });
    r.on('error', () => {});
    const timers = manualTimers();
    const link = r.connect(failing, { timers, backoff: { base: 60_000, max: 60_000 } });
    await until(() => opens === 2 && timers.waiting() === 1, 'one prompt retry, then the backoff');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(opens).toBe(2);
    link.close();
  });

  it('a wake while connected is no wake: a later drop still waits out the backoff', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    let opens = 0;
    const { transport, wake } = wakeable(ta.label, (handlers) => (opens++, opens === 1 ? ta.open(handlers) : Promise.reject(new Error('offline'))));
    a.on('error', () => {});
    const timers = manualTimers();
    a.connect(transport, { timers, backoff: { base: 60_000, max: 60_000 } });
    const lb = b.connect(tb);
    await until(() => a.status === 'synced' && b.status === 'synced', 'connected');
    wake(); // the page became visible while connected
    lb.close(); // then the peer goes away
    await until(() => a.status !== 'synced', 'the drop reached a');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(opens).toBe(1); // no attempt yet: the backoff runs
    expect(timers.delays.at(-1)).toBeGreaterThanOrEqual(30_000);
  });

  it('a wake during an attempt the peer refuses (4401) does not skip the backoff: a refusal is no network fault', async () => {
    const r = await replica();
    let opens = 0;
    const { transport, wake } = wakeable('refusing', async (handlers) => {
      opens++;
      wake(); // the page came online while the attempt ran
      setTimeout(() => handlers.onClose(4401, 'bad token'), 0);
      return { send: () => {}, close: () => {} };
    });
    r.on('error', () => {});
    const timers = manualTimers();
    const link = r.connect(transport, { timers, backoff: { base: 60_000, max: 60_000 } });
    await until(() => opens === 1 && timers.waiting() === 1, 'the refusal waits out its backoff');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(opens).toBe(1);
    link.close();
  });

  it('retryNow() on a waiting link reconnects at once; on a closed link it does nothing', async () => {
    const r = await replica();
    let opens = 0;
    const failing: Transport = { label: 'down', open: async () => (opens++, Promise.reject(new Error('unreachable'))) };
    r.on('error', () => {});
    const timers = manualTimers();
    const link = r.connect(failing, { timers, backoff: { base: 60_000, max: 60_000 } });
    await until(() => opens === 1 && timers.waiting() === 1, 'waiting after the first failure');
    link.retryNow();
    await until(() => opens === 2, 'second attempt at once');
    link.close();
    link.retryNow();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(opens).toBe(2);
  });
});
