/**
 * Hand-written test peers (raw-session.ts, raw.ts, values/hostile.ts, need-window.test.ts) write protocol 10's
 * frames and announce the versions of those frames (support/raw-versions.ts), not PROTOCOL_VERSIONS: against a relay
 * that speaks 11 their frames are read as they were written, so announcing 11 changes nothing they test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { syncedSession } from '../security/attacks.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { closeAll, startRelay, until } from './support.js';

let relay: Relay | undefined;
afterAll(() => closeAll(relay));

describe('a raw test peer against a relay speaking protocol 11', () => {
  it('announces the versions it writes, and its protocol-10 CHANGES frame is stored as written', async () => {
    expect(Math.max(...RAW_VERSIONS)).toBeLessThan(EPOCH_DOTS);
    relay = await startRelay();
    (relay.replica as unknown as { core: { speaks: readonly number[] } }).core.speaks = [...RAW_VERSIONS, EPOCH_DOTS];
    const s = await syncedSession(relay.url, 's');
    expect(s.relay?.versions).toContain(EPOCH_DOTS);
    // A logical counter of 5: protocol 10's version word (c * 4 + form) read in 11's form ((c * 2 + named) * 4 + form)
    // would name an epoch the frame has no table for.
    s.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [{ r: s.replicaId, n: 1, t: Date.now(), c: 5, v: JSON.stringify('raw') }], cc: { [s.replicaId]: 1 } }]] });
    await until(async () => (await relay!.replica.space('s').get('k'))?.value === 'raw' || s.isClosed, 'the relay stored the key');
    expect(s.isClosed).toBe(false);
    expect((await relay.replica.space('s').get('k'))?.value).toBe('raw');
    // It was sent no chain frame: the relay's chain goes only to a peer that announced 11.
    expect(s.messages().some((m) => m.type === MsgType.Epochs)).toBe(false);
    s.close();
  });
});
