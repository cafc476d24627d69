/**
 * Review rev46c of s7c: presence frames share the session's inbox with LIVE frames. Behind a LIVE frame whose join
 * waits on storage, a presence update waits too and is told after that frame's change; with nothing waiting it is
 * told within the call that hands it over; a presence listener that throws there closes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
import { lateOnce, relayedClient } from '../sync/live-support.js';
import { synced, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

const metaOf = (r: Replica, id: string) => r.space('s').presence.list().find((m) => m.replicaId.startsWith(id))?.meta as { n: number } | undefined;

describe('presence frames beside LIVE frames handled at once', () => {
  it('behind a join that waits it waits, told after the change; then at once; a throwing listener closes nothing', async () => {
    const late = lateOnce();
    const s = await relayedClient(open, { storage: late.storage });
    s.writer.space('s').presence.set({ n: 0 });
    await until(() => metaOf(s.client, s.writer.replicaId)?.n === 0, 'the client sees the writer present');
    const told: string[] = [];
    s.client.space('s').subscribe('*', (e) => void told.push(`change ${e.key}`));
    s.client.space('s').presence.subscribe(() => {
      const n = metaOf(s.client, s.writer.replicaId)?.n;
      if (n !== undefined && told.at(-1) !== `presence ${n}`) told.push(`presence ${n}`);
    });
    told.length = 0;
    s.gate.hold = true;
    await (await s.writer.space('s').put('a', 1)).synced;
    s.writer.space('s').presence.set({ n: 1 });
    await until(() => s.gate.held.length >= 2, 'the LIVE frame and the presence frame held');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    s.gate.hold = false;
    late.arm();
    s.gate.flush();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(told).toEqual([]);
    late.answer();
    await until(() => told.length >= 2, 'the change and the presence told');
    expect(told).toEqual(['change a', 'presence 1']);
    // Nothing waits now: the next presence frame is told within the call; a listener throwing there closes nothing.
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const off = s.client.space('s').presence.subscribe(() => {
      throw new Error('presence listener broke');
    });
    s.gate.hold = true;
    s.writer.space('s').presence.set({ n: 2 });
    await until(() => s.gate.held.length >= 1, 'the presence frame held');
    s.gate.hold = false;
    s.gate.flush();
    expect(told.at(-1)).toBe('presence 2');
    off();
    expect(errors.map((e) => (e as Error).message)).toContain('presence listener broke');
    await (await s.writer.space('s').put('b', 1)).synced;
    await until(() => told.includes('change b'), 'the link still carries writes');
    await synced(s.writer, s.client);
  });
});
