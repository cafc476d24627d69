/**
 * A relay charges clients' presence to their connection, principal and address (lib/sync/presence-holds.ts) and
 * refuses an entry no holder has room for. An address is shared (a NAT, a campus, a carrier's CGNAT): once another
 * client behind it filled the address's budget, an honest member already held whose metadata grew (a longer
 * selection, a new cursor) had each heartbeat refused whole — so the relay stopped refreshing it, and the member left
 * everyone's view within the ttl while it was online and beating. Now such a heartbeat refreshes the entry with the
 * metadata held (no byte more held): the member stays, its metadata as it last fit, and goes on once there is room.
 * The second test is the attack on that: a client at its budget sending its entries again with larger metadata has
 * them refreshed as held, not grown (it fails if the refresh took the metadata sent).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { presenceAt, type PresenceAt } from './presence-at.js';

const open: PresenceAt[] = [];
afterAll(async () => {
  for (const at of open) await at.close();
});

const TTL = 15_000;

describe('a member held while its address is full', () => {
  it('stays in view with the metadata held, and its new metadata goes once there is room', async () => {
    const at = await presenceAt(TTL);
    open.push(at);
    const { hub, clock } = at;
    // Two principals behind one address (its budget 20 000 bytes, as ipCaps.presenceBytes sets it on a relay).
    const client = (who: string) => at.client({ peer: () => who, forwards: () => false, principal: () => who, budget: { others: [['ip:198.51.100.7', 20_000]] } });
    const alice = client('alice');
    hub.receive(alice, 'room', { e: [{ replicaId: 'alice~t1', meta: { sel: 'x' }, heartbeat: 1 }] });
    const mallory = client('mallory');
    const sel = () => hub.members('room').map((m) => (m.meta as { sel: string }).sel.length);
    let heartbeat = 2;
    // Every 5 s (a third of the ttl): mallory fills the address with entries in 200 rooms; alice's selection grows.
    for (let t = 0; t < 8; t++) {
      for (let i = 0; i < 200; i++) hub.receive(mallory, `r${i}`, { e: [{ replicaId: 'mallory~t1', meta: 'm', heartbeat }] });
      hub.receive(alice, 'room', { e: [{ replicaId: 'alice~t1', meta: { sel: 'x'.repeat(1 + 200 * t) }, heartbeat }] });
      heartbeat++;
      clock.now += TTL / 3;
      hub.tick();
      expect(sel(), `alice in view at ${(t + 1) * 5} s (beating every 5 s)`).toHaveLength(1);
    }
    expect(hub.refused, 'the address is full: entries were refused').toBeGreaterThan(0);
    const held = sel()[0]!;
    expect(held, 'alice’s metadata as it last fit').toBeLessThan(1 + 200 * 7);
    // Mallory goes silent: its entries expire after the ttl, their tombstones 2 × ttl later. Alice beats on, and its
    // metadata as it is goes once they are gone.
    for (let t = 0; t < 12; t++) {
      hub.receive(alice, 'room', { e: [{ replicaId: 'alice~t1', meta: { sel: 'x'.repeat(1 + 200 * 8) }, heartbeat: heartbeat++ }] });
      clock.now += TTL / 3;
      hub.tick();
      expect(sel()).toHaveLength(1);
    }
    expect(sel()).toEqual([1 + 200 * 8]);
  });

  it('a client at its budget gains nothing by it: its entries refreshed keep the metadata held, however much it sends', async () => {
    const at = await presenceAt(TTL);
    open.push(at);
    const { hub, clock } = at;
    const c = at.client({ peer: () => 'mallory', forwards: () => false, budget: { connection: 20_000 } });
    const rooms = Array.from({ length: 200 }, (_, i) => `r${i}`);
    for (const r of rooms) hub.receive(c, r, { e: [{ replicaId: 'mallory~t1', meta: 'm', heartbeat: 1 }] });
    const held = rooms.filter((r) => hub.members(r).length > 0);
    expect(held.length, 'the budget took some, not all').toBeLessThan(rooms.length);
    clock.now += 1000;
    for (const r of rooms) hub.receive(c, r, { e: [{ replicaId: 'mallory~t1', meta: 'M'.repeat(4000), heartbeat: 2 }] });
    const metaChars = rooms.reduce((n, r) => n + hub.members(r).reduce((m, e) => m + JSON.stringify(e.meta).length, 0), 0);
    expect(metaChars, 'the metadata held did not grow').toBe(held.length * 3);
    expect(rooms.filter((r) => hub.members(r).length > 0)).toEqual(held);
  });
});
