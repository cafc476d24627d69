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
});
