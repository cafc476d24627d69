/**
 * A replica re-identifies (a peer holds writes its storage lost: restore detection, epochs.ts) while another
 * tab shares its storage. Every write the other tab makes under the old id past the restore point must end up
 * under the new id too, whether it committed while the re-identification was reading which keys to re-issue,
 * or after it committed but before that tab heard of it (its hint not delivered yet). Otherwise the old id's
 * counters past the restore point name two values (the lost write a peer holds, and the tab's), and the peer's
 * state drops the tab's write as covered (the simulator's mixed seed 406).
 */
import { describe, expect, it } from 'vitest';
import { openReplica, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { VirtualClock } from '../sim/clock.js';
import { SimDisk } from '../support/sim-disk.js';

/** `inner`, with a hook run once after its next `index()` read (before the caller goes on). */
function hooked(inner: StorageAdapter): StorageAdapter & { afterIndex?: () => Promise<void> } {
  const s: StorageAdapter & { afterIndex?: () => Promise<void> } = {
    open: () => inner.open(),
    transact: (fn) => inner.transact(fn),
    get: (space, key) => inner.get(space, key),
    getMeta: (name) => inner.getMeta(name),
    scan: (space, options) => inner.scan(space, options),
    readLog: (space, after, limit) => inner.readLog(space, after, limit),
    spaces: () => inner.spaces(),
    close: () => inner.close(),
    onExternalChange: (listener) => inner.onExternalChange!(listener),
    openedElsewhere: () => inner.openedElsewhere!(),
    async index(space) {
      const out = await inner.index(space);
      const hook = s.afterIndex;
      s.afterIndex = undefined;
      await hook?.();
      return out;
    },
  };
  return s;
}

async function twoTabs(): Promise<{ a: Replica; b: Replica; storageA: ReturnType<typeof hooked> }> {
  // Hints between tabs travel on these timers: the clock never advances, so tab b never hears of a's commits.
  const disk = new SimDisk({ timers: new VirtualClock() });
  const storageA = hooked(disk.instance());
  const a = await openReplica({ storage: storageA });
  const b = await openReplica({ storage: disk.instance() });
  return { a, b, storageA };
}

const dotsOf = async (r: Replica, key: string) => ((await r.space('s').get(key))?.versions ?? []).map((v) => v.replicaId);

describe('re-identification with another tab writing', () => {
  it('a write the other tab commits while the re-identification reads its keys is re-issued too', async () => {
    const { a, b, storageA } = await twoTabs();
    const oldId = a.replicaId;
    await a.space('s').put('k1', 'before');
    storageA.afterIndex = async () => void (await b.space('s').put('k2', 'from the other tab meanwhile'));
    await a.core.reidentify('a-peer');
    expect(a.replicaId).not.toBe(oldId);
    expect(await dotsOf(a, 'k1')).toEqual([a.replicaId]);
    expect(await dotsOf(a, 'k2')).toEqual([a.replicaId]);
    expect((await a.space('s').get('k2'))?.value).toBe('from the other tab meanwhile');
    await b.close();
    await a.close();
  });

  it('a tab that has not heard of the re-identification writes under the new id', async () => {
    const { a, b } = await twoTabs();
    const oldId = a.replicaId;
    await a.space('s').put('k1', 'before');
    await a.core.reidentify('a-peer');
    expect(b.replicaId).toBe(oldId); // no hint reached it
    await b.space('s').put('k3', 'from the stale tab');
    expect(await dotsOf(a, 'k3')).toEqual([a.replicaId]);
    expect(b.replicaId).toBe(a.replicaId);
    await b.close();
    await a.close();
  });
});
