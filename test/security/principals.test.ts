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
import { closeAll, SECRET, sleep, tracker, until } from './support.js';
import { aliveIds, clusterRelay } from '../cluster/support.js';

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

  it("refuses a client's session under the id of a relay of the cluster (no token of a client speaks for a relay)", async () => {
    // A client under relay b's id, on relay a: its versions would count as b's own deliveries (b re-identifies when
    // a tells it it lost writes) and its ACKs as b's (w.replicated(2) with b down). Found by a helper's hunt.
    const a = t.add(await clusterRelay());
    const b = t.add(await clusterRelay({ join: [a.url] }));
    await until(() => aliveIds(a).length === 2 && aliveIds(b).length === 2, 'the relays know each other', 10_000);
    const outcomeOf = async (replicaId: string | undefined, sub?: string) => {
      const s = rawSession(a.url, { token: sub ? tokenFor(sub) : createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600 }), ...(replicaId ? { replicaId } : {}), spaces: [syncItem('s')] });
      const out = await Promise.race([s.ready.then(() => ({ code: 0, reason: '' })), s.closed]);
      s.close();
      return out;
    };
    expect(await outcomeOf(b.replica.replicaId)).toEqual({ code: 4401, reason: expect.stringMatching(/a relay of the cluster/) });
    expect((await outcomeOf(b.replica.replicaId, 'mallory')).code).toBe(4401);
    expect((await outcomeOf(a.replica.replicaId)).code).not.toBe(0); // a's own id: refused too
    expect((await outcomeOf(undefined)).code).toBe(0); // a client under an id of its own is welcome
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
