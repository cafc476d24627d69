import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { synced, until } from './support.js';

async function star(n: number, presenceTtl = 15_000) {
  const hub = await openReplica({ storage: memoryStorage(), presenceTtl });
  hub.space('room');
  const leaves: Replica[] = [];
  const links: Array<{ close(): void }> = [];
  for (let i = 0; i < n; i++) {
    const r = await openReplica({ storage: memoryStorage(), presenceTtl });
    r.space('room');
    const [t1, t2] = pairTransports();
    const a = hub.connect(t1);
    const b = r.connect(t2);
    links.push({ close: () => (a.close(), b.close()) });
    leaves.push(r);
  }
  await synced(hub, ...leaves);
  return { hub, leaves, links };
}

describe('presence', () => {
  it('spreads through a relay to the other members, with metadata, and a leave reaches everyone', async () => {
    const { hub, leaves, links } = await star(3);
    const [a, b, c] = leaves as [Replica, Replica, Replica];
    a.space('room').presence.set({ name: 'Ada', cursor: 3 });
    b.space('room').presence.set({ name: 'Bob' });
    const names = (r: Replica) => r.space('room').presence.list().map((m) => (m.meta as { name: string }).name).sort();
    await until(() => names(c).join() === 'Ada,Bob', 'c sees a and b');
    const seen: string[][] = [];
    c.space('room').presence.subscribe((members) => seen.push(members.map((m) => (m.meta as { name: string }).name)));
    a.space('room').presence.set({ name: 'Ada', cursor: 9 });
    await until(() => c.space('room').presence.list().some((m) => (m.meta as { cursor?: number }).cursor === 9), 'cursor update reaches c');
    expect(c.space('room').presence.list().find((m) => m.replicaId === a.replicaId)?.self).toBe(false);
    expect(a.space('room').presence.list().find((m) => m.replicaId === a.replicaId)?.self).toBe(true);
    a.space('room').presence.leave();
    await until(() => names(c).join() === 'Bob', 'the leave reaches c');
    expect(seen.length).toBeGreaterThan(0);
    // A late joiner learns who is there from the digest exchange.
    const d = await openReplica({ storage: memoryStorage() });
    d.space('room');
    const [t1, t2] = pairTransports();
    hub.connect(t1);
    d.connect(t2);
    await until(() => names(d).join() === 'Bob', 'd learns the members');
    links.forEach((l) => l.close());
    await Promise.all([hub, ...leaves, d].map((r) => r.close()));
  });

  it('a member that vanishes without leaving disappears from the view within the ttl', async () => {
    const { hub, leaves, links } = await star(2, 300);
    const [a, b] = leaves as [Replica, Replica];
    a.space('room').presence.set({ name: 'Ada' });
    await until(() => b.space('room').presence.list().length === 1, 'b sees a');
    // a's process dies: its links drop, nothing says goodbye.
    links[0]!.close();
    // The bound is ten ttls: a member that never expired would stay in the view for good.
    await until(() => b.space('room').presence.list().length === 0, 'a leaves b’s view', 3000);
    links[1]!.close();
    await Promise.all([hub, a, b].map((r) => r.close()));
  });
});
