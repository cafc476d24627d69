/**
 * Presence a client makes the relay hold is charged to its connection, its principal and its address (presence-holds.ts);
 * an entry past a budget is refused. What was charged must come back once the entries expire — 15 s (the ttl) after
 * their last heartbeat on the relay's clock — or a connection, a user or a whole NAT address that once filled its
 * budget would be refused for good. An expired entry leaves a tombstone for 2 × ttl, charged its id and ENTRY_OVERHEAD
 * (measured: a tombstone holds ~150–170 B of heap, an entry of 4 KiB metadata ~4.1 KB), so the room of its metadata
 * comes back at expiry. The relay's clock is injected (createRelay's `now`): only its presence tick (every ttl / 3) is
 * waited for in real time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import type { Relay, RelayOptions } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { DEFAULT_PRESENCE_TTL } from '../../lib/sync/presence-hub.js';
import { ENTRY_OVERHEAD } from '../../lib/sync/presence-holds.js';
import { rawSession, syncItem, type RawSession } from './raw-session.js';
import { closeAll, request, SECRET, sleep, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const META = 'm'.repeat(4000);
/** A budget that holds 15 entries of META (each ~4.2 KB charged), not 16. */
const BUDGET = 64 * 1024;
const BIG = 64 << 20;

const metric = async (relay: Relay, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await request(relay.port, { path: '/metrics' })).body)?.[1]);

/** A client of principal `sub` live in `room` and `hall`. */
async function member(relay: Relay, sub: string): Promise<RawSession> {
  const s = t.add(rawSession(relay.url, { token: createToken(SECRET, { spaces: { room: 'read', hall: 'read' }, sub, expiresIn: 600 }), spaces: [syncItem('room'), syncItem('hall')] }));
  await s.ready;
  await until(() => s.messages().reduce((n, m) => n + (m.type === MsgType.Sync ? m.spaces.length : 0), 0) === 2, 'the relay synced the spaces');
  return s;
}

/**
 * `s` sends 16 entries (tabs `tag`00–15) of 4 KiB metadata in `space`; resolves with how many the relay refused. (A space
 * holds 16 ids a sender, tombstones included: the entries after the first batch go to another space, so only the bytes
 * budgets refuse them.)
 */
async function sixteen(relay: Relay, s: RawSession, tag: string, space = 'hall'): Promise<number> {
  const before = await metric(relay, 'concord_relay_presence_refused_total');
  const e = Array.from({ length: 16 }, (_, i) => ({ replicaId: `${s.replicaId}~${tag}${String(i).padStart(2, '0')}`, meta: META, heartbeat: 1 }));
  s.send({ type: MsgType.Presence, space, json: JSON.stringify({ e }) });
  // A digest after them: its answer comes once the entries were read (answered once a window a connection: `first`).
  const answers = () => s.messages().filter((m) => m.type === MsgType.Presence).length;
  const seen = answers();
  s.send({ type: MsgType.Presence, space, json: JSON.stringify({ d: {}, r: 1 }) });
  await until(() => answers() > seen, 'the relay read the entries', 10_000).catch(() => sleep(300));
  return (await metric(relay, 'concord_relay_presence_refused_total')) - before;
}

const cases: Array<[holder: string, options: (t0: number) => RelayOptions, second: 'same' | 'principal' | 'address']> = [
  ['connection', () => ({ presenceBudget: { connection: BUDGET, principal: BIG }, ipCaps: { presenceBytes: BIG } }), 'same'],
  ['principal', () => ({ presenceBudget: { connection: BIG, principal: BUDGET }, ipCaps: { presenceBytes: BIG } }), 'principal'],
  ['address', () => ({ presenceBudget: { connection: BIG, principal: BIG }, ipCaps: { presenceBytes: BUDGET } }), 'address'],
];

describe("a presence budget frees once its entries expire on the relay's clock", () => {
  it.each(cases)('%s', async (_holder, options, second) => {
    let clock = Date.now();
    const relay = await t.relay({ secret: SECRET, now: () => clock, ...options(clock) });
    const first = await member(relay, 'mallory');
    expect(await sixteen(relay, first, 'a', 'room'), 'the budget holds 15 of them').toBe(1);
    // Another holder's client: the same connection, another of the same principal, or another principal at the address.
    const other = second === 'same' ? first : await member(relay, second === 'principal' ? 'mallory' : 'eve');
    expect(await sixteen(relay, other, 'b'), 'the budget is full').toBe(16);
    // Silent since: past the ttl on the relay's clock, the entries expire at the next presence tick (real time).
    clock += DEFAULT_PRESENCE_TTL + 1000;
    await sleep(DEFAULT_PRESENCE_TTL / 3 + 500);
    // Their metadata's room is back; the tombstones (id + overhead each, for 2 × ttl) keep about one entry's.
    const refused = await sixteen(relay, other, 'c');
    expect(refused, 'refused after the expiry').toBeLessThanOrEqual(2);
  }, 30_000);

  // An address's budget (ipCaps.presenceBytes, 16 MiB) is shared by everyone behind it (a NAT, a CGNAT). Measured here
  // at 512 KiB with honest users, one connection and one member of 4 KiB metadata each; the count scales with the budget.
  it('honest users behind one address: how many members of 4 KiB metadata its budget holds', async () => {
    const budget = 512 * 1024;
    const relay = await t.relay({ secret: SECRET, ipCaps: { presenceBytes: budget } });
    let held = 0;
    for (let i = 0; i < 200; i++) {
      const s = await member(relay, `user${i}`);
      const before = await metric(relay, 'concord_relay_presence_refused_total');
      s.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ e: [{ replicaId: `${s.replicaId}~tab1`, meta: META.slice(0, 4094), heartbeat: 1 }] }) });
      const seen = s.messages().filter((m) => m.type === MsgType.Presence).length;
      s.send({ type: MsgType.Presence, space: 'room', json: JSON.stringify({ d: {}, r: 1 }) });
      await until(() => s.messages().filter((m) => m.type === MsgType.Presence).length > seen, 'read', 10_000);
      const refused = (await metric(relay, 'concord_relay_presence_refused_total')) > before;
      s.close();
      if (refused) break;
      held++;
    }
    console.log(`one address, ${budget / 1024} KiB: ${held} honest members of 4 KiB metadata (at the default 16 MiB: ~${held * 32})`);
    // Each charged its id (some 30 characters), its metadata's JSON (4 096) and ENTRY_OVERHEAD: no more, no less.
    expect(held).toBeGreaterThanOrEqual(Math.floor(budget / (64 + 4096 + ENTRY_OVERHEAD)));
    expect(held).toBeLessThanOrEqual(Math.floor(budget / 4096));
  }, 120_000);
});
