/**
 * A key too big for the only link, both ways, where the peer's state superseded the writer's version (soak seed
 * withheld 1747900067 at 11): b wrote k10 big (withheld from relay a), then small; a held b's small write beside its
 * own big one; b, restored to its copy, held its big k10 again, under its former id. a's state covers that version,
 * but cannot cross the link: it goes as its context alone (fit-state.ts), in which b's entry — b has a version in the
 * state — is lowered to the versions of b's the link knows a superseded. The link knew none: b's state of k10 could not
 * cross either, and the one frame that named its versions, b's LEFT, went to the lacks only. So no context alone told b
 * anything, b kept its superseded version for good, and counted it pending (`whenSynced` never resolved). A LEFT now
 * tells the link's model the versions it names (peer-model.ts toldLeft): the next context alone of the key drops b's.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { contextAlone } from '../../lib/sync/fit-state.js';
import { MAX_LACK_DOTS } from '../../lib/sync/lacks.js';
import { MsgType, PROTOCOL_VERSIONS, type LeftDot } from '../../lib/sync/messages.js';
import { PeerModel } from '../../lib/sync/peer-model.js';
import { journaledStorage, type JournaledStorage } from '../sim/backup.js';
import { Cluster } from '../sim/cluster.js';

const FRAME = 16 * 1024;
const big = (c: string) => c.repeat(30 * 1024);

describe('a key withheld both ways after the writer\'s restore', () => {
  it('drops the writer\'s version the peer\'s state superseded (its LEFT told the peer which), and it is pending no more', async () => {
    const journals = new Map<string, JournaledStorage>();
    const c = await Cluster.create({
      seed: 3,
      nodes: ['a', 'b'],
      edges: [['a', 'b']],
      relay: 'a',
      speaks: { a: PROTOCOL_VERSIONS, b: PROTOCOL_VERSIONS },
      link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
      net: { edgeFrameBytes: () => FRAME },
      storage: (n) => {
        const s = journaledStorage();
        journals.set(n, s);
        return s;
      },
    });
    const on = (n: string) => c.node(n).r.space('s');
    // More keys than a run's opening lists whole (antientropy.ts SMALL_SUBTREE): b's opening goes as node hashes, a
    // answers with its ranges, and b only asks for k — b's run tells a nothing of its state of k, as in the soak.
    for (let i = 0; i < 8; i++) await on('b').put(`f${i}`, i);
    await c.settle();
    await c.restart('b'); // met a peer at 11: b tags its dots from its next open
    await c.settle();
    await on('b').put('k', big('b'));
    await c.settle();
    expect(c.node('b').r.pending, 'b\'s big k is withheld from a').toBe(1);
    const copy = journals.get('b')!.mark;
    const lost = (await c.node('b').r.core.storage.get('s', 'k'))!.vs[0]!;
    expect(lost.ep, 'b tags').toBeDefined();

    // Apart, a writes k big and b writes it small; healed, a holds both (its state too big for the link).
    c.net.partition(['b']);
    await on('a').put('k', big('a'));
    await on('b').put('k', 'small');
    c.net.heal();
    await c.settle();
    await c.clock.advance(2000);
    expect((await on('a').get('k'))?.siblings.map((s) => String(s).length).sort((x, y) => x - y)).toEqual([5, 30 * 1024]);

    // b comes back from its copy: its big k again, which a's state superseded (a holds b's later small write).
    await c.replaceStorage('b', await journals.get('b')!.restore(copy));
    await c.settle();
    await c.clock.advance(3000);
    await c.settle();
    expect(c.node('b').r.replicaId, 'b re-identified: its big k is under a former id').not.toBe(lost.r);
    const rec = await c.node('b').r.core.storage.get('s', 'k');
    expect(rec?.vs.some((v) => v.r === lost.r && v.n === lost.n), 'b dropped its version a\'s state superseded').toBe(false);
    expect(c.node('b').r.pending, 'b counts no key pending that a holds').toBe(0);
    await c.close();
  });

  // Hostile LEFTs: what one names is the peer's word on its own state, on its own link only.
  it('a LEFT claiming versions our state never superseded lowers the context alone to none of them', () => {
    const A = 'A'.repeat(16);
    const B = 'B'.repeat(16);
    // Ours: A's big version beside B's at 9, B's entry 9 (B's 4 and 7 superseded here, 12 never seen).
    const ours: KeyState = { vs: [{ r: A, n: 5, t: 1, c: 0, v: '"big"' }, { r: B, n: 9, t: 1, c: 0, v: '"b"' }], cc: { [A]: 5, [B]: 9 } };
    const told = (dots: LeftDot[]) => {
      const model = new PeerModel();
      model.toldLeft({ type: MsgType.Left, space: 's', keys: [['k', dots]] });
      return contextAlone(ours, model.known('s', 'k'), true)?.cc[B];
    };
    expect(told([{ r: B, e: '', n: 12 }]), 'a version above our entry lowers nothing').toBeUndefined();
    expect(told([{ r: B, e: '', n: 12 }, { r: B, e: '', n: 4 }, { r: B, e: '', n: 7 }]), 'the highest one we superseded').toBe(7);
    expect(told([{ r: B, e: '', n: 9 }]), 'our own version of B is no superseded one').toBeUndefined();
  });

  it('a LEFT naming a frame\'s worth of dots tells the model the first MAX_LACK_DOTS (as the lacks keep), once each', () => {
    const model = new PeerModel();
    const C = 'C'.repeat(16);
    const many: LeftDot[] = [];
    const repeated: LeftDot[] = [];
    for (let n = 1; n <= 50_000; n++) many.push({ r: C, e: '', n }), repeated.push({ r: C, e: '', n: 1 + (n % 10) });
    model.toldLeft({ type: MsgType.Left, space: 's', keys: [['many', many], ['repeated', repeated]] });
    expect(model.known('s', 'many')!.vs.map((v) => v.n)).toEqual(many.slice(0, MAX_LACK_DOTS).map((d) => d.n));
    expect(model.known('s', 'repeated')!.vs.map((v) => v.n), 'no dot twice').toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
