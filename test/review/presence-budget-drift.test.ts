/**
 * Presence a client makes a relay hold is charged to its connection, its principal and its address
 * (lib/sync/presence-holds.ts), and an entry no holder has room for is refused. A charge that did not come back
 * (an entry that expired or left, a heartbeat replacing an entry charged again in full, a connection that closed, a
 * space dropped) would make the budget drift up until an honest member is refused. Here one honest user joins, beats
 * (its metadata growing and shrinking), leaves and vanishes 10 000 times over 50 rooms and four tabs, reconnecting
 * every 100 joins, under budgets that hold some 50 of its entries — its steady state (the live entry, and the tombstones
 * of the last 2 × ttl) is a fraction of that: any leak of one entry's charge a cycle refuses it within a few hundred.
 *
 * The hub is the relay's own (PresenceHub, as Replica.accept restricts a client's session); time is the replica's
 * injected clock, ticks are the hub's ticks, called as its timer would (every ttl / 3).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { PresenceChannel } from '../../lib/sync/presence-hub.js';
import { ENTRY_OVERHEAD } from '../../lib/sync/presence-holds.js';
import { presenceAt, type PresenceAt } from './presence-at.js';

const open: PresenceAt[] = [];
afterAll(async () => {
  for (const at of open) await at.close();
});

const TTL = 15_000;
const ID = 'alice~t0000';
/** What one entry of the user costs at most (its id, its largest metadata's JSON, the overhead). */
const COST = ID.length + JSON.stringify({ name: 'Alice', cursor: 'x'.repeat(64) }).length + ENTRY_OVERHEAD;

describe('presence budgets after 10 000 honest joins and leaves', () => {
  it('refuse nothing of an honest member, and still take a new one', async () => {
    const at = await presenceAt(TTL);
    open.push(at);
    const { hub, clock } = at;
    const budget = 50 * COST;
    const channel = (): PresenceChannel =>
      at.client({ peer: () => 'alice', forwards: () => false, principal: () => 'alice', budget: { connection: budget, principal: budget, others: [['ip:192.0.2.1', budget]] } });
    let c = channel();
    let nextTick = clock.now + TTL / 3;
    const advance = (ms: number) => {
      clock.now += ms;
      while (nextTick <= clock.now) (hub.tick(), (nextTick += TTL / 3));
    };
    const send = (space: string, e: object) => hub.receive(c, space, { e: [e as never] });
    let heartbeat = 1;
    for (let i = 0; i < 10_000; i++) {
      if (i % 100 === 99) {
        // The connection drops; the client comes back on a new one (its old one's charges gone with it).
        hub.removeChannel(c);
        c = channel();
      }
      const space = `room${i % 50}`;
      const replicaId = `alice~t${String(i % 4).padStart(4, '0')}`;
      send(space, { replicaId, meta: { name: 'Alice' }, heartbeat: heartbeat++ });
      advance(700);
      // A heartbeat with more metadata, then with less: each replaces the entry, charged for what it grew.
      send(space, { replicaId, meta: { name: 'Alice', cursor: 'x'.repeat(64) }, heartbeat: heartbeat++ });
      advance(700);
      send(space, { replicaId, meta: { name: 'Alice', cursor: 'x' }, heartbeat: heartbeat++ });
      advance(700);
      // Every other one leaves; the rest vanish (their entries expire after the ttl).
      if (i % 2 === 0) send(space, { replicaId, meta: null, heartbeat: heartbeat++, left: true });
      if (hub.refused > 0) throw new Error(`an honest member refused at join ${i} (${hub.refused} refused)`);
    }
    expect(hub.refused, 'entries refused over 10 000 honest cycles').toBe(0);
    advance(3 * TTL);
    send('room7', { replicaId: 'alice~t0001', meta: { name: 'Alice again' }, heartbeat: heartbeat++ });
    expect(hub.refused).toBe(0);
    expect(hub.members('room7').map((m) => m.meta)).toEqual([{ name: 'Alice again' }]);
  }, 60_000);
});
