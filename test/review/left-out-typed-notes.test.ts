/**
 * Review rev46b: notes without values (peer-model.ts LeftOutNote keeps a left-out state's dots and a "live typed value"
 * flag, no values). A relay at 11 holds a typed key (a counter, an add-wins set) whose state names an epoch: toward peers
 * below 11 it is left out, and its context alone does not go (fit-state.ts item 6); the peer keeps building on what it
 * holds. Scenes on the memory cluster (test/sim/cluster.ts) with earlier-release peers away and back, one restored from
 * an older copy, then every node upgraded to 11 and periodic anti-entropy rounds run (an upgraded peer gets a key left out
 * toward it by the next round: docs/design): every replica converges on one value that holds every increment or add
 * acknowledged (synced) along the way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const clusters: Cluster[] = [];
afterEach(async () => {
  down.clear();
  for (const c of clusters.splice(0)) await c.close();
});

const NODES = ['hub', 'a', 'w', 'old'];

async function star(): Promise<{ c: Cluster; speaks: Record<string, readonly number[]> }> {
  const speaks: Record<string, readonly number[]> = { hub: WITH_11, a: WITH_11, w: OLD, old: OLD };
  const c = await Cluster.create({
    seed: 46,
    nodes: NODES,
    edges: [['hub', 'a'], ['hub', 'w'], ['hub', 'old']],
    relays: ['hub'],
    keptRelayIds: true,
    speaks,
    link: { antiEntropyInterval: 2_000, backoff: { base: 20, max: 500 } },
  });
  clusters.push(c);
  await c.settle();
  await c.restart('a'); // a met a peer at 11: it tags from here
  await c.settle();
  return { c, speaks };
}

const sp = (c: Cluster, n: string) => c.node(n).r.space('s');
/** Nodes stopped now: while one is, the cluster is never quiet (its links wait), so time is run on instead. */
const down = new Set<string>();
async function quiet(c: Cluster): Promise<void> {
  if (down.size > 0) await c.clock.advance(5_000);
  else await c.settle();
}
async function stop(c: Cluster, n: string): Promise<void> {
  await c.stop(n);
  down.add(n);
}
async function start(c: Cluster, n: string): Promise<void> {
  down.delete(n);
  await c.start(n);
  await c.settle();
}
/** Increments the counter on `n` by `by`, and waits until the write counts synced. */
async function inc(c: Cluster, n: string, by: number): Promise<void> {
  const w = await c.drive(sp(c, n).update<unknown>('count', (cur) => merges.counter.increment(cur as never, c.node(n).r.replicaId, by)));
  await quiet(c);
  await c.drive(w.synced);
}
async function add(c: Cluster, n: string, item: string): Promise<void> {
  const w = await c.drive(sp(c, n).update<unknown>('set', (cur) => merges.addWins.add(cur as never, c.node(n).r.replicaId, item)));
  await quiet(c);
  await c.drive(w.synced);
}
async function remove(c: Cluster, n: string, item: string): Promise<void> {
  const w = await c.drive(sp(c, n).update<unknown>('set', (cur) => merges.addWins.remove(cur as never, item)));
  await quiet(c);
  await c.drive(w.synced);
}
async function upgrade(c: Cluster, speaks: Record<string, readonly number[]>): Promise<void> {
  for (const n of ['w', 'old']) {
    speaks[n] = WITH_11;
    await c.restart(n);
  }
  await c.settle();
  // An upgraded peer gets a key left out toward it by the next periodic anti-entropy round (docs/design: its cursor is
  // past the frame that left the key out).
  for (let i = 0; i < 10; i++) await c.clock.advance(3_000);
  await c.settle();
}
async function counts(c: Cluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of NODES) out[n] = merges.counter.value((await c.drive(sp(c, n).get('count')))?.value as never);
  return out;
}
async function sets(c: Cluster): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const n of NODES) out[n] = merges.addWins.values((await c.drive(sp(c, n).get('set')))?.value as never).map(String).sort();
  return out;
}
const each = <T>(v: T) => Object.fromEntries(NODES.map((n) => [n, v]));

describe('a typed key left out toward peers below 11 (its state names an epoch), then everyone upgraded', () => {
  it('a counter: increments of the tagged writer, of both earlier peers, one away meanwhile — all counted everywhere', async () => {
    const { c, speaks } = await star();
    await inc(c, 'old', 1);
    await stop(c, 'old');
    await inc(c, 'a', 2); // tagged: from here the hub's state names an epoch
    await inc(c, 'w', 4);
    await start(c, 'old');
    await inc(c, 'old', 8);
    await inc(c, 'a', 16);
    await upgrade(c, speaks);
    expect(await counts(c)).toEqual(each(31));
  });

  it('an add-wins set: adds and a remove by the tagged writer, an earlier peer away meanwhile', async () => {
    const { c, speaks } = await star();
    await add(c, 'old', 'x');
    await add(c, 'w', 'y');
    await stop(c, 'old');
    await remove(c, 'a', 'x');
    await add(c, 'a', 'z');
    await start(c, 'old');
    await add(c, 'old', 'v');
    await add(c, 'w', 'u');
    await upgrade(c, speaks);
    expect(await sets(c)).toEqual(each(['u', 'v', 'y', 'z']));
  });

  it('a counter: an earlier peer restored from a copy older than its acknowledged increment, increments again', async () => {
    const { c, speaks } = await star();
    await inc(c, 'old', 1);
    const copy = c.node('old').disk.copy();
    await inc(c, 'old', 2); // acknowledged: the hub holds it
    await inc(c, 'a', 4);
    await c.replaceStorage('old', copy, { restored: true });
    await c.settle();
    await inc(c, 'old', 8);
    await inc(c, 'w', 16);
    await upgrade(c, speaks);
    expect(await counts(c)).toEqual(each(31));
  });
});
