// A whole value over what a reader takes (4 × its maxValueBytes) that the relay, with a larger limit, took. Before, the
// reader refused the frame whole (4400, nothing told to the app): its link dropped, reconnected, and the relay's
// stream, resuming from the reader's cursor, sent the same value — closed again for as long as the reader ran, and no
// later write reached it (the same loop refused-delta-loop.test.ts ends for deltas; a delta refused there is asked
// for whole, and a whole value this large looped the same). Now the key is lacked from the relay as if the link had
// left it out (lacks.ts: VALUE_TOO_LARGE told, not 'synced'), the rest of the stream arrives, and the link stays.
import { afterAll, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { ConcordError, memoryStorage, openReplica } from '../../lib/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { tracker, until } from '../security/support.js';
import { watchReader } from '../support/reader-drops.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const backoff = { base: 20, max: 200 };

describe('a whole value over what a reader takes, from a relay that took it', () => {
  it.each([['this release', undefined], ['protocol 10', PROTOCOL_VERSIONS.filter((v) => v <= 10)]] as const)('the reader lacks the key and keeps its link: later writes arrive, the app is told, a smaller state ends the lack (%s)', async (_, speaks) => {
    const relay = await t.relay();
    const writer = t.add(await openReplica({ storage: memoryStorage() }));
    writer.connect(webSocketTransport(relay.url), { backoff });
    const ws = writer.space('s');
    // Written before the writer's hello settled: it does not tag in this session (identity.ts meetEpochPeer), so its
    // states reach a reader of protocol 10. A writer that met the relay before writing tags at once, and no state of it
    // goes to such a reader (by design: old-reader-tagging-writer.test.ts).
    await ws.put('first', 0);
    const reader = t.add(await openReplica({ storage: memoryStorage(), maxValueBytes: 1024, ...(speaks ? { speaks: [...speaks] } : {}) }));
    const { errors, drops, synced } = watchReader(reader);
    const rs = reader.space('s');
    const link = reader.connect(webSocketTransport(relay.url), { backoff });
    await until(async () => synced() && (await rs.get('first'))?.value === 0, 'the reader synced');
    await ws.put('big', 'x'.repeat(5000)); // over 4 × 1024: the relay (1 MiB) takes it, the reader cannot
    await ws.put('after', 1);
    await until(async () => (await rs.get('after'))?.value === 1, 'a later write at the reader', 10_000);
    expect(await rs.get('big')).toBeUndefined();
    expect(drops()).toBe(0);
    const told = errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE' && /"big"/.test(e.message));
    expect(told.length).toBeGreaterThanOrEqual(1);
    expect(errors.filter((e) => !told.includes(e))).toEqual([]);
    expect(reader.status).not.toBe('synced'); // it lacks "big"
    // A new link asks for the key lacked (NEED): the answer, over the bound again, does not end the lack, nor is told.
    const dropsAtClose = drops();
    link.close();
    reader.connect(webSocketTransport(relay.url), { backoff });
    await ws.put('after', 2);
    await until(async () => (await rs.get('after'))?.value === 2, 'a write at the reader over the new link', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the answer to its NEED, asked at the link's start
    expect(reader.status).not.toBe('synced');
    expect(await rs.get('big')).toBeUndefined();
    expect(errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE')).toHaveLength(told.length);
    // Written small again: the lack ends, the reader holds it and is synced.
    await ws.put('big', 'small now');
    await until(async () => (await rs.get('big'))?.value === 'small now', 'the smaller state at the reader', 10_000);
    await until(() => reader.status === 'synced', 'the reader synced again', 10_000);
    expect(drops()).toBeLessThanOrEqual(dropsAtClose + 2); // the close's own (offline, connecting): no loop
  });
});
