/**
 * What a re-identification left to finish (lib/reidentify.ts, meta `reissuing`) must not cost: the app is told its replica
 * was restored even when an open finishes it (before the app could listen); an own write a join dropped is re-issued
 * however many writes of the new id joins drop before the finish; no write under the old id past the restore point
 * leaves while the finish fails; and the list of what is left grows only with re-identifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { REISSUE_META } from '../../lib/reidentify.js';
import { CLAIM_META } from '../../lib/restore-claims.js';
import { VirtualClock } from '../sim/clock.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { allReissued, closeOpened, codes, interrupted, keepToClose, versionsOf } from '../support/reidentify-interrupted.js';
import { SimDisk } from '../support/sim-disk.js';

afterEach(closeOpened);

/** What reaches listeners attached once `openReplica` resolved (the app's first chance), over a few turns. */
async function openListening(storage: Parameters<typeof openReplica>[0]['storage']) {
  const r = keepToClose(await openReplica({ storage, speaks: SPEAKS_10 }));
  const errors: unknown[] = [];
  r.on('error', (e) => void errors.push(e));
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  return { r, errors };
}

describe('an open that finishes what a re-identification left', () => {
  it('tells RESTORED to a listener attached after openReplica resolved, and the re-issued writes are in the state it reads', async () => {
    const storage = memoryStorage();
    const { r, oldId } = await interrupted(storage, [2]);
    const newId = r.replicaId;
    await r.close(); // dies before any retry
    const { r: again, errors } = await openListening(storage);
    expect(again.replicaId).toBe(newId);
    await allReissued(again, oldId);
    expect(codes(errors), 'the app is told its replica was restored').toEqual(['RESTORED']);
    // Told once: the listener attached later, or a later open, hears nothing more.
    const late: unknown[] = [];
    again.on('error', (e) => void late.push(e));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(late).toEqual([]);
    await again.close();
    const { errors: third } = await openListening(storage);
    expect(third).toEqual([]);
  });

  it('a first listener that throws, or is removed before it heard, loses nothing for the next', async () => {
    const storage = memoryStorage();
    await (await interrupted(storage, [2])).r.close();
    const again = keepToClose(await openReplica({ storage, speaks: SPEAKS_10 }));
    const heard: string[] = [];
    again.on('error', () => void heard.push('removed'))();
    const controller = new AbortController();
    again.on('error', () => void heard.push('aborted'), { signal: controller.signal });
    controller.abort();
    again.on('error', (e) => {
      heard.push(...codes([e]).map((c) => `throws ${c}`));
      throw new Error('an app listener throwing');
    });
    again.on('error', (e) => void heard.push(...codes([e]).map((c) => `later ${c}`)));
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toEqual(['throws RESTORED']);
  });

  it('a restore claim stored by a join and resumed at open: RESTORED reaches a listener attached after', async () => {
    const storage = memoryStorage();
    await (await openReplica({ storage, speaks: SPEAKS_10 })).close();
    const r = await openReplica({ storage, speaks: SPEAKS_10 });
    const oldId = r.replicaId;
    const point = (await storage.getMeta<number>('seq')) ?? 0;
    await r.space('s').put('k1', 'since the restore');
    // What a join that saw the claim stored before the process died (restore-claims.ts): acted on at the next open.
    await storage.transact((tx) => tx.setMeta(CLAIM_META, { id: oldId, point }));
    await r.close();
    const { r: again, errors } = await openListening(storage);
    expect(again.replicaId).not.toBe(oldId);
    expect(await versionsOf(again, 'k1')).toEqual([[again.replicaId, 'since the restore']]);
    expect(codes(errors)).toEqual(['RESTORED']);
  });
});

describe('own writes a join dropped, with a re-issue left', () => {
  it("a write of the new id dropped in the old note's slot does not take the old write with it", async () => {
    const storage = memoryStorage();
    const { r, oldId, k2Seq } = await interrupted(storage, [2]);
    const newId = r.replicaId;
    // Writes of the new id until one lands in k2's note slot (the counter modulo 256: dropped-own.ts), which a peer
    // then supersedes (its context covers the dot): the join drops it and notes it.
    let w = await r.space('s').put('k5', 'new id 0');
    for (let i = 1; w.seq % 256 !== k2Seq % 256; i++) w = await r.space('s').put('k5', `new id ${i}`);
    await r.core.join('s', [['k5', { vs: [{ r: 'peer', n: 2, t: 2, c: 0, v: '"theirs over k5"' }], cc: { peer: 2, [newId]: w.seq } }]]);
    expect(await versionsOf(r, 'k5')).toEqual([['peer', 'theirs over k5']]);
    await r.core.refreshIdentity(); // the retry (a session's hello does it first)
    await allReissued(r, oldId);
    expect(await storage.getMeta(REISSUE_META), 'nothing left').toBeFalsy();
  });
});

describe('a finish left at a hello', () => {
  for (const by of ['the instance that re-identified, its retry failing once', 'the other tab, which never heard of it'] as const) {
    it(`holds the hello until done (${by}): a tab's write under the old id past the point never leaves under it`, async () => {
      const disk = new SimDisk({ timers: new VirtualClock() });
      let tab: Replica | undefined;
      const { r, f, oldId } = await interrupted(disk.instance(), [2], async () => {
        tab = keepToClose(await openReplica({ storage: disk.instance(), speaks: SPEAKS_10 }));
        await tab.space('s').put('k4', 'from the other tab meanwhile');
      });
      expect(await versionsOf(r, 'k4'), 'left under the old id by the failed pass').toEqual([[oldId, 'from the other tab meanwhile']]);
      const peer = keepToClose(await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 }));
      const seenByPeer: string[] = [];
      peer.core.events.on('change', (c) => void (c.key === 'k4' && seenByPeer.push(...c.rec.vs.map((v) => v.r))));
      peer.space('s');
      const connecting = by.startsWith('the other') ? tab! : r;
      connecting.space('s');
      if (connecting === r) f.arm(1); // the retry before the first hello fails
      const [ta, tb] = pairTransports();
      connecting.connect(ta, { backoff: { base: 1, max: 5 } });
      peer.connect(tb, { backoff: { base: 1, max: 5 } });
      for (let i = 0; i < 400 && !(await versionsOf(peer, 'k4')).length; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(seenByPeer, 'the old id never left with k4').not.toContain(oldId);
      expect(await versionsOf(peer, 'k4')).toEqual([[r.replicaId, 'from the other tab meanwhile']]);
    });
  }
});

describe('the list of what is left', () => {
  it('grows by one a re-identification, never by a failed retry; one finish re-issues what each left', async () => {
    const storage = memoryStorage();
    const { r, f, oldId } = await interrupted(storage, [2]);
    const left = async () => ((await storage.getMeta<unknown[]>(REISSUE_META)) ?? []).length;
    expect(await left()).toBe(1);
    for (let i = 0; i < 5; i++) {
      f.arm(1);
      await r.core.refreshIdentity();
    }
    expect(await left(), 'failed retries add nothing').toBe(1);
    const ids = [oldId, r.replicaId];
    for (let i = 0; i < 3; i++) {
      await r.space('s').put(`m${i}`, `under ${r.replicaId}`);
      f.arm(2);
      await r.core.reidentify(`peer-${i}`).catch(() => {});
      ids.push(r.replicaId);
      expect(await left()).toBe(i + 2);
    }
    await r.core.refreshIdentity();
    expect(await left()).toBe(0);
    await allReissued(r, oldId);
    for (let i = 0; i < 3; i++) expect(await versionsOf(r, `m${i}`)).toEqual([[r.replicaId, `under ${ids[i + 1]}`]]);
  });
});
