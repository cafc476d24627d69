// A typed value built by hand (`new AddWins(…)`, `new Counter(…)`: both exported) can encode to bytes its own decoder
// refuses — an entry whose tag has no context entry, a count that is not a finite number. Stored by a local put, every
// peer refused each frame carrying it (a value its type refuses is a protocol error at the receiver) and the writer's
// sync never got past it. A put now checks a typed value as received bytes are checked: the put throws
// UNSERIALIZABLE_VALUE, nothing is stored, and what was stored before stays and still syncs.
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError, memoryStorage, merges, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { AddWins } from '../../lib/merges/add-wins.js';
import { Counter } from '../../lib/merges/counter.js';
import { synced } from '../sync/support.js';

const merge = { 'list/*': merges.addWins, 'n/*': merges.counter };
const open: Replica[] = [];
const links: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), merge });
  open.push(r);
  return r;
}

const refused: Array<[string, () => unknown]> = [
  ['an add-wins entry whose tag has no context entry', () => new AddWins([['milk', 'zz', 3]], {})],
  ['an add-wins entry tagged past its context', () => new AddWins([['milk', 'zz', 9]], { zz: 2 })],
  ['a counter whose count is not a number', () => new Counter({ a: 'x' as unknown as number }, {})],
  ['a counter whose count is not finite', () => new Counter({ a: Infinity }, {})],
];

describe('a typed value its own type refuses is not stored by a local put', () => {
  for (const [what, make] of refused) {
    it(what, async () => {
      const [a, b] = [await replica(), await replica()];
      const key = make() instanceof Counter ? 'n/1' : 'list/1';
      const good = key === 'n/1' ? merges.counter.increment(undefined, a.replicaId, 1) : merges.addWins.add(undefined, a.replicaId, 'eggs');
      await a.space('s').put(key, good);
      let thrown: unknown;
      try {
        await a.space('s').put(key, make());
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ConcordError);
      expect((thrown as ConcordError).code).toBe('UNSERIALIZABLE_VALUE');
      // What was stored before stays, and a peer still syncs (a stored bad value stalled every frame carrying it).
      await a.space('s').put('plain', 1);
      const [ta, tb] = pairTransports();
      links.push(a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 }));
      await synced(a, b);
      expect((await b.space('s').get('plain'))?.value).toBe(1);
      expect(JSON.stringify((await b.space('s').get(key))?.value)).toBe(JSON.stringify(good));
    }, 20_000);
  }
});
