/**
 * Issue 11 #9, the relay's side: a token names its user (`sub`), and the relay binds each replicaId to the
 * first user that says hello with it (lib/sync/principals.ts). Another user claiming that replicaId — to
 * deliver versions "as" it, or to feed its restore detection — is refused with 4409.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken, verifyToken } from '../../adapters/relay/index.js';
import { isConcordError, memoryStorage, openReplica } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, SECRET, sleep, tracker } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const tokenFor = (sub: string) => createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub });

describe('replica ids bound to the user that first used them', () => {
  it("refuses another user's session under a replica's id (4409), and lets the same user back in", async () => {
    const relay = await t.relay({ secret: SECRET });
    const alice = t.add(await openReplica({ storage: memoryStorage() }));
    alice.space('s');
    const link = alice.connect(webSocketTransport(relay.url, { token: tokenFor('alice') }), { backoff: { base: 20, max: 200 } });
    await (await alice.space('s').put('k', 'from alice')).synced;
    link.close();
    await sleep(100);

    const mallory = rawSession(relay.url, { token: tokenFor('mallory'), replicaId: alice.replicaId, spaces: [syncItem('s')] });
    const outcome = await Promise.race([mallory.ready.then(() => 0), mallory.closed.then((c) => c.code)]);
    mallory.close();
    expect(outcome).toBe(4409);

    const aliceAgain = rawSession(relay.url, { token: tokenFor('alice'), replicaId: alice.replicaId, spaces: [syncItem('s')] });
    expect(await Promise.race([aliceAgain.ready.then(() => 0), aliceAgain.closed.then((c) => c.code)])).toBe(0);
    aliceAgain.close();
  });

  it('carries `sub` in the signed token, and refuses a malformed one', () => {
    expect(verifyToken(SECRET, tokenFor('user-7')).sub).toBe('user-7');
    let code = '';
    try {
      createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 60, sub: 'x'.repeat(300) });
    } catch (e) {
      code = isConcordError(e) ? e.code : String(e);
    }
    expect(code).toBe('INVALID_OPTION');
  });
});
