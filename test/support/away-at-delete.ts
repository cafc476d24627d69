/**
 * The scene of a key deleted and written again while a peer holding its old value is away: relay a, nodes e and w.
 * `before` writes (then all settle), w is cut off, `away` runs (e deletes and writes again, w writes over its old
 * copy), w comes back and all settle; `read` of each node, in a, w, e order. Protocols as `speaks` says (all nodes).
 */
import { Cluster } from '../sim/cluster.js';

export interface AwayAtDelete<T> {
  seed: number;
  speaks?: readonly number[] | undefined;
  /** Replica instances sharing e's storage (default 1). */
  eTabs?: number;
  before(c: Cluster): Promise<void>;
  away(c: Cluster): Promise<void>;
  read(c: Cluster, node: string): Promise<T>;
  /** Runs last, closed or not (e.g. destroys what `before` bound). */
  cleanup?(): void;
}

export async function awayAtDelete<T>(scene: AwayAtDelete<T>): Promise<Record<string, T>> {
  const { speaks } = scene;
  const c = await Cluster.create({
    seed: scene.seed,
    nodes: ['a', 'e', 'w'],
    edges: [['a', 'e'], ['a', 'w']],
    relay: 'a',
    link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
    ...(speaks ? { speaks: { a: speaks, e: speaks, w: speaks } } : {}),
    ...(scene.eTabs ? { tabs: { e: scene.eTabs } } : {}),
  });
  try {
    await scene.before(c);
    await c.settle();
    c.net.partition(['w']);
    await c.clock.advance(1000);
    await scene.away(c);
    await c.clock.advance(1000);
    c.net.heal();
    await c.settle();
    const out: Record<string, T> = {};
    for (const n of ['a', 'w', 'e']) out[n] = await scene.read(c, n);
    return out;
  } finally {
    scene.cleanup?.();
    await c.close();
  }
}
