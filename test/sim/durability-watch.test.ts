/**
 * The durability watch (durability-watch.ts) at protocol 11: a frame's own dots name their epoch, and "durable on the
 * sender's disk" is judged by whole dot. After a restore the sender's record may hold the lost branch's dot under the
 * same counter: that says nothing of the restored branch's dot (by counter alone, the watch took it for durable).
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { Epochs } from '../../lib/epoch-points.js';
import { EPOCH_DOTS, ToldChains } from '../../lib/sync/epoch-wire.js';
import { encodeMessage, MsgType } from '../../lib/sync/messages.js';
import { readerEpochs } from '../support/epoch-reader.js';
import { SimDisk } from '../support/sim-disk.js';
import { record } from '../../lib/record.js';
import { loadHasher } from '../../lib/hash.js';
import { settle, VirtualClock } from './clock.js';
import { DurabilityWatch } from './durability-watch.js';
import type { Volume } from './cluster.js';

const hello = (id: string) => encodeMessage({ type: MsgType.Hello, versions: [5, 10, EPOCH_DOTS], replicaId: id, epoch: 'x', top: 0, token: '', expect: '', history: [['x', 0]], spaces: [] });

describe('the durability watch at protocol 11', () => {
  it('judges a sent dot durable by its epoch: the lost branch\'s dot under the same counter does not count', async () => {
    await loadHasher();
    const clock = new VirtualClock();
    const disk = new SimDisk({ timers: clock });
    const inst = disk.instance();
    await inst.open();
    const reg = new Epochs();
    reg.add('W', 'e1', '', 0);
    reg.add('W', 'e2', 'e1', 2);
    // W's durable record of k holds (W, e1, 3), of the branch its restore lost.
    const lost: KeyState = { vs: [{ r: 'W', ep: 'e1', n: 3, t: 1, c: 0, v: '"lost"' }], cc: { W: 3 }, pts: { W: [{ e: 'e1', n: 3 }] } };
    const stored = inst.transact((tx) => tx.put('s', 'k', record('k', lost, 3)));
    for (let done = false; !done; ) (done = await Promise.race([stored.then(() => true), settle().then(() => false)])) || (await clock.advance(100));
    const watch = new DurabilityWatch(() => disk as unknown as Volume, () => reg);
    expect(watch.check('w', 'p', hello('W'))).toEqual([]);
    expect(watch.check('p', 'w', hello('P'))).toEqual([]);
    const link = readerEpochs('P', 'W'); // W's side: W sends, P receives
    const send = (ep: string, n: number) =>
      encodeMessage({ type: MsgType.Changes, space: 's', upTo: n, entries: [['k', { vs: [{ r: 'W', ep, n, t: 2, c: 0, v: '"v"' }], cc: { W: n }, pts: { W: [{ e: ep, n }] } }]] }, ['W', 'P'], { epochs: { ...link, me: { id: 'W', chain: [] }, peer: { id: 'P', chain: [] }, reg: () => reg } });
    // The restored branch's (W, e2, 3), never durable on W: reported.
    expect(watch.check('w', 'p', send('e2', 3))).toEqual(['w sent k@W:3@e2 to p before it was durable (only durable state may leave a replica)']);
    // The lost branch's (W, e1, 3) is what the disk holds, and (W, e1, 2) lies in its point's history.
    expect(watch.check('w', 'p', send('e1', 3))).toEqual([]);
    expect(watch.check('w', 'p', send('e1', 2))).toEqual([]);
    expect(watch.counts).toEqual({ changes: 3, live: 0, undecoded: 0 });
  });

  it("decodes a frame naming a third replica's epoch by its label alone (its receiver holds the chain) with every node's records, not skipping it", () => {
    // A relay at 11 passes X's tagged version on; the receiver learned X's chain before, so the frame names eX alone.
    // The watch decoded with no records and skipped such frames (restore-relay 17 at SIM_SPEAKS=mixed: 116 frames, tabs 62: 17).
    const reg = new Epochs();
    reg.add('X', 'eX', '', 0);
    const watch = new DurabilityWatch(() => undefined, () => reg);
    expect(watch.check('w', 'p', hello('W'))).toEqual([]);
    expect(watch.check('p', 'w', hello('P'))).toEqual([]);
    const told = new ToldChains('W', true);
    told.hold('X', ['eX']);
    const state: KeyState = { vs: [{ r: 'X', ep: 'eX', n: 1, t: 1, c: 0, v: '"x"' }], cc: { X: 1 }, pts: { X: [{ e: 'eX', n: 1 }] } };
    const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 1, entries: [['k', state]] }, ['W', 'P'], {
      epochs: { ...readerEpochs('P', 'W'), me: { id: 'W', chain: [] }, peer: { id: 'P', chain: [] }, told, reg: () => reg },
    });
    expect(watch.check('w', 'p', frame)).toEqual([]);
    expect(watch.counts).toEqual({ changes: 1, live: 0, undecoded: 0 });
  });
});
