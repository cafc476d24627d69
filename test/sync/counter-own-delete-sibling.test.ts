/**
 * A counter's first increment after its replica deleted it, made while the delete's tombstone stands beside a peer's
 * concurrent copy (found by simd51's typed-delete family, seed 1751200145, with ty51's incarnations). e counts to 3 (w
 * gets it), then to 5 (y gets it); e deletes the key while w, away, increments its copy (e's entry at 3) and y, away too,
 * increments its own (e's entry at 5). w comes back: e holds its tombstone beside w's copy, and the value it reads holds
 * its old entry at 3 — written back over the delete by e's next read (read repair), or read by its next increment.
 * Continuing that entry (→ 4), e's increment was absorbed once y came back with the entry at 5: the join keeps each
 * entry's larger number. A replica whose own delete stands among the key's versions has not written the key since: its
 * read repair starts its entry anew at 0 (ValueType.reopen) and so does its increment (minting.ts
 * `mintingAfterOwnDelete`), whatever entry a peer's copy brings back.
 */
import { describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import type { CounterValue } from '../../lib/merges/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];
const inc = (c: Cluster, n: string, by: number) => c.node(n).r.space('s').update<CounterValue>('k', (v) => merges.counter.increment(v, c.node(n).r.replicaId, by));
const read = async (c: Cluster, n: string) => merges.counter.value((await c.node(n).r.space('s').get<CounterValue>('k'))?.value);

async function scene(readFirst: boolean, speaks?: readonly number[]): Promise<Record<string, number>> {
  const nodes = ['a', 'e', 'w', 'y'];
  const c = await Cluster.create({
    seed: 11,
    nodes,
    edges: [['a', 'e'], ['a', 'w'], ['a', 'y']],
    relay: 'a',
    merge: { k: merges.counter },
    link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
    ...(speaks ? { speaks: Object.fromEntries(nodes.map((n) => [n, speaks])) } : {}),
  });
  try {
    await inc(c, 'e', 3);
    await c.settle();
    c.net.isolate('w');
    await inc(c, 'e', 2);
    await c.clock.advance(2000);
    expect(await read(c, 'y')).toBe(5);
    c.net.isolate('y');
    await c.clock.advance(500);
    await inc(c, 'y', 1);
    await inc(c, 'w', 1);
    await c.node('e').r.space('s').delete('k');
    c.net.rejoin('w');
    await c.clock.advance(3000);
    // e's tombstone stands beside w's copy, which brings e's old entry back at 3: e's read merges them and writes the
    // merge back over its own delete (read repair), as the sim's reads do.
    if (readFirst) expect(await read(c, 'e')).toBe(4);
    await inc(c, 'e', 1);
    c.net.rejoin('y');
    await c.clock.advance(1000);
    await c.settle();
    const out: Record<string, number> = {};
    for (const n of nodes) out[n] = await read(c, n);
    return out;
  } finally {
    await c.close();
  }
}

describe("a counter's first increment after its replica's delete, beside a peer's concurrent copy", () => {
  it('starts a new entry: a third peer bringing the old entry back at a higher count does not absorb it', async () => {
    for (const speaks of [undefined, [...PROTOCOL_VERSIONS], SPEAKS_10]) {
      const got = await scene(true, speaks);
      // y's copy (e's 5, y's 1) and w's (e's 3, w's 1) were both concurrent with the delete and come back; e's new 1
      // counts beside them: 5 + 1 + 1 + 1.
      for (const [n, v] of Object.entries(got)) expect(v, `${n} speaking ${String(speaks)}`).toBe(8);
    }
  });

  it('starts a new entry when the increment is the first to read the delete beside the copy (no read before it)', async () => {
    const got = await scene(false);
    for (const [n, v] of Object.entries(got)) expect(v, n).toBe(8);
  });
});
