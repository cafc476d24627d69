/**
 * Review rev46c of s7c: LIVE frames joined at once while work that is not on the session's inbox runs beside them —
 * periodic anti-entropy rounds every few ms on both links (repair.ts: its turns are frames, its end stores the cursor
 * off the inbox), and local writes the client's change listener makes inside each frame's join (fanned back out while
 * the frame's ACK is told). Everyone ends with the same data, rounds ran, every write counts synced, nothing fails, and
 * the client's next session resumes from its stored cursor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { initiatesAntiEntropy } from '../../lib/sync/handshake.js';
import { memoryRelay } from '../support/tab-group.js';
import { dump, synced, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

describe('frames at once beside periodic repair and listener writes', () => {
  it('converges, rounds ran, every write synced, no error', async () => {
    const relay = await openReplica({ storage: memoryStorage() });
    const writer = await openReplica({ storage: memoryStorage() });
    // A client whose periodic rounds run (they run where the ids sort first; the relay's accept keeps its default).
    let client = await openReplica({ storage: memoryStorage() });
    while (!initiatesAntiEntropy(client.replicaId, relay.replicaId)) {
      await client.close();
      client = await openReplica({ storage: memoryStorage() });
    }
    open.push(relay, writer, client);
    const mem = memoryRelay(relay);
    const errors: unknown[] = [];
    for (const r of [relay, writer, client]) r.on('error', (e) => errors.push(e));
    let rounds = 0;
    client.on('antiEntropy', () => rounds++);
    writer.space('s');
    client.space('s');
    writer.connect(mem.transport(), { antiEntropyInterval: 15 });
    const link = client.connect(mem.transport(), { antiEntropyInterval: 15 });
    await synced(writer, client);
    const echoes: Promise<unknown>[] = [];
    let seen = 0;
    client.space('s').subscribe('w/*', (e) => {
      if (e.origin === 'remote' && ++seen % 3 === 0) echoes.push(client.space('s').put(`echo/${e.key}`, e.value).then((w) => w.synced));
    });
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) {
      writes.push(writer.space('s').put(`w/${i % 40}`, i).then((w) => w.synced));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 25));
    }
    await Promise.all(writes);
    const roundsWhileWriting = rounds;
    await until(() => echoes.length > 0, 'echo writes made');
    await Promise.all(echoes);
    await until(async () => JSON.stringify(await dump(writer, 's')) === JSON.stringify(await dump(client, 's')), 'the same data', 15_000);
    await synced(writer, client);
    expect(await dump(relay, 's')).toEqual(await dump(client, 's'));
    expect(roundsWhileWriting).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    // The next session of the client: from its stored cursor, no establishing round needed to catch up.
    link.close();
    await writer.space('s').put('while-away', 1);
    client.connect(mem.transport(), { antiEntropyInterval: 0 });
    await until(async () => (await client.space('s').get('while-away')) !== undefined, 'the write made while away');
    await synced(writer, client);
    expect(await dump(writer, 's')).toEqual(await dump(client, 's'));
  }, 40_000);
});
