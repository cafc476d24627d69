/**
 * Tombstone collection against the two invariants DESIGN.md sets for it: a version the collected tombstone
 * superseded never comes back, however it reaches the relay; and no version the relay never saw superseded
 * is ever refused. Each case is a defect found on an earlier engine (issue 10, numbers in the titles),
 * run on the simulated network (virtual time, seeded) with a relay hub that collects tombstones.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/cluster.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 11;
const DAY = 24 * 3600 * 1000;
const GRACE = 30 * DAY;

async function hubCluster(nodes: string[], edges: Array<[string, string]>, maxFrameBytes?: number): Promise<Cluster> {
  return Cluster.create({
    seed: SEED,
    nodes,
    edges,
    relay: 'hub',
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 200 } },
    replica: (n) => (n === 'hub' ? { collectTombstones: true, gcGrace: GRACE } : {}),
    ...(maxFrameBytes ? { net: { maxFrameBytes } } : {}),
  });
}

/** The dots of a key on a node, as `replica:counter` (tombstones marked `d`), sorted. */
async function dotsOf(c: Cluster, node: string, key: string): Promise<string[]> {
  const rec = await c.node(node).storage.get('s', key);
  return (rec?.vs ?? []).map((v) => `${v.r}:${v.n}${v.d ? 'd' : ''}`).sort();
}

/** The live values of a key on a node (no merge function is registered, so a read writes nothing back). */
const value = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

describe(`tombstone collection (seed ${SEED})`, () => {
  it('(1) a relay that never collected anything refuses nothing, also when a record moved up the writer\'s log in a multi-frame catch-up', async () => {
    // a writes offline; a peer-to-peer join with b then moves k0's record (still holding a's dot 1) to the
    // top of a's log, above the thirty keys written after it. a reaches the relay in many small frames.
    const c = await hubCluster(['hub', 'a', 'b'], [['hub', 'a'], ['a', 'b']], 600);
    c.net.partition(['hub']);
    const a = c.node('a').r.space('s');
    const first = await a.put('k0', 'a0');
    for (let i = 1; i <= 30; i++) await a.put(`k${i}`, `a${i}`);
    await c.node('b').r.space('s').put('k0', 'b0', { context: '' });
    await c.clock.advance(2000);
    expect(await dotsOf(c, 'a', 'k0')).toHaveLength(2);
    c.net.heal();
    await c.settle();
    await first.synced;
    const aId = c.node('a').r.replicaId;
    // Both concurrent versions of k0 survive on the relay and on a: nothing was collected.
    expect(await dotsOf(c, 'hub', 'k0')).toContain(`${aId}:${first.seq}`);
    expect(await dotsOf(c, 'a', 'k0')).toContain(`${aId}:${first.seq}`);
    expect(await value(c, 'hub', 'k0')).toEqual(['a0', 'b0']);
    await c.close();
  });

  it('(6) a collected key written again does not bring back what the collected delete superseded', async () => {
    const c = await hubCluster(['hub', 'a', 'b', 'x', 'y'], [['hub', 'a'], ['hub', 'b'], ['hub', 'x'], ['hub', 'y']]);
    await c.stop('y');
    await c.node('b').r.space('s').put('k', 'old from b');
    await c.clock.advance(1000);
    // x goes away holding b's version; a deletes the key; the relay collects the tombstone.
    await c.stop('x');
    await c.node('a').r.space('s').delete('k');
    await c.clock.advance(GRACE + DAY);
    expect(await c.node('hub').r.collectGarbage()).toBe(1);
    // Everyone who saw the delete goes offline; y, which never saw the key, writes it afresh; x comes back.
    await c.stop('a');
    await c.stop('b');
    await c.start('y');
    await c.node('y').r.space('s').put('k', 'new from y');
    await c.clock.advance(1000);
    await c.start('x');
    await c.clock.advance(5000);
    for (const n of ['hub', 'x', 'y']) expect(await value(c, n, 'k')).toEqual(['new from y']);
    await c.start('a');
    await c.start('b');
    await c.settle();
    for (const n of c.names) expect(await value(c, n, 'k')).toEqual(['new from y']);
    await c.close();
  });

  it('(7, 8) a client returning after collection emptied the relay\'s space drops the deleted key, and every link reaches synced', async () => {
    const c = await hubCluster(['hub', 'a', 'b'], [['hub', 'a'], ['hub', 'b']]);
    await c.node('a').r.space('s').put('k', 'v');
    await c.settle();
    await c.stop('b');
    await c.node('a').r.space('s').delete('k');
    await c.clock.advance(GRACE + DAY);
    expect(await c.node('hub').r.collectGarbage()).toBe(1);
    await c.start('b');
    await c.settle(); // throws when a link stays at 'syncing'
    expect(await value(c, 'b', 'k')).toBeUndefined();
    expect(await value(c, 'hub', 'k')).toBeUndefined();
    await c.close();
  });

  it('(8) a client connecting for the first time after the collection of the newest log entry reaches synced', async () => {
    const c = await hubCluster(['hub', 'a', 'b'], [['hub', 'a'], ['hub', 'b']]);
    await c.stop('b');
    await c.node('a').r.space('s').put('k', 'v');
    await c.node('a').r.space('s').delete('k');
    await c.clock.advance(1000);
    await c.clock.advance(GRACE + DAY);
    expect(await c.node('hub').r.collectGarbage()).toBe(1);
    await c.start('b');
    await c.settle();
    expect(c.node('b').r.status).toBe('synced');
    await c.close();
  });

  it('(9) a version that reached the relay through another peer does not come back after its delete was collected', async () => {
    // a syncs only peer to peer with b; b brings a's version to the relay and deletes it there; collection;
    // then a comes back straight to the relay with its old version.
    const c = await hubCluster(['hub', 'a', 'b'], [['hub', 'a'], ['hub', 'b'], ['a', 'b']]);
    c.net.partition(['hub']);
    await c.node('a').r.space('s').put('k', 'from a');
    await c.clock.advance(1000);
    expect(await value(c, 'b', 'k')).toEqual(['from a']);
    await c.stop('a');
    c.net.heal();
    await c.clock.advance(1000);
    await c.node('b').r.space('s').delete('k');
    await c.clock.advance(1000);
    await c.clock.advance(GRACE + DAY);
    expect(await c.node('hub').r.collectGarbage()).toBe(1);
    await c.stop('b');
    await c.start('a');
    await c.clock.advance(5000);
    expect(await value(c, 'a', 'k')).toBeUndefined();
    expect(await value(c, 'hub', 'k')).toBeUndefined();
    await c.start('b');
    await c.settle();
    for (const n of c.names) expect(await value(c, n, 'k')).toBeUndefined();
    await c.close();
  });
});
