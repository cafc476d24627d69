/**
 * A hostile client and a relay's LIVE epoch table (lib/sync/epoch-table.ts, protocol 11): a LIVE frame naming an
 * entry the link never made, or one that would take the link's table past its bound, closes the session with
 * PROTOCOL_ERROR and the reason, and nothing of that frame is stored; the frames before it were taken.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import type { Writer } from '../../lib/sync/codec.js';
import { MAX_LINK_EPOCHS } from '../../lib/sync/epoch-table.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { CloseCode } from '../../lib/transport.js';
import { rawSession, syncItem, type RawSession } from '../security/raw-session.js';
import { newEntry, rawLive, tombstoneNaming } from '../support/raw-live.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { closeAll, startRelay, until } from './support.js';

const WITH_11 = [...RAW_VERSIONS, EPOCH_DOTS];
const coreOf = (r: Relay): Replica['core'] => r.replica.core;

const open: Relay[] = [];
afterAll(() => closeAll(...open));

/** The client's LIVE frames of a tombstone of its own at `n` for `key`, naming its epoch by `ref`. */
function liveFrames(s: RawSession): (key: string, n: number, ref: (w: Writer) => void) => Uint8Array {
  const frame = rawLive([s.replicaId, s.relay!.replicaId]);
  let first = true;
  return (key, n, ref) => frame(tombstoneNaming(key, s.replicaId, n, ref, first ? ((first = false), Date.now()) : 0));
}

async function client(): Promise<{ relay: Relay; s: RawSession }> {
  const relay = await startRelay();
  coreOf(relay).speaks = WITH_11;
  open.push(relay);
  const s = rawSession(relay.url, { versions: WITH_11, spaces: [syncItem('s')] });
  await s.ready;
  return { relay, s };
}

const stored = async (relay: Relay, key: string) => (await coreOf(relay).storage.get('s', key)) !== undefined;

describe("a relay's LIVE epoch table and a hostile client", () => {
  it('a reference to an entry the link never made closes the session, and the frame’s key is not stored', async () => {
    const { relay, s } = await client();
    const liveFrame = liveFrames(s);
    s.sendRaw(liveFrame('k1', 1, newEntry('Ep00001')));
    await until(() => stored(relay, 'k1'), 'the first frame taken');
    s.sendRaw(liveFrame('k2', 2, (w) => w.uint(9)));
    const closed = await s.closed;
    expect(closed.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(closed.reason).toMatch(/unknown epoch reference/);
    expect(await stored(relay, 'k2')).toBe(false);
  });

  it('a frame that would take the link’s table past its bound closes the session, and its epoch is not learned', async () => {
    const { relay, s } = await client();
    const liveFrame = liveFrames(s);
    for (let i = 1; i <= MAX_LINK_EPOCHS; i++) s.sendRaw(liveFrame(`k${i}`, i, newEntry(`L${String(i).padStart(6, '0')}`)));
    await until(() => stored(relay, `k${MAX_LINK_EPOCHS}`), 'every frame within the bound taken');
    expect(s.isClosed).toBe(false);
    const over = MAX_LINK_EPOCHS + 1;
    s.sendRaw(liveFrame(`k${over}`, over, newEntry('Overflow')));
    const closed = await s.closed;
    expect(closed.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(closed.reason).toMatch(/connection's epoch table over its bound/);
    expect(await stored(relay, `k${over}`)).toBe(false);
    expect(coreOf(relay).epochs.knows(s.replicaId, 'Overflow')).toBe(false);
  });
});
