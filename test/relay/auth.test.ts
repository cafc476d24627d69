import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, TOKEN_LEEWAY_SECONDS, verifyToken, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { isConcordError, memoryStorage, merges, openReplica, type Replica, type Transport } from '../../lib/index.js';
import { closeAll, countingTransport, dump, SECRET, startRelay, synced, until } from './support.js';
import { helloFrame, item, rawPeer } from './raw.js';

let relay: Relay;
const open: Replica[] = [];
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET, helloTimeoutMs: 300 });
});
afterAll(() => closeAll(...open, relay));

/** The close code a token gets from the relay (first connection only). */
async function closeCodeFor(token: string): Promise<number> {
  const peer = rawPeer(relay.url);
  await peer.opened;
  peer.ws.send(helloFrame(token, [item('s')]));
  return (await peer.closed).code;
}

/** A replica whose link records the close codes it gets. */
async function recordingClient(token: Transport['token'], spaces: string[], codes: number[], merge?: Parameters<typeof openReplica>[0]['merge']) {
  const r = await openReplica({ storage: memoryStorage(), ...(merge ? { merge } : {}) });
  open.push(r);
  for (const s of spaces) r.space(s);
  const inner = webSocketTransport(relay.url, { ...(token !== undefined ? { token } : {}) });
  const transport: Transport = {
    ...inner,
    open: (h) => inner.open({ onMessage: h.onMessage, onClose: (c, why) => (codes.push(c), h.onClose(c, why)) }),
  };
  return { replica: r, link: r.connect(transport, { backoff: { base: 20, max: 100 } }) };
}

describe('relay authentication and rights', () => {
  it('refuses missing, forged and expired tokens with 4401', async () => {
    const good = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 60 });
    const forged = createToken('not-the-relay-secret!', { spaces: { s: 'write' }, expiresIn: 60 });
    const expired = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 1, now: Date.now() - 3_600_000 });
    expect(await closeCodeFor('')).toBe(4401);
    expect(await closeCodeFor(forged)).toBe(4401);
    expect(await closeCodeFor(expired)).toBe(4401);
    expect(await closeCodeFor(good.slice(0, -2))).toBe(4401);
    // And the good one is served: the relay answers its hello.
    const peer = rawPeer(relay.url);
    await peer.opened;
    peer.ws.send(helloFrame(good, [item('s')]));
    await until(() => peer.frames.length > 0, 'hello answered');
    peer.ws.close();
  });

  it('closes a connection with no hello within the deadline (4408)', async () => {
    const peer = rawPeer(relay.url);
    await peer.opened;
    expect((await peer.closed).code).toBe(4408);
  });

  it('checks expiry on every message: a token that expires mid-session closes it (4401)', async () => {
    // Valid for 3–4 more seconds (exp is whole seconds; plus leeway): time to connect on a loaded machine.
    const token = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 2 });
    const voidAt = (verifyToken(SECRET, token).exp + TOKEN_LEEWAY_SECONDS) * 1000;
    const codes: number[] = [];
    const { replica, link } = await recordingClient(token, ['s'], codes);
    await synced(replica);
    expect(codes).toEqual([]);
    await new Promise((r) => setTimeout(r, voidAt - Date.now() + 50));
    await replica.space('s').put('late', 1);
    await until(() => codes.includes(4401), 'closed as expired');
    link.close();
    expect(await relay.replica.space('s').get('late')).toBeUndefined();
  });

  it('with a token function, an expiry close is a routine reconnect: a fresh token, no error, no backoff', async () => {
    // Each token is valid for 2–3 more seconds; the function is asked again on every connection.
    let minted = 0;
    const fresh = () => (minted++, createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 2, now: Date.now() - 1_000 }));
    const codes: number[] = [];
    const errors: unknown[] = [];
    const r = await openReplica({ storage: memoryStorage() });
    open.push(r);
    r.on('error', (e) => errors.push(e));
    r.space('s');
    const inner = webSocketTransport(relay.url, { token: fresh });
    // A backoff of a minute or more: a reconnect after a backoff wait would not come within the test.
    r.connect({ ...inner, open: (h) => inner.open({ onMessage: h.onMessage, onClose: (c, why) => (codes.push(c), h.onClose(c, why)) }) }, { backoff: { base: 120_000, max: 240_000 } });
    await synced(r);
    await until(() => codes.includes(4401), 'closed as expired', 10_000);
    await until(() => minted >= 2 && r.status === 'synced', 'reconnected with a fresh token, without a backoff wait', 10_000);
    await (await r.space('s').put('after-renewal', 1)).synced;
    expect(errors.filter((e) => isConcordError(e, 'UNAUTHORIZED'))).toEqual([]);
  });

  it('a space the token does not name is refused (FORBIDDEN) and nothing of it is stored', async () => {
    const token = createToken(SECRET, { spaces: { mine: 'write' }, expiresIn: 60 });
    const codes: number[] = [];
    const errors: unknown[] = [];
    const { replica } = await recordingClient(token, ['mine', 'theirs'], codes);
    replica.on('error', (e) => errors.push(e));
    await replica.space('theirs').put('k', 'sneaky');
    await replica.space('mine').put('k', 'fine');
    await until(() => errors.some((e) => isConcordError(e, 'FORBIDDEN')), 'FORBIDDEN reported');
    await until(async () => (await relay.replica.space('mine').get('k'))?.value === 'fine', 'allowed space synced');
    expect(await relay.replica.space('theirs').get('k')).toBeUndefined();
  });

  it('a read-only client receives, its writes are refused and not stored, and it merges on read without writing back', async () => {
    const writeToken = createToken(SECRET, { spaces: { ro: 'write' }, expiresIn: 60 });
    const readToken = createToken(SECRET, { spaces: { 'r*': 'read' }, expiresIn: 60 });
    // Two writers create siblings on the relay.
    const w1 = await openReplica({ storage: memoryStorage() });
    const w2 = await openReplica({ storage: memoryStorage() });
    open.push(w1, w2);
    await w1.space('ro').put('cart', ['milk']);
    await w2.space('ro').put('cart', ['eggs']);
    w1.connect(webSocketTransport(relay.url, { token: writeToken }));
    w2.connect(webSocketTransport(relay.url, { token: writeToken }));
    await synced(w1, w2);
    await until(async () => (await relay.replica.space('ro').get('cart'))?.siblings.length === 2, 'siblings on the relay');

    const errors: unknown[] = [];
    const reader = await openReplica({ storage: memoryStorage(), merge: { 'cart': merges.union } });
    open.push(reader);
    reader.on('error', (e) => errors.push(e));
    await reader.space('ro').put('offline-write', 'from reader'); // made before it knew it was read-only
    const link = reader.connect(webSocketTransport(relay.url, { token: async () => readToken }));
    await until(async () => (await reader.space('ro').get('cart'))?.versions.length === 2, 'reader received both siblings');
    await until(() => reader.space('ro').readOnly, 'reader knows it is read-only');
    // Its link settles; its own write stays pending (no relay holds it), so the replica as a whole is not synced — it
    // was, falsely, before — and it was told once (an 'error' event, FORBIDDEN) that the write will not sync.
    await until(() => link.status === 'synced', 'the reader’s link is synced');
    expect(reader.pending).toBe(1);
    expect(reader.status).toBe('syncing');
    await synced(w1, w2);

    const merged = await reader.space('ro').get('cart');
    expect(merged?.value).toEqual(['eggs', 'milk']);
    await expect(reader.space('ro').put('x', 1)).rejects.toSatisfy((e: unknown) => isConcordError(e, 'FORBIDDEN'));
    await new Promise((r) => setTimeout(r, 200));
    // Not written back: the relay and the reader still hold the two siblings; the reader's offline write stayed local.
    expect((await relay.replica.space('ro').get('cart'))?.versions.length).toBe(2);
    expect(Object.keys(await dump(reader, 'ro')).sort()).toEqual(['cart', 'offline-write']);
    expect(await relay.replica.space('ro').get('offline-write')).toBeUndefined();
    expect(errors.some((e) => isConcordError(e, 'FORBIDDEN'))).toBe(true);
  });

  it('a read-only client sends no states of its own once granted read (its offline writes are not uploaded to be refused)', async () => {
    // The relay's GRANT(read) came before its sync item, whose handling set the space's rights back to 'write' on the
    // client: it then offered its states in every anti-entropy run, each answered DENIED (a megabyte of offline
    // writes went up at every reconnect and round, for nothing).
    const readToken = createToken(SECRET, { spaces: { 'up*': 'read' }, expiresIn: 60 });
    const writer = await openReplica({ storage: memoryStorage() });
    open.push(writer);
    await writer.space('upload').put('seed', 1); // so the relay holds keys and the reader's first meeting compares
    writer.connect(webSocketTransport(relay.url, { token: createToken(SECRET, { spaces: { upload: 'write' }, expiresIn: 60 }) }));
    await until(async () => (await relay.replica.space('upload').get('seed')) !== undefined, 'the relay holds a key');
    const reader = await openReplica({ storage: memoryStorage() });
    open.push(reader);
    reader.on('error', () => {});
    for (let i = 0; i < 20; i++) await reader.space('upload').put(`offline/${i}`, 'x'.repeat(1000));
    const { transport, sent } = countingTransport(webSocketTransport(relay.url, { token: readToken }));
    const link = reader.connect(transport, { antiEntropyInterval: 100 });
    await until(() => link.status === 'synced' && reader.space('upload').readOnly, 'the reader is synced and knows it is read-only');
    await new Promise((r) => setTimeout(r, 400)); // a few anti-entropy rounds
    expect(sent(), 'bytes the read-only reader sent (its 20 KB of offline writes must not be among them)').toBeLessThan(8000);
    expect(await relay.replica.space('upload').get('offline/0')).toBeUndefined();
  });
});
