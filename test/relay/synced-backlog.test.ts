/**
 * `synced` through a real relay (WebSocket, the relay's own sessions and hub): writes that reach the relay after a
 * client's hello are waited for before that client reports `synced` (TOP, protocol 9; test/sync/synced-backlog.test.ts
 * has the same over in-memory pairs).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { pagedStorage } from '../sync/support.js';
import { client, closeAll, startRelay, synced } from './support.js';

const open: Array<Relay | Replica> = [];
afterAll(() => closeAll(...open));

describe('synced through a relay', () => {
  it('a client joining while a writer is still writing is synced only with the writes the relay stored meanwhile', async () => {
    const { storage, beforeFirstPage } = pagedStorage(50);
    const relay = await startRelay({ storage });
    open.push(relay);
    const writer = await client(relay);
    open.push(writer);
    for (let i = 0; i < 300; i++) await writer.space('s').put(`k${i}`, i);
    await synced(writer);
    // The relay's stream to the follower reads its first page after the hellos; the writer's next 40 writes reach the
    // relay then (each stored there before the page comes back).
    beforeFirstPage(async () => {
      const ws = [];
      for (let i = 0; i < 40; i++) ws.push(await writer.space('s').put(`late${i}`, i));
      await Promise.all(ws.map((w) => w.synced));
    });
    const follower = await client(relay);
    open.push(follower);
    const seen = new Set<string>();
    follower.space('s').subscribe('*', (e) => seen.add(e.key));
    const atSynced: number[] = [];
    follower.on('status', (status) => {
      if (status === 'synced') atSynced.push(seen.size);
    });
    await follower.whenSynced();
    expect(seen.size).toBe(340);
    expect(atSynced.length).toBeGreaterThan(0);
    expect(atSynced).toEqual(atSynced.map(() => 340));
  });
});
