import { describe, expect, it } from 'vitest';
import { Presence, type PresenceEvent } from '../../lib/membership/presence.js';

const TTL = 3000;
const make = (id: string) => new Presence({ replicaId: id, ttl: TTL });
const kinds = (es: PresenceEvent[]) => es.map((e) => `${e.type} ${e.replicaId}`);

/** One anti-entropy exchange: each side sends what the other's digest lacks. */
function exchange(now: number, a: Presence, b: Presence): number {
  const toB = a.diff(b.digest());
  const toA = b.diff(a.digest());
  b.merge(now, JSON.parse(JSON.stringify(toB)));
  a.merge(now, JSON.parse(JSON.stringify(toA)));
  return toA.length + toB.length;
}

describe('Presence', () => {
  it('set announces us; an exchange carries it; only news travels afterwards', () => {
    const a = make('a');
    const b = make('b');
    a.set(0, { name: 'Ada' });
    b.set(0, { name: 'Bo' });
    expect(kinds(a.takeEvents())).toEqual(['join a']);
    expect(exchange(10, a, b)).toBe(2);
    expect(a.view(10).map((e) => [e.replicaId, e.meta])).toEqual([['a', { name: 'Ada' }], ['b', { name: 'Bo' }]]);
    expect(kinds(a.takeEvents())).toEqual(['join b']);
    expect(exchange(20, a, b)).toBe(0); // digests agree: nothing to send
    a.beat(30);
    expect(a.diff(b.digest())).toEqual([{ replicaId: 'a', meta: { name: 'Ada' }, heartbeat: 2 }]);
  });

  it('digest is replicaId → heartbeat; diff sends entries the other side lacks or holds older', () => {
    const a = make('a');
    a.set(0, 1);
    a.merge(0, [{ replicaId: 'x', meta: 'x', heartbeat: 5 }, { replicaId: 'y', meta: 'y', heartbeat: 2 }]);
    expect(a.digest()).toEqual({ a: 1, x: 5, y: 2 });
    expect(a.diff({ a: 1, x: 4, y: 9 }).map((e) => e.replicaId)).toEqual(['x']);
    expect(a.diff({}).map((e) => e.replicaId).sort()).toEqual(['a', 'x', 'y']);
  });

  it('merge keeps the higher heartbeat and is order-insensitive and idempotent', () => {
    const batches = [
      [{ replicaId: 'x', meta: 'v1', heartbeat: 1 }],
      [{ replicaId: 'x', meta: 'v3', heartbeat: 3 }],
      [{ replicaId: 'x', meta: 'v2', heartbeat: 2 }],
    ];
    const orders = [[0, 1, 2], [2, 1, 0], [1, 0, 2, 1, 2]];
    const views = orders.map((order) => {
      const p = make('me');
      for (const i of order) p.merge(0, batches[i]);
      return p.view(0).map((e) => [e.replicaId, e.meta, e.heartbeat]);
    });
    for (const v of views) expect(v).toEqual([['x', 'v3', 3]]);
  });

  it('events: join, update only when meta changes, leave', () => {
    const p = make('me');
    p.merge(0, [{ replicaId: 'x', meta: { c: 1 }, heartbeat: 1 }]);
    p.merge(100, [{ replicaId: 'x', meta: { c: 1 }, heartbeat: 2 }]);
    p.merge(200, [{ replicaId: 'x', meta: { c: 2 }, heartbeat: 3 }]);
    p.merge(300, [{ replicaId: 'x', meta: null, heartbeat: 4, left: true }]);
    expect(p.takeEvents()).toEqual([
      { type: 'join', replicaId: 'x', meta: { c: 1 }, at: 0 },
      { type: 'update', replicaId: 'x', meta: { c: 2 }, at: 200 },
      { type: 'leave', replicaId: 'x', meta: { c: 2 }, at: 300 },
    ]);
    expect(p.view(300)).toEqual([]);
  });

  it('an entry not refreshed within ttl leaves the view at once, and expire removes it with an event', () => {
    const p = make('me');
    p.set(0, 'me');
    p.merge(0, [{ replicaId: 'x', meta: 'x', heartbeat: 1 }]);
    p.merge(2000, [{ replicaId: 'x', meta: 'x', heartbeat: 2 }]);
    expect(p.view(2000 + TTL).map((e) => e.replicaId)).toEqual(['me', 'x']);
    expect(p.view(2001 + TTL).map((e) => e.replicaId)).toEqual(['me']); // our own entry never expires here
    p.takeEvents();
    p.expire(2001 + TTL);
    expect(kinds(p.takeEvents())).toEqual(['leave x']);
    // A stale copy of the same heartbeat still in flight does not bring it back…
    p.merge(2002 + TTL, [{ replicaId: 'x', meta: 'x', heartbeat: 2 }]);
    expect(p.view(2002 + TTL).map((e) => e.replicaId)).toEqual(['me']);
    // …a newer heartbeat does.
    p.merge(2003 + TTL, [{ replicaId: 'x', meta: 'x', heartbeat: 3 }]);
    expect(kinds(p.takeEvents())).toEqual(['join x']);
  });

  it('a replica that vanishes leaves everyone’s view within ttl; a graceful leave spreads as news', () => {
    const [a, b, c] = [make('a'), make('b'), make('c')];
    for (const p of [a, b, c]) p.set(0, p.replicaId);
    let now = 0;
    for (; now <= 10_000; now += 500) {
      if (now % 1000 === 0) for (const p of now < 4000 ? [a, b, c] : [a, b]) p.beat(now); // c vanishes at 4 s
      exchange(now, a, b);
      exchange(now, b, c);
      for (const p of [a, b]) p.expire(now);
    }
    // c's last heartbeat was at 3 s and reached a one exchange (500 ms) later, through b; a drops it
    // ttl after that, at the first expire past it (another 500 ms at most).
    expect(a.view(now).map((e) => e.replicaId)).toEqual(['a', 'b']);
    expect(a.takeEvents().find((e) => e.type === 'leave' && e.replicaId === 'c')?.at).toBeLessThanOrEqual(3000 + 500 + TTL + 500);
    b.leave(now);
    exchange(now, a, b);
    expect(a.view(now).map((e) => e.replicaId)).toEqual(['a']);
    expect(kinds(a.takeEvents())).toEqual(['leave b']);
  });

  it('a returning replica steps past the heartbeat others remember', () => {
    const a = make('a');
    a.merge(0, [{ replicaId: 'b', meta: 'old', heartbeat: 40 }]);
    const b = make('b'); // restarted, heartbeat counter lost
    b.set(0, 'new');
    exchange(0, a, b);
    exchange(1, a, b);
    expect(a.view(1).find((e) => e.replicaId === 'b')?.meta).toBe('new');
  });

  it('rejects malformed or oversized entries without dropping the good ones', () => {
    const p = new Presence({ replicaId: 'me', ttl: TTL, maxMetaBytes: 20 });
    p.merge(0, [
      null,
      { replicaId: '', meta: 1, heartbeat: 1 },
      { replicaId: 'x', meta: 1, heartbeat: -1 },
      { replicaId: 'x', meta: 1, heartbeat: 1.5 },
      { replicaId: 'x', meta: 'y'.repeat(50), heartbeat: 1 },
      { replicaId: 'x', meta: 1, heartbeat: 1, left: 'yes' },
      { replicaId: '__proto__', meta: 1, heartbeat: 1 },
    ]);
    p.merge(0, 'not an array');
    expect(p.rejectedCount).toBe(7);
    expect(p.view(0).map((e) => e.replicaId)).toEqual(['__proto__']);
    expect(Object.hasOwn(p.digest(), '__proto__')).toBe(true);
    expect(() => p.set(0, 'z'.repeat(50))).toThrow(RangeError);
  });
});
