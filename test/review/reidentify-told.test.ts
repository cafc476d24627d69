/**
 * A re-identification (lib/reidentify.ts) tells the app RESTORED. The process may die at any commit of it: after its
 * first transaction (identity and re-issues from its log), or after the finish (the passes left, which clear the note
 * `reissuing`). Modelled as a storage whose transaction commits and whose caller never hears of it (the power went
 * between the disk's answer and the next turn); the storage is then opened anew. Either way the app hears RESTORED
 * (the instance that died, before it died, or the next open), and no write since the restore point is lost: a peer
 * that syncs with the reopened replica holds each under the new id, and the next write mints past them.
 * And rid48's other leftover, decided: a join under the old id (a tab that has not read the new identity) committing
 * after the finish notes only old-id drops no re-issue would take (its transaction reads the records as the finish
 * left them: no old-id dot past the point); a guard — a mutant whose finish skips the reread of the keys fails it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { REISSUE_META } from '../../lib/reidentify.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { allReissued, closeOpened, codes, interrupted, keepToClose, versionsOf } from '../support/reidentify-interrupted.js';
import { SimDisk } from '../support/sim-disk.js';
import { VirtualClock } from '../sim/clock.js';

afterEach(closeOpened);

/** `inner`, whose transaction `at` (counted from `arm`) commits and then never answers: the process died there. */
function dying(inner: StorageAdapter) {
  let count = 0;
  let at = 0;
  let died = false;
  const storage = new Proxy(inner, {
    get(target, name) {
      if (name === 'transact') {
        return (fn: Parameters<StorageAdapter['transact']>[0]) => {
          if (died) return new Promise(() => {});
          if (++count !== at) return target.transact(fn);
          return target.transact(fn).then(() => {
            died = true;
            return new Promise(() => {});
          });
        };
      }
      const v = Reflect.get(target, name) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, arm: (n: number) => void ((count = 0), (at = n)), died: () => died };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('the process dies at a commit of a re-identification', () => {
  for (const [at, when] of [
    [1, 'after its first transaction'],
    [2, 'after the finish, before it told'],
  ] as const) {
    it(`${when}: RESTORED is heard (before the death or at the next open), and no write since the restore is lost`, async () => {
      const inner = memoryStorage();
      const d = dying(inner);
      await (await openReplica({ storage: d.storage, speaks: SPEAKS_10 })).close();
      const r: Replica = await openReplica({ storage: d.storage, speaks: SPEAKS_10 }); // dies: never closed
      const heard: unknown[] = [];
      r.on('error', (e) => void heard.push(e));
      const oldId = r.replicaId;
      await r.space('s').put('k1', 'since the restore');
      const w2 = await r.space('s').put('k2', 'dropped by a join');
      await r.core.join('s', [['k2', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '"theirs"' }], cc: { peer: 1, [oldId]: w2.seq } }]]);
      d.arm(at);
      void r.core.reidentify('a-peer').catch(() => {});
      for (let i = 0; i < 50 && !d.died(); i++) await turns(1);
      expect(d.died(), `transaction ${at} committed`).toBe(true);
      await turns(3);
      if (at === 2) expect(await inner.getMeta(REISSUE_META), 'the finish committed').toBeFalsy();

      const again = keepToClose(await openReplica({ storage: inner, speaks: SPEAKS_10 }));
      again.on('error', (e) => void heard.push(e));
      await turns(3);
      expect(codes(heard), 'the app heard its replica was restored').toContain('RESTORED');
      expect(again.replicaId).not.toBe(oldId);
      await allReissued(again, oldId);

      // What a peer learns: every write since the restore, under the new id; a new write takes a dot past them.
      const peer = keepToClose(await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 }));
      peer.space('s');
      again.space('s');
      const [ta, tb] = pairTransports();
      again.connect(ta, { backoff: { base: 1, max: 5 } });
      peer.connect(tb, { backoff: { base: 1, max: 5 } });
      await again.space('s').put('k3', 'after the reopen');
      for (let i = 0; i < 400 && (await versionsOf(peer, 'k3')).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await versionsOf(peer, 'k1')).toEqual([[again.replicaId, 'since the restore']]);
      expect((await versionsOf(peer, 'k2')).sort()).toEqual([[again.replicaId, 'dropped by a join'], ['peer', 'theirs']].sort());
      expect(await versionsOf(peer, 'k3')).toEqual([[again.replicaId, 'after the reopen']]);
      const dots = [...(await again.space('s').get('k1'))!.versions, ...(await again.space('s').get('k2'))!.versions].filter((v) => v.replicaId === again.replicaId);
      const k3 = (await again.space("s").get('k3'))!.versions[0]!;
      for (const v of dots) expect(k3.counter, 'no dot of the new id minted twice').toBeGreaterThan(v.counter);
    });
  }
});

describe('a join under the old id that commits after the finish (a tab that has not read the new identity)', () => {
  it('drops nothing a re-issue would have to bring back: what it reads holds no old-id dot past the point', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() }); // hints never travel: the tab hears nothing
    let tab: Replica | undefined;
    const { r, oldId, outcome } = await interrupted(disk.instance(), [], async () => {
      tab = keepToClose(await openReplica({ storage: disk.instance(), speaks: SPEAKS_10 }));
      await tab.space('s').put('k4', 'from the other tab meanwhile');
    });
    expect(outcome).toBe('done');
    expect(await r.core.storage.getMeta(REISSUE_META), 'finished').toBeFalsy();
    expect(tab!.replicaId, 'the tab still writes as the old id in memory').toBe(oldId);
    // A peer whose context covers every old-id dot (the restore's lost writes): joined by the tab under the old id.
    const cc = { peer: 3, [oldId]: 1_000 };
    await tab!.core.join('s', [
      ['k1', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '"theirs over k1"' }], cc }],
      ['k4', { vs: [{ r: 'peer', n: 2, t: 2, c: 0, v: '"theirs over k4"' }], cc }],
    ]);
    const newId = r.replicaId;
    expect((await versionsOf(r, 'k1')).sort()).toEqual([[newId, 'since the restore'], ['peer', 'theirs over k1']].sort());
    expect((await versionsOf(r, 'k4')).sort()).toEqual([[newId, 'from the other tab meanwhile'], ['peer', 'theirs over k4']].sort());
  });
});
