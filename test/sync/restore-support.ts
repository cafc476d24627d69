/** A simulated cluster whose nodes keep journaled storage, so a test can restore a node from an earlier copy. */
import { merges, type AddWinsSet } from '../../lib/index.js';
import { journaledStorage, type JournaledStorage } from '../sim/backup.js';
import { Cluster } from '../sim/cluster.js';

/** `speaks`: the protocol versions every node announces, said at each open (with 11 every node tags its dots). */
export async function journaledCluster(seed: number, nodes: string[], edges: Array<[string, string]>, relay?: string, speaks?: readonly number[]) {
  const journals = new Map<string, JournaledStorage>();
  const c = await Cluster.create({
    seed,
    nodes,
    edges,
    ...(relay ? { relay } : {}),
    ...(speaks ? { speaks: Object.fromEntries(nodes.map((n) => [n, speaks])) } : {}),
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
    storage: (n) => {
      const s = journaledStorage();
      journals.set(n, s);
      return s;
    },
  });
  return { c, journals };
}

/**
 * `node` cut off and restored from `backup`; it adds `item` to the set `key` before reconnecting, then the network
 * heals and settles. Returns once that write is synced.
 */
export async function restoreThenAdd(c: Cluster, journals: Map<string, JournaledStorage>, node: string, backup: number, key: string, item: string): Promise<void> {
  c.net.partition([node]);
  await c.replaceStorage(node, await journals.get(node)!.restore(backup));
  const w = await c.node(node).r.space('s').update<AddWinsSet<string>>(key, (s) => merges.addWins.add(s, c.node(node).r.replicaId, item));
  c.net.heal();
  await c.settle();
  await w.synced;
}
