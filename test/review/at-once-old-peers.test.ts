/**
 * Review rev46c of s7c: frames handled at once between peers of earlier releases — protocol 5 (an ACK per frame, at
 * once: no cumulative ACKs) and protocol 10 (no epoch records). A client's listener writes inside each joined frame
 * and throws on one: every frame is joined once, in order, the echoes reach the writer, nothing reconnects, and the
 * next session resumes without anti-entropy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
import { heldWrites, relayedClient } from '../sync/live-support.js';
import { synced, until } from '../sync/support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

describe.each([
  ['5', [5]],
  ['10', SPEAKS_10],
])('at once between peers speaking up to %s', (_, speaks) => {
  it('listener writes and throws inside the frames: joined once in order, echoes reach the writer, no reconnect, resumed without anti-entropy', async () => {
    const s = await relayedClient(open, { speaks });
    const errors: unknown[] = [];
    const runs: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    s.client.on('antiEntropy', (r) => runs.push(r));
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await heldWrites(s, keys);
    const off = s.client.space('s').subscribe('k*', (e) => {
      if (e.origin !== 'remote') return;
      void s.client.space('s').put(`echo/${e.key}`, e.key);
      if (e.key === 'k3') throw new Error('listener broke');
    });
    s.gate.flush();
    off();
    expect(s.events.filter((e) => e.origin === 'remote').map((e) => e.key)).toEqual(keys);
    await until(async () => (await s.writer.space('s').get('echo/k11')) !== undefined, 'the echoes reached the writer');
    await synced(s.writer, s.client);
    expect(s.gate.opens).toBe(1);
    expect(errors.map((e) => (e as Error).message)).toEqual(['listener broke']);
    s.gate.drop();
    await until(() => s.gate.opens === 2, 'reconnected');
    await synced(s.writer, s.client);
    await (await s.writer.space('s').put('after', 1)).synced;
    await until(async () => (await s.client.space('s').get('after')) !== undefined, 'the write after');
    expect(runs).toEqual([]);
    for (const k of keys) expect((await s.writer.space('s').get(`echo/${k}`))?.value).toBe(k);
  });
});
