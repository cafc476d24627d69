/**
 * Through a real relay on 127.0.0.1: a key whose siblings together outgrow the frame limit reaches a client that
 * connects later (key-parts.ts), and the relay refuses a maxValueBytes that would store values it can never send.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import type { Relay } from '../../adapters/relay/index.js';
import { closeAll, startRelay, synced, until } from './support.js';

const FRAME = 32 * 1024;
const open: Array<Replica | Relay> = [];
afterEach(() => closeAll(...open.splice(0)));

async function client(relay: Relay): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  r.space('s');
  open.push(r);
  return r;
}
const connect = (r: Replica, relay: Relay) => r.connect(webSocketTransport(relay.url, { maxFrameBytes: FRAME }), { backoff: { base: 20, max: 200 } });
const value = (i: number) => `${i}:`.padEnd(7000, String.fromCharCode(97 + i));

describe('a key over the frame limit through a relay', () => {
  it('reaches a client that connects after five writers left their siblings of it at the relay', async () => {
    const relay = await startRelay({ maxPayload: FRAME });
    open.push(relay);
    const writers = await Promise.all([0, 1, 2, 3, 4].map(() => client(relay)));
    await Promise.all(writers.map((w, i) => w.space('s').put('big', value(i))));
    for (const w of writers) connect(w, relay);
    await synced(...writers);
    const late = await client(relay);
    const errors: unknown[] = [];
    late.on('error', (e) => errors.push(e));
    connect(late, relay);
    await synced(late);
    await until(async () => (await late.space('s').get('big'))?.versions.length === 5, 'five siblings at the late client');
    expect([...(await late.space('s').get('big'))!.siblings].sort()).toEqual([0, 1, 2, 3, 4].map(value).sort());
    expect(errors).toEqual([]);
  });

  it('refuses a maxValueBytes that leaves no room in maxPayload for the frame around a value', async () => {
    await expect(startRelay({ maxPayload: FRAME, maxValueBytes: FRAME })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(startRelay({ maxPayload: 1024 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
