/**
 * Anti-entropy under a small frame limit: its turns, like catch-up, must fit the transport's frames. A turn
 * larger than the limit is split over several frames (`more`), and the peer answers once it is whole.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 11;

async function differing(limit: number, perSide: number): Promise<void> {
  const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']], net: { maxFrameBytes: limit }, link: { antiEntropyInterval: 0 } });
  c.net.partition(['a']);
  for (const [node, prefix] of [['a', 'x'], ['b', 'y']] as const) {
    const space = c.node(node).r.space('s');
    for (let i = 0; i < perSide; i++) await space.put(`${prefix}${i}`, i);
  }
  c.net.heal();
  try {
    await c.settle(120_000);
    expect(c.net.violations.slice(0, 3)).toEqual([]);
    for (const n of c.names) expect((await c.node(n).storage.index('s')).length).toBe(2 * perSide);
  } finally {
    await c.close();
  }
}

describe('anti-entropy under a small frame limit', () => {
  it('two replicas with 300 different keys each converge, every frame ≤ 4 KiB', () => differing(4096, 300), 120_000);

  it.each([1024, 16 * 1024])('5 000 different keys each, every frame ≤ %i bytes', (limit) => differing(limit, 5000), 120_000);
});
