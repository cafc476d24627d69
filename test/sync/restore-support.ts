/** A simulated cluster whose nodes keep journaled storage, so a test can restore a node from an earlier copy. */
import { journaledStorage, type JournaledStorage } from '../sim/backup.js';
import { Cluster } from '../sim/cluster.js';

export async function journaledCluster(seed: number, nodes: string[], edges: Array<[string, string]>, relay?: string) {
  const journals = new Map<string, JournaledStorage>();
  const c = await Cluster.create({
    seed,
    nodes,
    edges,
    ...(relay ? { relay } : {}),
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
    storage: (n) => {
      const s = journaledStorage();
      journals.set(n, s);
      return s;
    },
  });
  return { c, journals };
}
