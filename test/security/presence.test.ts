/**
 * Issue 11 #7: presence entries were not tied to their sender. A client (read-only would do) renamed other
 * members, evicted them with fake `left` markers, and flooded a space with invented members that every
 * member received (12 600 entries: +243 MiB on the relay). A relay now takes from a client only the
 * client's own entries (its replicaId, or replicaId~tab), at most 16 per space; relay peers alone forward
 * others'. Each space holds at most 4 096 entries.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomId } from '../../lib/ids.js';
import type { Replica } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { createToken } from '../../adapters/relay/index.js';
import { localConfig } from '../../lib/membership/index.js';
import { client, closeAll, CLUSTER_SECRET, request, SECRET, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const names = (r: Replica) =>
  r
    .space('room')
    .presence.list()
    .map((m) => (m.meta as { name?: string } | null)?.name ?? '?')
    .sort();

/** An attacker that synced the space (so the relay takes its presence), with the relay's answer in. */
async function attacker(url: string): Promise<RawSession> {
  const s = rawSession(url, { spaces: [syncItem('room')] });
  await s.ready;
  await until(() => s.messages().some((m) => m.type === MsgType.Sync), 'the relay synced the space with the attacker');
  return s;
}

describe('presence tied to its sender (#7)', () => {
  it("a client can neither rename nor evict another member, nor flood the space with invented ones", async () => {
    const relay = await t.relay();
    const victim = t.add(await client(relay, {}, ['room']));
    const observer = t.add(await client(relay, {}, ['room']));
    victim.space('room').presence.set({ name: 'Alice' });
    observer.space('room').presence.set({ name: 'Olive' });
    await until(() => names(observer).join() === 'Alice,Olive', 'the observer sees Alice');
    const alice = observer.space('room').presence.list().find((m) => m.replicaId === victim.replicaId)!;

    const evil = await attacker(relay.url);
    const presence = (e: unknown[]) => evil.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ e }) });
    // Rename Alice (a higher heartbeat of her entry), then evict her (a `left` marker).
    presence([{ replicaId: alice.id, meta: { name: 'Mallory was here' }, heartbeat: 1e9 }]);
    presence([{ replicaId: alice.id, meta: null, heartbeat: 2e9, left: true }]);
    // Flood: 5 000 invented members, in frames of 500.
    for (let i = 0; i < 10; i++) presence(Array.from({ length: 500 }, () => ({ replicaId: `${randomId()}~fake`, meta: { name: 'x'.repeat(1000) }, heartbeat: 1 })));
    // And many "tabs" of its own id: only a few are taken.
    presence(Array.from({ length: 100 }, (_, i) => ({ replicaId: `${evil.replicaId}~t${i}`, meta: { name: 'tab' }, heartbeat: 1 })));

    // The relay has read every frame once it counted all of them refused: the rename and the leave (2), the
    // flood (5 000), and the tabs beyond its 16 (84). Then a member joining later is a barrier: once the
    // observer sees it, everything the relay forwarded before has reached the observer too.
    const metric = async (name: string) =>
      Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await request(relay.port, { path: '/metrics' })).body)?.[1]);
    await until(async () => (await metric('concord_relay_presence_refused_total')) >= 5086, 'the relay read every frame', 20_000);
    const marker = t.add(await client(relay, {}, ['room']));
    marker.space('room').presence.set({ name: 'Mark' });
    await until(() => names(observer).includes('Mark'), 'the observer sees a member who joined after the attack');

    const seen = names(observer);
    expect(seen).toContain('Alice');
    expect(seen).not.toContain('Mallory was here');
    expect(seen.filter((n) => n === 'x'.repeat(1000))).toEqual([]);
    expect(seen.filter((n) => n === 'tab').length).toBeLessThanOrEqual(16);
    expect(await metric('concord_relay_presence_entries')).toBeLessThanOrEqual(3 + 16);
    expect(await metric('concord_relay_presence_refused_total')).toBe(5086);
    // Alice's own updates still go through.
    victim.space('room').presence.set({ name: 'Alice B.' });
    await until(() => names(observer).includes('Alice B.'), "Alice's own rename reaches the observer");
  });

  it('still crosses a cluster: relays forward the entries of their clients to each other', async () => {
    const config = localConfig({ probeInterval: 200, probeTimeout: 100, suspicionMult: 4 });
    const a = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 } });
    const b = await t.relay({ secret: SECRET, clusterSecret: CLUSTER_SECRET, cluster: config, clusterBackoff: { base: 20, max: 200 }, join: [a.url] });
    const token = createToken(SECRET, { spaces: { room: 'write' }, expiresIn: 600 });
    const onA = t.add(await client(a, { token }, ['room']));
    const onB = t.add(await client(b, { token }, ['room']));
    await until(() => a.members().length === 2 && b.members().length === 2, 'the relays know each other');
    // Relays replicate the spaces that hold data (a presence-only space does not cross the cluster yet).
    await (await onA.space('room').put('k', 1)).synced;
    onA.space('room').presence.set({ name: 'Ann' });
    onB.space('room').presence.set({ name: 'Ben' });
    await until(() => names(onB).join() === 'Ann,Ben' && names(onA).join() === 'Ann,Ben', 'each sees the other across the cluster', 10_000);
  });
});
