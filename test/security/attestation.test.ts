/**
 * Delivery attestations (lib/attest.ts): a relay restored from an older copy learns it from any client that holds
 * its signature on a dot the copy lost, and from nothing else a client can say. A client's word alone must never
 * make a relay re-identify (issue 11: that would let anyone with a token make it mint ids and re-issue at will).
 * createRelay opens under a fresh id at every start anyway; these are servers that keep theirs (openReplica + accept).
 */
import { describe, expect, it } from 'vitest';
import { ATTESTATION_META, attestationOf, type Attestation } from '../../lib/attest.js';
import { Cluster } from '../sim/cluster.js';

const SEED = 7;

async function hubWithClients() {
  const c = await Cluster.create({ seed: SEED, nodes: ['hub', 'alice', 'mallory'], edges: [['hub', 'alice'], ['hub', 'mallory']], relays: ['hub'], keptRelayIds: true, link: { antiEntropyInterval: 0 } });
  await c.drive(c.node('hub').r.space('s').put('early', 'written by the relay'));
  await c.settle();
  return c;
}

/** A hub with clients, its id, and what it attested to alice. */
async function attested() {
  const c = await hubWithClients();
  const hub = c.node('hub').r;
  const before = hub.replicaId;
  const genuine = (await c.drive(attestationOf(c.node('alice').r.core.storage, before)))!;
  return { c, hub, before, genuine };
}

/** Sets what `name` believes `relay` attested, then reconnects it so its hello carries that. */
async function claim(c: Cluster, name: string, relayId: string, a: Attestation): Promise<void> {
  await c.drive(c.node(name).r.core.storage.transact((tx) => tx.setMeta(ATTESTATION_META + relayId, a)));
  await c.drive(c.stop(name));
  await c.drive(c.start(name));
  await c.settle();
}

describe('delivery attestations', () => {
  it('a client holds the relay\'s signed statement of the relay\'s own dots it delivered', async () => {
    const c = await hubWithClients();
    const hub = c.node('hub').r;
    const a = await c.drive(attestationOf(c.node('alice').r.core.storage, hub.replicaId));
    expect(a?.e).toBe(hub.core.epoch);
    expect(a?.n).toBeGreaterThan(0);
    expect(a?.tag).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // A relay keeps no attestation of a client's: it trusts no signature but its own.
    expect(await c.drive(attestationOf(hub.core.storage, c.node('alice').r.replicaId))).toBeUndefined();
    await c.close();
  });

  it('a forged attestation of dots the relay never delivered does not make it re-identify', async () => {
    const { c, hub, before, genuine } = await attested();
    // The claim names far more dots than the relay holds, with the genuine tag of a smaller claim and with a made-up one.
    for (const tag of [genuine.tag, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      await claim(c, 'mallory', before, { e: genuine.e, n: genuine.n + 1000, tag });
      expect(hub.replicaId).toBe(before);
    }
    // Nor does a claim in an epoch the relay never had.
    await claim(c, 'mallory', before, { e: 'madeUpEpoch', n: 1, tag: genuine.tag });
    expect(hub.replicaId).toBe(before);
    expect(c.node('mallory').r.status).toBe('synced');
    await c.close();
  });

  it('a genuine attestation replayed by another client while the relay holds those dots changes nothing', async () => {
    const { c, hub, before, genuine } = await attested();
    await claim(c, 'mallory', before, genuine);
    expect(hub.replicaId).toBe(before);
    await c.close();
  });

  it('after the relay is restored from an older copy, its own signature brought by any client makes it re-identify', async () => {
    const c = await hubWithClients();
    const hub = () => c.node('hub').r;
    const backup = c.node('hub').disk.copy();
    const before = hub().replicaId;
    c.net.partition(['mallory']);
    await c.drive(hub().space('s').put('late', 'lost with the restore'));
    await c.clock.advance(3000);
    const genuine = (await c.drive(attestationOf(c.node('alice').r.core.storage, before)))!;
    // Mallory never received the lost write (she was away); the signature she brings (alice's) is the relay's own all the same.
    await c.drive(c.node('mallory').r.core.storage.transact((tx) => tx.setMeta(ATTESTATION_META + before, genuine)));
    await c.drive(c.stop('alice'));
    await c.drive(c.replaceStorage('hub', backup));
    expect(hub().replicaId).toBe(before);
    c.net.heal();
    await c.clock.advance(5000);
    expect(hub().replicaId).not.toBe(before);
    await c.drive(c.start('alice'));
    await c.settle();
    for (const n of c.names) expect((await c.drive(c.node(n).r.space('s').get('late')))?.siblings, `late on ${n}`).toEqual(['lost with the restore']);
    await c.close();
  });
});
