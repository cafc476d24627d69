/**
 * Presence held for clients, across spaces. A space holds at most 16 ids of one sender and 4 096 entries, but a
 * connection may be live in 1 000 spaces: one `*` token made the relay hold 1 000 × 16 × 4 KiB ≈ 64 MiB for 15 s after
 * each heartbeat, and as much again for every other connection of the same user or address. Now what a client's
 * entries hold is counted per connection (1 MiB), per principal (4 MiB, all its connections) and per IP (16 MiB);
 * an entry beyond is refused (counted in concord_relay_presence_refused_total), and honest members still pass.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import type { Relay } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { ENTRY_OVERHEAD } from '../../lib/sync/presence-holds.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { client, closeAll, request, SECRET, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const META = 'm'.repeat(4000);
/** What one attacker entry costs (its id, its metadata's JSON, the overhead). */
const COST = 16 + 6 + META.length + 2 + ENTRY_OVERHEAD;

const metric = async (relay: Relay, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await request(relay.port, { path: '/metrics' })).body)?.[1]);

/** A client of principal `sub` live in `spaces` spaces, each given 16 entries of 4 KiB metadata; resolves once the relay read them all. */
async function flood(relay: Relay, sub: string, spaces: number): Promise<RawSession> {
  const names = Array.from({ length: spaces }, (_, i) => `room${i}`);
  const s = t.add(rawSession(relay.url, { token: createToken(SECRET, { spaces: { '*': 'read' }, sub, expiresIn: 120 }), spaces: names.map((n) => syncItem(n)) }));
  await s.ready;
  const synced = () => s.messages().reduce((n, m) => n + (m.type === MsgType.Sync ? m.spaces.length : 0), 0);
  await until(() => synced() >= spaces, 'the relay synced every space (presence of a space not live is dropped)', 20_000);
  for (const space of names) {
    const e = Array.from({ length: 16 }, (_, i) => ({ replicaId: `${s.replicaId}~tab${String(i).padStart(2, '0')}`, meta: META, heartbeat: 1 }));
    s.send({ type: MsgType.Presence, space, json: JSON.stringify({ e }) });
  }
  // A digest asking for the relay's answers: it comes after every frame before it was read.
  const before = s.messages().filter((m) => m.type === MsgType.Presence).length;
  s.send({ type: MsgType.Presence, space: names[0]!, json: JSON.stringify({ d: {}, r: 1 }) });
  await until(() => s.messages().filter((m) => m.type === MsgType.Presence).length > before, 'the relay read every presence frame', 20_000);
  return s;
}

describe('presence a client makes the relay hold, across spaces', () => {
  it('one connection: at most its budget, however many spaces it is live in', async () => {
    const relay = await t.relay({ secret: SECRET });
    await flood(relay, 'mallory', 100);
    const entries = await metric(relay, 'concord_relay_presence_entries');
    console.log(`one connection, 100 spaces × 16 entries of 4 KiB: ${entries} entries held (${Math.round((entries * COST) / 1024)} KiB)`);
    expect(entries * COST, 'bytes held for one connection').toBeLessThanOrEqual(1 << 20);
    expect(await metric(relay, 'concord_relay_presence_refused_total')).toBe(1600 - entries);
  }, 60_000);

  it('one principal over several connections, and one address over several principals', async () => {
    const relay = await t.relay({ secret: SECRET, ipCaps: { presenceBytes: 6 << 20 } });
    for (let i = 0; i < 5; i++) await flood(relay, 'mallory', 60); // 4 800 entries of one principal
    const one = await metric(relay, 'concord_relay_presence_entries');
    console.log(`one principal, 5 connections × 60 spaces × 16 entries: ${one} entries held (${Math.round((one * COST) / 1024)} KiB)`);
    expect(one * COST, 'bytes held for one principal').toBeLessThanOrEqual(4 << 20);
    for (let i = 0; i < 3; i++) await flood(relay, `eve${i}`, 60); // three more principals from the same address
    const all = await metric(relay, 'concord_relay_presence_entries');
    console.log(`one address, 4 principals: ${all} entries held (${Math.round((all * COST) / 1024)} KiB)`);
    expect(all * COST, 'bytes held for one address').toBeLessThanOrEqual(6 << 20);
    // Each entry beyond a budget is refused and counted; nobody is closed for it, and what was held stays.
    const refused = await metric(relay, 'concord_relay_presence_refused_total');
    expect(refused).toBe(5 * 960 + 3 * 960 - all);
  }, 120_000);

  it('members of other principals pass while one principal is at its budget', async () => {
    const relay = await t.relay({ secret: SECRET });
    await flood(relay, 'mallory', 100);
    const token = createToken(SECRET, { spaces: { room0: 'write' }, sub: 'alice', expiresIn: 120 });
    const alice = t.add(await client(relay, { token }, ['room0']));
    const olive = t.add(await client(relay, { token: createToken(SECRET, { spaces: { room0: 'read' }, sub: 'olive', expiresIn: 120 }) }, ['room0']));
    alice.space('room0').presence.set({ name: 'Alice' });
    await until(() => olive.space('room0').presence.list().some((m) => (m.meta as { name?: string } | null)?.name === 'Alice'), 'an honest member reaches another client', 10_000);
  }, 60_000);
});
