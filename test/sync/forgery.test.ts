/**
 * Versions forged under another replica's id (issue 11, #9). Forwarding others' versions must keep working
 * (chains of peers converge), so a forged version travels like any other; what it must not do is make the
 * replica it names lose writes: a context claiming a huge counter of that replica would cover its later
 * writes of the key, and they would be dropped wherever that context arrived.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/cluster.js';

describe('a forged context under another replica\'s id', () => {
  it('cannot make that replica\'s later writes of the key disappear', async () => {
    const c = await Cluster.create({ seed: 21, nodes: ['hub', 'victim', 'mallory'], edges: [['hub', 'victim'], ['hub', 'mallory']], relay: 'hub', link: { antiEntropyInterval: 0 } });
    const victim = c.node('victim').r;
    await victim.space('s').put('doc', 'v1');
    await c.settle();
    // Mallory forges a state of the key whose context claims the victim wrote it a billion times.
    const forged = { vs: [{ r: c.node('mallory').r.replicaId, n: 1e9, t: c.clock.now(), c: 0, v: '"mine now"' }], cc: { [victim.replicaId]: 1e9, [c.node('mallory').r.replicaId]: 1e9 } };
    await c.node('mallory').r.core.join('s', [['doc', forged]]);
    await c.settle();
    // The victim, which received the forged state, writes the key again; so does it after a reconnect.
    const w = await victim.space('s').put('doc', 'v2 by the victim');
    await c.settle();
    await w.synced;
    for (const n of c.names) {
      const got = await c.node(n).r.space('s').get('doc');
      expect(got?.siblings, `on ${n}`).toContain('v2 by the victim');
      expect(got?.versions.find((v) => v.replicaId === victim.replicaId)?.counter).toBeGreaterThan(1e9);
    }
    await c.close();
  });

  it("a forged write under a dot the victim already used, with an earlier HLC, adds a sibling and removes nothing once the victim syncs", async () => {
    const c = await Cluster.create({ seed: 22, nodes: ['hub', 'victim', 'mallory', 'bystander'], edges: [['hub', 'victim'], ['hub', 'mallory'], ['hub', 'bystander']], relay: 'hub', link: { antiEntropyInterval: 0 } });
    const victim = c.node('victim').r;
    const w = await victim.space('s').put('doc', 'genuine');
    await c.settle();
    const genuine = (await c.node('bystander').r.core.storage.get('s', 'doc'))!.vs[0]!;
    // The same dot, an HLC before the genuine one, another value.
    const forged = { r: victim.replicaId, n: w.seq, t: genuine.t - 1000, c: 0, v: JSON.stringify('forged') };
    await c.node('mallory').r.core.join('s', [['doc', { vs: [forged], cc: { [victim.replicaId]: w.seq } }]]);
    await c.settle();
    for (const n of c.names) {
      const got = await c.node(n).r.space('s').get('doc');
      expect(got?.siblings.slice().sort(), `on ${n}`).toEqual(['forged', 'genuine']);
    }
    await c.close();
  });

  // restore-claims.ts: a claim of the victim's counters past its log's top is how a replica restored together with
  // its relay learns of it, so a forged one makes the victim re-identify. It may cost a new id and duplicate siblings,
  // never a write, and it happens at most once per open: a second forged claim, against the new id, changes nothing.
  it('a forged claim past the victim\'s top costs it one re-identification per open and no write', async () => {
    const c = await Cluster.create({ seed: 23, nodes: ['hub', 'victim', 'mallory'], edges: [['hub', 'victim'], ['hub', 'mallory']], relay: 'hub', link: { antiEntropyInterval: 0 } });
    const on = (n: string) => c.node(n).r.space('s');
    await on('victim').put('doc', 'v1');
    await c.settle();
    await c.stop('victim');
    await c.start('victim'); // a second open: now a copy of it could exist, so a claim could be genuine
    await on('victim').put('since', 'written since the open');
    await c.settle();
    const oldId = c.node('victim').r.replicaId;
    const forge = async (id: string, key: string) => {
      const m = c.node('mallory').r.replicaId;
      await c.node('mallory').r.core.join('s', [[key, { vs: [{ r: m, n: 1e6, t: c.clock.now(), c: 0, v: '"forged"' }], cc: { [id]: 1e6, [m]: 1e6 } }]]);
      await c.settle();
    };
    await forge(oldId, 'x');
    const newId = c.node('victim').r.replicaId;
    expect(newId).not.toBe(oldId);
    await forge(newId, 'y');
    expect(c.node('victim').r.replicaId).toBe(newId);
    const w = await on('victim').put('doc', 'v2');
    await c.settle();
    await w.synced;
    for (const n of c.names) {
      expect((await on(n).get('doc'))?.siblings, n).toEqual(['v2']);
      expect((await on(n).get('since'))?.siblings, n).toContain('written since the open');
      expect((await on(n).get('y'))?.siblings, n).toEqual(['forged']);
    }
    await c.close();
  });
});
