/**
 * Review rev46c of s7c (inbox.ts: a LIVE frame joined at once, in the call that hands it over). What runs inside that
 * call now: the client's change listeners. Attacked: a listener that throws (before, the frame's promise was caught by
 * `fail`; now the throw is on the transport's stack), a listener that drops the connection, a listener that writes and
 * whose write must reach the relay with the cursor right for the next session, a decode error followed in the same call
 * by a good frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent, Replica } from '../../lib/index.js';
import { gated, heldWrites, relayedClient } from '../sync/live-support.js';
import { synced, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

const setup = () => relayedClient(open);

const remoteKeys = (events: readonly ChangeEvent[]) => events.filter((e) => e.origin === 'remote').map((e) => e.key);

/** Hands the held frames over with `listener` on key a; the errors the client reported meanwhile. */
function flushWith(s: Awaited<ReturnType<typeof setup>>, listener: () => void): unknown[] {
  const errors: unknown[] = [];
  s.client.on('error', (e) => errors.push(e));
  const off = s.client.space('s').subscribe('a', listener);
  s.gate.flush();
  off();
  return errors;
}

describe('listeners inside a frame handled at once', () => {
  it('a listener that throws: the throw reaches neither the transport nor the link (an error event), the frames behind are joined, the link stays', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    s.client.space('s').subscribe('a', () => {
      throw new Error('listener broke');
    });
    const opened = s.gate.opens;
    expect(() => s.gate.flush()).not.toThrow();
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener broke']);
    await synced(s.writer, s.client);
    expect(s.gate.opens).toBe(opened);
    expect(s.client.status).toBe('synced');
  });

  it('an error listener that throws too: swallowed, the link stays', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b']);
    s.client.on('error', () => {
      throw new Error('error listener broke');
    });
    s.client.space('s').subscribe('a', () => {
      throw new Error('listener broke');
    });
    const opened = s.gate.opens;
    expect(() => s.gate.flush()).not.toThrow();
    expect(remoteKeys(s.events)).toEqual(['a', 'b']);
    await synced(s.writer, s.client);
    expect(s.gate.opens).toBe(opened);
  });

  it('a listener that drops the connection (its close told later, as ws does): the frames handed over in the same call are joined once, in order, nothing fails', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors = flushWith(s, () => s.gate.drop());
    await until(() => s.gate.opens === 2, 'reconnected');
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors).toEqual([]);
  });

  it('a listener that closes the link and connects again: the closed session joins nothing more, the new one brings the rest, every write once', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const again = gated(s.mem.transport());
    const errors = flushWith(s, () => {
      s.link.close();
      s.client.connect(again.transport);
    });
    expect(remoteKeys(s.events)).toEqual(['a']);
    await until(async () => (await s.client.space('s').get('c')) !== undefined, 'the new session brought b and c', 10_000);
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a', 'b', 'c']);
    expect(errors).toEqual([]);
  });

  it('a listener that writes during the join: its write reaches the writer, and the next session resumes from the stored cursor (no anti-entropy)', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const runs: unknown[] = [];
    s.client.on('antiEntropy', (r) => runs.push(r));
    const off = s.client.space('s').subscribe('*', (e) => {
      if (e.origin === 'remote') void s.client.space('s').put(`echo/${e.key}`, e.key);
    });
    s.gate.flush();
    off();
    await until(async () => (await s.writer.space('s').get('echo/c')) !== undefined, 'the echoes reached the writer');
    await synced(s.writer, s.client);
    const stored = await s.client.space('s').get('echo/a');
    expect(stored?.value).toBe('a');
    // Drop and meet again: the cursors stored with the joins hold, both ways.
    s.gate.drop();
    await until(() => s.gate.opens === 2, 'reconnected');
    await synced(s.writer, s.client);
    await (await s.writer.space('s').put('after', 1)).synced;
    await until(async () => (await s.client.space('s').get('after')) !== undefined, 'the write after the reconnect');
    expect(runs).toEqual([]);
    for (const k of ['a', 'b', 'c']) expect((await s.relay.space('s').get(`echo/${k}`))?.value).toBe(k);
  });

  it('a frame that does not decode, then a good one in the same call: the session fails on the first, the second is not joined, the next session brings it', async () => {
    const s = await setup();
    await heldWrites(s, ['a']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const good = s.gate.held.splice(0);
    expect(good.length).toBeGreaterThan(0);
    const opened = s.gate.opens;
    expect(() => {
      s.gate.deliver(new Uint8Array([0xff, 0xff, 0xff]));
      for (const f of good) s.gate.deliver(f);
    }).not.toThrow();
    expect(remoteKeys(s.events)).toEqual([]);
    await until(() => s.gate.opens > opened, 'the link opened again', 10_000);
    await until(async () => (await s.client.space('s').get('a')) !== undefined, 'the next session brought a', 10_000);
    await synced(s.writer, s.client);
    expect(remoteKeys(s.events)).toEqual(['a']);
  });
});
