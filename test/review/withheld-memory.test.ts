/**
 * Probe (review 33): the withholds a relay keeps grow without bound with the clients it ever met.
 *
 * A withhold (acks.ts) is kept per peer and outlives the peer's session (`forgetPeer` keeps it: a next session streams
 * from its cursor, past the key), until the key's record changes. A relay meets countless clients, and a client picks
 * its own replicaId and the protocol versions it speaks: every session of an old-release client (or of anyone claiming
 * to be one, under a fresh id each time) that a catch-up frame leaves a big key out for adds an entry, forever while the
 * key does not change — memory per space is to be bounded (DESIGN.md, Security). Now a key keeps at most a fixed number
 * of peers; past that it is withheld from every other peer (conservative: a relay's own writes of it wait for the key's
 * next change) — but a relay's cluster members are always named, so the overflow of clients does not stop the cluster
 * counting members that hold the key (the second case: it failed with the first bound, which counted no member then).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { until } from '../sync/support.js';

const FRAME = 16 * 1024;
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('withholds on a hub met by many clients', () => {
  it('stay bounded per key', async () => {
    const hub = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
    hub.on('error', () => {});
    hub.space('s');
    open.push(hub);
    await hub.space('s').put('big', 'x'.repeat(30 * 1024));
    await hub.space('s').put('small', 1);
    const clients = 80;
    for (let i = 0; i < clients; i++) {
      const c = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
      c.core.speaks = [5, 6, 7, 8, 9]; // an old release (or a client saying so): takes no key in parts
      c.space('s');
      const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
      const links: Link[] = [hub.connect(ta, { antiEntropyInterval: 0 }), c.connect(tb, { antiEntropyInterval: 0 })];
      await until(async () => (await c.space('s').get('small')) !== undefined, 'the client caught up');
      for (const l of links) l.close();
      await c.close();
    }
    const entries = hub.core.acks.withheldList().filter(([space, key]) => space === 's' && key === 'big');
    expect(entries.length, 'withheld entries kept for big').toBeGreaterThan(0);
    expect(entries.length, 'withheld entries kept for big, one per client ever met').toBeLessThanOrEqual(33);
  });

  it('past the bound, a cluster member that did not withhold the key still counts as holding it', () => {
    const acks = new AckTracker();
    acks.exact = (peer) => peer.startsWith('member');
    acks.withhold('member-a', 's', 'big');
    for (let i = 0; i < 40; i++) acks.withhold(`client-${i}`, 's', 'big');
    expect(acks.withheldList().length, 'bounded').toBeLessThanOrEqual(34);
    expect(acks.isWithheldFrom('client-39', 's', 'big'), 'a client past the bound').toBe(true);
    expect(acks.isWithheldFrom('client-77', 's', 'big'), 'any other client').toBe(true);
    expect(acks.isWithheldFrom('member-a', 's', 'big'), 'the member whose link withheld it').toBe(true);
    expect(acks.isWithheldFrom('member-b', 's', 'big'), 'a member whose link did not').toBe(false);
    expect(acks.hasWithheldFrom('member-b', 's'), 'nor any key of the space').toBe(false);
    acks.withhold('member-c', 's', 'big'); // a member past the bound is still named
    expect(acks.isWithheldFrom('member-c', 's', 'big')).toBe(true);
    acks.ack('s', 5, 'client-90');
    expect(acks.isWithheld('s', 'big', 5), "an unnamed client's acknowledgement does not count it").toBe(true);
    acks.ack('s', 5, 'member-b');
    expect(acks.isWithheld('s', 'big', 5), "a member's that did not withhold it does").toBe(false);
  });
});
