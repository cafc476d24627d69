/**
 * Through a real relay on 127.0.0.1: a relay restarted with a smaller frame limit (`maxPayload`) holds a value it can no
 * longer send. It leaves the key out for a client (VALUE_TOO_LARGE on its own error event) and, at protocol 12, tells
 * the client (LEFT, lib/sync/lacks.ts): the client reports VALUE_TOO_LARGE naming the key and is not 'synced' while it
 * lacks it; once the key is written small it is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { closeAll, startRelay, until } from './support.js';

const BIG = 'b'.repeat(40_000);
let open: Array<{ close(): Promise<void> | void }> = [];
let dirs: string[] = [];
afterEach(async () => {
  await closeAll(...open.reverse());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  open = [];
  dirs = [];
});

async function relayOn(dataDir: string, maxPayload: number, port = 0): Promise<Relay> {
  const relay = await startRelay({ dataDir, maxPayload, port });
  open.push(relay);
  return relay;
}

async function clientOf(relay: Relay): Promise<{ r: Replica; errors: unknown[] }> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
  open.push(r);
  r.space('s');
  const errors: unknown[] = [];
  r.on('error', (e) => errors.push(e));
  r.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
  return { r, errors };
}

describe('a value a restarted relay can no longer send', () => {
  it('keeps the client that lacks it from synced, until the key is written small', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-lacks-'));
    dirs.push(dir);
    const wide = await relayOn(dir, 128 * 1024);
    const writer = await clientOf(wide);
    await writer.r.space('s').put('big', BIG);
    await writer.r.space('s').put('small', 1);
    await writer.r.whenSynced();
    const port = Number(new URL(wide.url).port);
    await wide.close();

    // The same address: the writer's link dials it again.
    const narrow = await relayOn(dir, 16 * 1024, port);
    const relayErrors: unknown[] = [];
    narrow.replica.on('error', (e) => relayErrors.push(e));
    const reader = await clientOf(narrow);
    await until(async () => (await reader.r.space('s').get('small')) !== undefined, 'small at the reader');
    await until(() => reader.errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE' && e.message.includes('"big"')), 'the reader told it lacks "big"');
    expect(relayErrors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await reader.r.space('s').get('big')).toBeUndefined();
    expect(reader.r.status, 'the reader lacks "big"').not.toBe('synced');

    // Its writer, holding it, writes it small (superseding it): the state fits the link now.
    await until(() => writer.r.status === 'synced', 'the writer linked to the restarted relay');
    await writer.r.space('s').put('big', 'small now');
    await until(() => reader.r.status === 'synced', 'the reader synced once "big" is small');
    expect((await reader.r.space('s').get('big'))?.value).toBe('small now');
  });

  it('a client whose own frame limit is under a frame the relay sends says so (the relay cannot know that limit)', async () => {
    const relay = await startRelay();
    open.push(relay);
    const writer = await clientOf(relay);
    await writer.r.space('s').put('big', BIG);
    await writer.r.whenSynced();
    const r = await openReplica({ storage: memoryStorage() });
    open.push(r);
    r.space('s');
    const errors: unknown[] = [];
    r.on('error', (e) => errors.push(e));
    const statuses: string[] = [];
    r.on('status', (s) => statuses.push(s));
    r.connect(webSocketTransport(relay.url, { maxFrameBytes: 16 * 1024 }), { backoff: { base: 20, max: 200 } });
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE' && /frame limit/.test(e.message)), 'the client says a frame was over its limit');
    await new Promise((res) => setTimeout(res, 500));
    expect(statuses).not.toContain('synced');
    expect(errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'once an outage').toHaveLength(1);
  });
});
