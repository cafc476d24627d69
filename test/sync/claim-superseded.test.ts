/**
 * A key too big for the only link both ways, at protocol 10 (no LEFT), where the peer's state superseded a version we
 * hold (soak seed withheld 1748700161 at 10): b held relay a's k@3 beside its own big k; a, restored to its copy,
 * wrote k big (superseding k@3) and forgot it had sent b k@3, so its model of b knew no version of a's there. a's state
 * cannot cross: its context alone left a's entry out (fit-state.ts: lowered only to versions of a's the link knows a
 * superseded — none). b's state cannot cross either, and b's anti-entropy runs only asked a for k. b kept k@3 for good,
 * and once a delete that superseded it was collected elsewhere, that deleted version lived on. b had a's claim of k (its
 * dots and context) in every run: the answering side now joins the claim's context alone lowered to its own versions
 * (fit-state.ts claimedContext).
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { claimedContext } from '../../lib/sync/fit-state.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const FRAME = 16 * 1024;
const big = (c: string) => c.repeat(30 * 1024);
const AT_10 = PROTOCOL_VERSIONS.filter((v) => v <= 10);

describe('a key too big for the link both ways, at protocol 10', () => {
  it('drops a version the peer\'s state superseded, told by the peer\'s anti-entropy claim of the key', async () => {
    const c = await Cluster.create({
      seed: 3,
      nodes: ['a', 'b', 'w'],
      edges: [['a', 'b'], ['a', 'w']],
      relay: 'a',
      speaks: { a: AT_10, b: AT_10, w: AT_10 },
      link: { antiEntropyInterval: 500, backoff: { base: 20, max: 200 } },
      net: { edgeFrameBytes: (x: string, y: string) => (x === 'b' || y === 'b' ? FRAME : 1 << 20) },
    });
    const on = (n: string) => c.node(n).r.space('s');
    // More keys than a run's opening lists whole (antientropy.ts SMALL_SUBTREE): b's opening goes as node hashes, a
    // answers with its ranges, and b only asks for k — b's runs tell a nothing of its state of k, as in the soak.
    for (let i = 0; i < 8; i++) await on('b').put(`f${i}`, i);
    await on('b').put('k', big('b'));
    await c.settle();
    await on('w').put('k', 'old');
    await c.settle();
    const old = (await c.node('w').r.core.storage.get('s', 'k'))!.vs[0]!;
    const atB = () => c.node('b').r.core.storage.get('s', 'k');
    expect((await atB())?.vs.some((v) => v.r === old.r && v.n === old.n), 'b holds w\'s k beside its own big one').toBe(true);

    // Apart (a's next link to b knows nothing of what the last one sent), w writes k big over its old write: a holds
    // it, and neither a's state nor b's crosses their link now.
    c.net.partition(['b']);
    await c.clock.advance(3000);
    await on('w').put('k', big('w'));
    await c.clock.advance(3000);
    c.net.heal();
    await c.settle();
    await c.clock.advance(3000);
    await c.settle();
    const atA = (await c.node('a').r.core.storage.get('s', 'k'))!;
    expect(atA.vs.map((v) => v.r), 'a holds w\'s big write alone').toEqual([old.r]);
    expect((await atB())?.vs.some((v) => v.r === old.r && v.n === old.n), 'b dropped w\'s old write, which a\'s state superseded').toBe(false);
    expect((await atB())?.vs.some((v) => v.r === c.node('b').r.replicaId), 'b keeps its own big write').toBe(true);
    await c.close();
  });

  // The claim is the peer's word on its own state: what it drops here is what joining that state would drop, less our
  // own versions (a restored replica's new write under a lost write's counter is not the lost write).
  it('a claim supersedes only versions its context covers and its versions do not hold, never our own', () => {
    const A = 'A'.repeat(16);
    const B = 'B'.repeat(16);
    const M = 'M'.repeat(16);
    const ours: KeyState = {
      vs: [{ r: A, n: 3, t: 1, c: 0, v: '"old"' }, { r: B, n: 9, t: 1, c: 0, v: '"b"' }, { r: M, n: 2, t: 1, c: 0, v: '"mine"' }],
      cc: { [A]: 3, [B]: 9, [M]: 2 },
    };
    const claim = (s: KeyState) => claimedContext(ours, s, M);
    // A's big write at 17 over its 3; our M:2 covered by the claim's M entry, yet ours: left out.
    expect(claim({ vs: [{ r: A, n: 17, t: 0, c: 0 }], cc: { [A]: 17, [M]: 5 } })).toEqual({ vs: [], cc: { [A]: 3 } });
    expect(claim({ vs: [{ r: A, n: 3, t: 0, c: 0 }, { r: A, n: 17, t: 0, c: 0 }], cc: { [A]: 17 } }), 'a version the claim holds is not superseded').toBeUndefined();
    expect(claim({ vs: [{ r: A, n: 17, t: 0, c: 0 }], cc: { [A]: 17, [B]: 8 } }), 'B at 9 is above the claim\'s entry').toEqual({ vs: [], cc: { [A]: 3, [B]: 8 } });
    expect(claim({ vs: [], cc: {} }), 'a key claimed as nothing tells nothing').toBeUndefined();
    expect(claim({ vs: [{ r: B, n: 12, t: 0, c: 0 }], cc: { [B]: 12 } }), 'B\'s later write covers its 9 (lowered to it)').toEqual({ vs: [], cc: { [B]: 9 } });
    expect(claim({ vs: [{ r: B, n: 12, t: 0, c: 0 }], cc: { [B]: 12, [A]: 2 } }), 'entries below our versions supersede none').toEqual({ vs: [], cc: { [B]: 9, [A]: 2 } });
  });
});
