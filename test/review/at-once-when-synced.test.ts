/**
 * Review rev46c of s7c: what a client's change listener sees of `pending` and `whenSynced` inside a LIVE
 * frame joined at once (the frame's cursor and ACK come after the listeners, in the same call). A write made there
 * counts pending at once; a `whenSynced` asked there resolves only once the relay holds that write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent, Replica } from '../../lib/index.js';
import { relayedClient } from '../sync/live-support.js';
import { until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

describe('pending and whenSynced inside a frame handled at once', () => {
  it('a write there counts pending at once, and whenSynced asked there waits for the relay to hold it', async () => {
    const { relay, writer, client, gate } = await relayedClient(open);
    gate.hold = true;
    await (await writer.space('s').put('a', 1)).synced;
    await until(() => gate.held.length > 0, 'the LIVE frame of a is held');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    gate.hold = false;
    const seen: number[] = [];
    let waited: Promise<void> | undefined;
    let relayHeld: boolean | undefined;
    client.space('s').subscribe('a', (e: ChangeEvent) => {
      if (e.origin !== 'remote') return;
      void client.space('s').put('echo', 1);
      seen.push(client.pending);
      waited = client.whenSynced().then(async () => void (relayHeld = (await relay.space('s').get('echo')) !== undefined));
    });
    gate.flush();
    expect(seen).toEqual([1]);
    await waited;
    expect(relayHeld).toBe(true);
    expect(client.pending).toBe(0);
  });
});
