/**
 * Periodic anti-entropy runs on every link, whatever the two replicaIds and whichever side dialed.
 * Issue 10, defect 2: only the dialing side had a timer and it started a round only from the smaller
 * replicaId, while an accepted session (a relay's side) had none: a client whose id sorts above the relay's
 * was never repaired periodically.
 */
import { describe, expect, it } from 'vitest';
import type { AntiEntropyRun } from '../../lib/index.js';
import { Cluster } from '../sim/cluster.js';

const INTERVAL = 1000;

/** A seed whose replica ids put the relay between its two clients, so both id orders occur. */
async function straddlingCluster(): Promise<Cluster> {
  for (let seed = 1; seed < 200; seed++) {
    const c = await Cluster.create({
      seed,
      nodes: ['hub', 'low', 'high'],
      edges: [['hub', 'low'], ['hub', 'high']],
      relay: 'hub',
      link: { antiEntropyInterval: INTERVAL },
    });
    const id = (n: string) => c.node(n).r.replicaId;
    if (id('low') < id('hub') && id('hub') < id('high')) return c;
    if (id('high') < id('hub') && id('hub') < id('low')) return c;
    await c.close();
  }
  throw new Error('no seed below 200 puts the relay between its clients');
}

describe('periodic anti-entropy', () => {
  it('runs on every link of a relay, for clients on both sides of its replicaId', async () => {
    const c = await straddlingCluster();
    const runs: Array<{ on: string; run: AntiEntropyRun }> = [];
    for (const n of c.names) c.node(n).r.on('antiEntropy', (run) => runs.push({ on: n, run }));
    await c.node('low').r.space('s').put('k', 1);
    await c.settle();
    await c.clock.advance(INTERVAL * 5);
    const periodic = (on: string, peer: string) => runs.filter((r) => r.on === on && !r.run.onConnect && r.run.peer === c.node(peer).r.replicaId).length;
    for (const client of ['low', 'high']) {
      expect(periodic(client, 'hub'), `${client} saw periodic rounds with the relay`).toBeGreaterThanOrEqual(2);
      expect(periodic('hub', client), `the relay saw periodic rounds with ${client}`).toBeGreaterThanOrEqual(2);
    }
    await c.close();
  });

  // Soak seed relay-hub 2026128169: a round waited for the link to be synced at the timer's tick, acknowledgements
  // included. A relay forwarding writes all the time always has a frame or two unacknowledged on a link (a client
  // defers ACKs of frames it need not answer at once, ack-policy.ts), so the relay, whose smaller id makes it the one
  // to start rounds, never did while the writes went on.
  it('runs while writes keep flowing through the relay, whose link always has frames unacknowledged', async () => {
    const c = await straddlingCluster();
    const id = (n: string) => c.node(n).r.replicaId;
    const [target, writer] = id('high') > id('hub') ? ['high', 'low'] : ['low', 'high'];
    const runs: AntiEntropyRun[] = [];
    c.node('hub').r.on('antiEntropy', (run) => runs.push(run));
    await c.settle();
    const space = c.node(writer).r.space('s');
    for (let t = 0; t < INTERVAL * 5; t += 40) {
      void space.put(`w${t % 400}`, t);
      await c.clock.advance(40);
    }
    const periodic = runs.filter((r) => !r.onConnect && r.peer === id(target)).length;
    expect(periodic, `the relay's periodic rounds with ${target} during the writes`).toBeGreaterThanOrEqual(2);
    await c.settle();
    await c.close();
  });

  it('runs on a peer-to-peer pair where both sides dial', async () => {
    const c = await Cluster.create({ seed: 3, nodes: ['a', 'b'], edges: [['a', 'b']], link: { antiEntropyInterval: INTERVAL } });
    const runs: AntiEntropyRun[] = [];
    c.node('b').r.on('antiEntropy', (run) => runs.push(run));
    await c.settle();
    await c.clock.advance(INTERVAL * 5);
    expect(runs.filter((r) => !r.onConnect).length).toBeGreaterThanOrEqual(2);
    await c.close();
  });
});
