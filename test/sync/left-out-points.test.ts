/**
 * A key left out of a link at protocol 11 (wire.ts LEFT OUT): its context alone goes again once what the link learned of
 * the peer lets it tell more (fit-state.ts `tellsMore`). At 11 a lowered writer's points may grow by a point in another
 * epoch below the top counter told before — a peer's version of the writer's restored branch — which the vector
 * entries alone (the comparison before) did not show: the peer kept that version, superseded by the withheld state.
 */
import { describe, expect, it } from 'vitest';
import { joinWith, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { MsgType, type Message } from '../../lib/sync/messages.js';
import { Wire } from '../../lib/sync/wire.js';

const A = 'relay-aaaaaaaaaaaaaaaa';
const D = 'peer-dddddddddddddddd';
const W = 'writer-wwwwwwwwwwwwww';

describe('a key left out at protocol 11', () => {
  it('tells its context again when the peer turns out to hold a version of a writer\'s other branch it superseded', () => {
    // W's epochs: e0 from the untagged root; restored to its copy at counter 2, it went on in e2 beside the lost e1.
    const reg = new Epochs();
    reg.add(W, 'e0', '', 0);
    reg.add(W, 'e1', 'e0', 2);
    reg.add(W, 'e2', 'e0', 2);
    const sender = new Wire(() => {}, () => {}, () => reg);
    const receiver = new Wire((e) => {
      throw e;
    }, () => {}, () => reg);
    sender.start(A, D, 0, { mine: [], theirs: [] });
    receiver.start(D, A, 0, { mine: [], theirs: [] });
    // A's state of k: W's big value at (W, e1, 6), written over both branches' versions.
    const big: StoredVersion = { r: W, ep: 'e1', n: 6, t: 9, c: 0, v: JSON.stringify('x'.repeat(4000)) };
    const whole: KeyState = { vs: [big], cc: { [W]: 6 }, pts: { [W]: [{ e: 'e1', n: 6 }, { e: 'e2', n: 4 }] } };
    const five: StoredVersion = { r: W, ep: 'e1', n: 5, t: 5, c: 0, v: '"five"' };
    const four: StoredVersion = { r: W, ep: 'e2', n: 4, t: 4, c: 0, v: '"four"' };
    const send = () => {
      const frames: Message[] = [];
      sender.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', whole]] }, 1024, (f) => frames.push(receiver.decode(f, 1 << 20)!));
      return frames.flatMap((m) => (m.type === MsgType.Changes ? m.entries : []));
    };
    // The link knows the peer holds (W, e1, 5): the context alone tells its point.
    sender.model.observe('s', 'k', { vs: [five], cc: { [W]: 5 }, pts: { [W]: [{ e: 'e1', n: 5 }] } }, true);
    expect(send()).toEqual([['k', { vs: [], cc: { [W]: 5 }, pts: { [W]: [{ e: 'e1', n: 5 }] } }]]);
    // Then (its anti-entropy claim) that it holds (W, e2, 4) too, which it joined the point with: a point below the
    // counter told, in the other branch.
    const there: KeyState = { vs: [four], cc: { [W]: 5 }, pts: { [W]: [{ e: 'e1', n: 5 }, { e: 'e2', n: 4 }] } };
    sender.model.observe('s', 'k', there, true);
    const again = send();
    expect(again).toEqual([['k', { vs: [], cc: { [W]: 4 }, pts: { [W]: [{ e: 'e2', n: 4 }] } }]]);
    expect(joinWith(reg, there, again[0]![1]).vs).toEqual([]);
    // Nothing new learned: nothing goes again.
    expect(send()).toEqual([]);
  });
});
