/**
 * A writer of an earlier release (protocol below 11, untagged dots), restored from an older copy while its relay was
 * restored too, so no witness tells it (simulator: clock-skew 1743000054 at the default, c at [5..7]). Its new write
 * of k1 takes a counter below the one its lost write of k1 took. The relay (at 11) holds the lost write beside another
 * writer's tagged write, a state no peer below 11 can take: the wire leaves it out and sends its context alone
 * (lib/sync/fit-state.ts). That context's entry of the restored writer, lowered to the writer's version the link knew
 * of, covered its new write — a dot of its own the lost history had superseded — and the writer dropped it, with
 * nothing to show its restore. The writer's own versions now go with the context alone it is sent: its lost write
 * comes back as a version of its own that its state of k1 never saw (restore-claims.ts), it re-identifies and
 * re-issues its new write.
 */
import { describe, expect, it } from 'vitest';
import { journaledStorage, type JournaledStorage } from '../sim/backup.js';
import { Cluster } from '../sim/cluster.js';

const siblings = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

describe('a restored writer below 11 sent the context alone of a state holding its lost write', () => {
  it('re-identifies and keeps the write it made since the restore', async () => {
    const journals = new Map<string, JournaledStorage>();
    // hub and e speak 11 (e tags its dots); w and d are of earlier releases.
    const c = await Cluster.create({
      seed: 5,
      nodes: ['hub', 'w', 'd', 'e'],
      edges: [['hub', 'w'], ['hub', 'd'], ['hub', 'e']],
      relay: 'hub',
      speaks: { w: [5, 6, 7], d: [5, 6, 7, 8, 9, 10] },
      link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
      storage: (n) => {
        const s = journaledStorage();
        journals.set(n, s);
        return s;
      },
    });
    const on = (n: string) => c.node(n).r.space('s');
    await on('w').put('k0', 'before the copies');
    await c.settle();
    const copyW = journals.get('w')!.mark;
    const copyHub = journals.get('hub')!.mark;
    const k0 = (await on('e').get('k0'))!.context;
    // d's write reaches w, whose log takes a seq for it: w's lost write of k1 takes the counter after that one.
    await on('d').put('y', 'from d');
    await c.settle();
    const lost = await on('w').put('k1', 'lost with the copies');
    await c.settle();
    await lost.synced;
    // e writes k1 beside the lost write (with a context that covers none of k1's versions), under a dot naming its epoch.
    await on('e').put('k1', 'tagged', { context: k0 });
    await c.settle();
    expect(await siblings(c, 'e', 'k1')).toEqual(['lost with the copies', 'tagged']);
    for (const n of ['w', 'd']) expect(await siblings(c, n, 'k1'), `the tagged write does not reach ${n}`).toEqual(['lost with the copies']);
    const oldId = c.node('w').r.replicaId;

    // d goes away holding the lost write; w and the relay come back from their copies. w's new write of k1 takes the
    // counter d's write took in w's log, below the lost k1's.
    await c.stop('d');
    await c.replaceStorage('w', await journals.get('w')!.restore(copyW));
    await c.replaceStorage('hub', await journals.get('hub')!.restore(copyHub));
    const after = await on('w').put('k1', 'after the restore');
    // e brings the lost write back to the relay, with its tagged one: the relay's k1 then covers w's new write by the lost
    // write's counter, and cannot go to w whole.
    await c.clock.advance(5_000);
    await c.start('d');
    await c.settle();
    await after.synced;

    for (const n of ['hub', 'e']) expect(await siblings(c, n, 'k1'), n).toEqual(['after the restore', 'lost with the copies', 'tagged']);
    // The relay's k1 (the tagged write in it) stays withheld from the peers below 11: w holds its own two writes, d the
    // lost one it brought back.
    expect(await siblings(c, 'w', 'k1'), 'w').toEqual(['after the restore', 'lost with the copies']);
    expect(await siblings(c, 'd', 'k1'), 'd').toEqual(['lost with the copies']);
    expect(c.node('w').r.replicaId, 'w re-identified').not.toBe(oldId);
    await c.close();
  });
});
