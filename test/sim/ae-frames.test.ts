/**
 * Anti-entropy under a small frame limit: its turns, like catch-up, must fit the transport's frames.
 *
 * Known issue (see the report): an anti-entropy turn is one message, never split, so with many differing
 * keys a turn outgrows the frame limit; the peer closes with TOO_LARGE, the link reconnects and sends the
 * same turn again, forever. Splitting a turn needs a protocol change (a multi-frame turn). Those cases are
 * left out of CI; SIM_KNOWN=1 runs them.
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

  it.runIf(process.env.SIM_KNOWN === '1').each([1024, 16 * 1024])('known issue: 5 000 different keys each, frames ≤ %i bytes', (limit) => differing(limit, 5000), 120_000);
});
