/**
 * Review of r0010 (restore-once 1743400010) in a simulated cluster: a key left out toward a peer below 11 (its state names
 * an epoch) is asked for with NEED where the link knows nothing of the peer's state, and the peer's state re-tells its
 * context alone lowered to it (need-answers.ts `heard`). The scenes of test/sync/old-peer-left-out-ask.test.ts, attacked:
 * a link that keeps dropping (how many NEEDs), a read-only client of an earlier release (`takes`: never asked), a relay
 * below 11 in the middle of a chain.
 *
 * Simulated network and disks (test/sim/cluster.ts), virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openAsksOf } from '../../lib/sync/open-asks-store.js';
import { awayWhileSuperseded, closeClusters, cluster, droppedAtNeed, OLD, space, STAR, values, WITH_11 } from './left-out-ask-scene.js';

afterEach(closeClusters);

describe('review r0010: NEED toward a peer below 11, in a cluster', () => {
  it('a link to the earlier peer dropped and made again five times asks for the key once, and the peer keeps nothing of it', async () => {
    const needs: string[] = [];
    const c = await cluster(STAR, needs);
    await awayWhileSuperseded(c, 'old', ['old']);
    await c.start('old');
    await c.settle();
    expect(values(c, 'old', 'k')).toEqual([]);
    expect(needs).toEqual(['hub->old k']);
    for (let i = 0; i < 5; i++) {
      await c.restart('old');
      await c.settle();
    }
    // Each new link knows nothing of old's state, but the catch-up starts past the key (its cursor moved on): no ask.
    expect(needs).toEqual(['hub->old k']);
    expect(values(c, 'old', 'k')).toEqual([]);
  });

  // Was a defect (review r0010, `takes`): a read-only client was never asked (its answer would be denied), and its
  // CHANGES were denied before `heard` observed them, so the relay never learned its state: a read-only client of an
  // earlier release back from a restart kept the version the left-out state superseded — the restore-once 1743400010
  // shape that r0010 fixed for writers — with anti-entropy off, and with it on too. Now it is asked, and its answer (a
  // repair frame) is refused as before but heard by the link alone (need-answers.ts refuse): never stored nor passed on,
  // the relay's log unmoved (the next test). Failed before the change (checked: both ×).
  for (const antiEntropy of [0, 2_000]) {
    it(`a read-only client below 11 back from a restart drops the version the left-out state superseded (anti-entropy ${antiEntropy || 'off'})`, async () => {
      const needs: string[] = [];
      const c = await cluster({ ...STAR, readers: ['old'], antiEntropy }, needs);
      await awayWhileSuperseded(c, 'old', ['old']);
      await c.start('old');
      await c.settle();
      for (let i = 0; i < 10 && antiEntropy > 0; i++) await c.clock.advance(3_000);
      await c.settle();
      expect(values(c, 'hub', 'k')).toEqual(['again']);
      expect(values(c, 'old', 'k')).toEqual([]);
    });
  }

  // The read-only client's answer is refused and only heard (need-answers.ts refuse): the relay stores nothing of it, nor
  // of the client's own write; its log does not move.
  it('a read-only client below 11, asked, leaves the relay as it was: no record, no log entry, none of its versions', async () => {
    const needs: string[] = [];
    const c = await cluster({ ...STAR, readers: ['old'] }, needs);
    await awayWhileSuperseded(c, 'old', ['old']);
    const hub = () => c.node('hub').disk.records('s');
    const before = JSON.stringify(hub());
    await c.start('old');
    await c.drive(space(c, 'old').put('mine', 'local')).catch(() => undefined);
    await c.settle();
    expect(needs).toEqual(['hub->old k']);
    expect(values(c, 'old', 'k')).toEqual([]);
    expect(JSON.stringify(hub())).toBe(before);
    const ids = c.node('old').ids;
    expect(hub().flatMap(([, r]) => r.vs).filter((v) => ids.includes(v.r))).toEqual([]);
  });

  it('control: the same scene with a writing client below 11 and anti-entropy on, NEED or not, drops it', async () => {
    const needs: string[] = [];
    const c = await cluster({ ...STAR, antiEntropy: 2_000 }, needs);
    await awayWhileSuperseded(c, 'old', ['old']);
    await c.start('old');
    await c.settle();
    for (let i = 0; i < 10; i++) await c.clock.advance(3_000);
    await c.settle();
    expect(values(c, 'hub', 'k')).toEqual(['again']);
    expect(values(c, 'old', 'k')).toEqual([]);
  });

  // Was a defect (review r0010, the ask was once a key per link, of the catch-up): the link to the earlier peer drops after
  // the NEED reached it and before its answer came back (a tab closing, a network blip). The next link knows nothing of
  // the peer's state again, but the peer's cursor moved past the frame that left the key out, so that link never sends
  // (nor leaves out, nor asks for) the key, and nothing re-tells its context: with anti-entropy off the peer keeps the
  // superseded version for good, the restore-once 1743400010 outcome (a run heals it: the control). Now the ask outlives
  // the link until settled (open-asks.ts), and the next link sends the key again as a repair state: left out, asked.
  // (Failed before: 'old' kept 'superseded'.)
  const dropped = (antiEntropy: number) => async () => {
    const { c } = await droppedAtNeed([], 1, { antiEntropy });
    c.net.rejoin('old');
    await c.settle();
    for (let i = 0; i < 10 && antiEntropy > 0; i++) await c.clock.advance(3_000);
    await c.settle();
    expect(values(c, 'hub', 'k')).toEqual(['again']);
    expect(values(c, 'old', 'k')).toEqual([]);
  };
  it('a link dropped between the NEED and its answer: the peer still drops the superseded version once linked again', dropped(0));

  // The ask outlives the link (open-asks.ts), and each link asks once: a link dropped between NEED and answer again and
  // again asks once per link, and once answered no later link asks (nor sends the key again).
  it('a link dropped between the NEED and its answer three times running asks once a link, and no more once answered', async () => {
    const needs: string[] = [];
    const { c, cuts } = await droppedAtNeed(needs, 3);
    for (let i = 2; i <= 3; i++) {
      c.net.rejoin('old');
      await c.clock.advance(2_000);
      expect(cuts(), 'the link dropped as the NEED arrived').toBe(i);
    }
    c.net.rejoin('old');
    await c.settle();
    expect(needs).toEqual(['hub->old k', 'hub->old k', 'hub->old k', 'hub->old k']);
    expect(values(c, 'old', 'k')).toEqual([]);
    for (let i = 0; i < 3; i++) {
      await c.restart('old');
      await c.settle();
    }
    expect(needs.length, 'answered: settled').toBe(4);
    expect(values(c, 'old', 'k')).toEqual([]);
  });
  it('control: the same with anti-entropy on drops it (a run asks)', dropped(2_000));

  // The peer upgraded to 11 between the link that asked and the next: the open ask's repair state goes whole there (its
  // epochs carried), and that settles it — no later link sends it again.
  it('an ask left open by a dropped link, the peer back speaking 11: the key goes whole, and the ask is settled', async () => {
    const needs: string[] = [];
    const { c } = await droppedAtNeed(needs);
    const open = () => c.node('old').ids.reduce((n, id) => n + openAsksOf(c.node('hub').r.core).of(id).ids.size, 0);
    expect(open(), 'the ask is open').toBe(1);
    await c.stop('old');
    (c.options.speaks as Record<string, readonly number[]>).old = WITH_11;
    c.net.rejoin('old');
    await c.start('old');
    await c.settle();
    expect(values(c, 'old', 'k')).toEqual(['again']);
    expect(open(), 'settled').toBe(0);
    for (let i = 0; i < 2; i++) {
      await c.restart('old');
      await c.settle();
    }
    expect(open()).toBe(0);
    expect(needs).toEqual(['hub->old k']);
    expect(values(c, 'old', 'k')).toEqual(['again']);
  });

  // Was a defect (ask45 left it open): the open asks lived in the relay's memory alone, so a relay restarted between the
  // NEED and its answer forgot the ask, and the next link met the key no more than before (the peer's cursor is past it).
  // Now they are stored with the replica's sync state (open-asks-store.ts) and read again at the next link. (Failed
  // before: 'old' kept 'superseded'.)
  it('a relay restarted between the NEED and its answer: the peer still drops the superseded version once linked again', async () => {
    const { c } = await droppedAtNeed([]);
    await c.restart('hub');
    c.net.rejoin('old');
    await c.settle();
    expect(values(c, 'hub', 'k')).toEqual(['again']);
    expect(values(c, 'old', 'k')).toEqual([]);
  });

  it('a relay below 11 in the middle of a chain is asked, and the client behind it drops the superseded version too', async () => {
    const needs: string[] = [];
    // a, w at the top relay (11); mid a relay of an earlier release below it; old a client of mid's.
    const c = await cluster(
      {
        speaks: { hub: WITH_11, mid: OLD, a: WITH_11, w: OLD, old: OLD },
        edges: [['hub', 'mid'], ['hub', 'a'], ['hub', 'w'], ['mid', 'old']],
        relays: ['hub', 'mid'],
      },
      needs,
    );
    await awayWhileSuperseded(c, 'mid', ['mid', 'old']);
    await c.start('mid');
    await c.settle();
    expect(needs).toContain('hub->mid k');
    expect(values(c, 'mid', 'k')).toEqual([]);
    expect(values(c, 'old', 'k')).toEqual([]);
  });
});
