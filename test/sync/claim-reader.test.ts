/**
 * A read-only client's anti-entropy claims supersede nothing at the relay (space-ports.ts superseded), also where the
 * relay's state of the key is left out on their link — the one place a claim is joined (fit-state.ts claimedContext).
 * A hostile reader's storage holds a forged later version of the writer's (the relay refuses its frames, but its
 * claims go): joined, the relay dropped the writer's value on a reader's word, and told the drop to every node.
 */
import { describe, expect, it } from 'vitest';
import { stateHash, type KeyState } from '../../lib/dvv.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const FRAME = 16 * 1024;
const AT_10 = PROTOCOL_VERSIONS.filter((v) => v <= 10);

describe('a read-only client\'s claim of a key the relay cannot send it', () => {
  it('drops no writer\'s version at the relay', async () => {
    const c = await Cluster.create({
      seed: 4,
      nodes: ['a', 'w', 'x', 'r'],
      edges: [['a', 'w'], ['a', 'x'], ['a', 'r']],
      relay: 'a',
      readers: ['r'],
      speaks: { a: AT_10, w: AT_10, x: AT_10, r: AT_10 },
      link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
      net: { edgeFrameBytes: (p: string, q: string) => (p === 'r' || q === 'r' ? FRAME : 1 << 20) },
    });
    const on = (n: string) => c.node(n).r.space('s');
    // More keys than a run's opening lists whole, as in claim-superseded.test.ts.
    for (let i = 0; i < 8; i++) await on('w').put(`f${i}`, i);
    c.net.partition(['x']);
    await on('w').put('k', 'old');
    await on('x').put('k', 'x'.repeat(30 * 1024));
    await c.clock.advance(2000);
    c.net.heal();
    await c.settle();
    const w = c.node('w').r.replicaId;
    const atA = async () => (await c.node('a').r.core.storage.get('s', 'k'))?.vs.map((v) => (v.r === w ? 'w' : v.r === c.node('x').r.replicaId ? 'x' : v.r));
    expect(await atA(), 'a holds both siblings').toEqual(expect.arrayContaining(['w', 'x']));
    expect((await c.node('r').r.core.storage.get('s', 'k'))?.vs.some((v) => v.r === w), 'r holds w\'s k').toBe(true);

    // r's storage, edited by hand: w's k at a counter w never used, over w's version r holds.
    await c.stop('r');
    const disk = c.node('r').disk.instance();
    await disk.open();
    const held = (await disk.get('s', 'k'))!;
    const n = held.vs.find((v) => v.r === w)!.n + 5;
    const forged: KeyState = { vs: [{ r: w, n, t: held.vs[0]!.t + 1, c: 0, v: '"forged"' }], cc: { [w]: n } };
    await disk.transact((tx) => tx.put('s', 'k', { ...forged, seq: held.seq, h: stateHash('k', forged) }));
    await disk.close();
    await c.start('r');
    for (let i = 0; i < 10; i++) await c.clock.advance(1000);
    await c.settle();
    expect(await atA(), 'a keeps w\'s version').toEqual(expect.arrayContaining(['w', 'x']));
    await c.close();
  });
});
