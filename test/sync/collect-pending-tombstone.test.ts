/**
 * A collecting replica (a relay that also writes) must not collect a tombstone of its own that no peer has
 * acknowledged yet. Collected, the delete lives on only in the key's context, which names no version of ours:
 * replica.pending and `w.synced` (which read our versions in the key's record) then took the write for held, and a
 * peer's acknowledgement of a log that never carried the key resolved `w.synced` (simulator, gc-relay 46: a relay's
 * put and delete reported synced while no other node held them).
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { until } from './support.js';

const DAY = 24 * 3600 * 1000;

describe('tombstone collection and our unacknowledged deletes', () => {
  it('keeps a tombstone of ours until a peer acknowledged it, and the write counts pending meanwhile', async () => {
    let now = Date.now();
    const a = await openReplica({ storage: memoryStorage(), now: () => now, collectTombstones: true, gcGrace: DAY });
    const s = a.space('s');
    await s.put('k', 'v');
    const w = await s.delete('k');
    let synced = false;
    void w.synced.then(() => (synced = true));
    expect(a.pending).toBe(1);

    now += 2 * DAY;
    // No peer holds the delete: it is not collected, and it still counts.
    expect(await a.collectGarbage()).toBe(0);
    expect(a.pending).toBe(1);
    expect((await a.core.storage.get('s', 'k'))?.vs.map((v) => v.d)).toEqual([1]);
    await new Promise((r) => setTimeout(r, 20));
    expect(synced).toBe(false);

    // A peer takes it: then it is held, and collected at the next round.
    const b = await openReplica({ storage: memoryStorage(), now: () => now });
    b.space('s');
    const [ta, tb] = pairTransports();
    a.connect(ta, { antiEntropyInterval: 0 });
    b.connect(tb, { antiEntropyInterval: 0 });
    await w.synced;
    await until(() => a.pending === 0, 'the delete acknowledged');
    expect((await b.core.storage.get('s', 'k'))?.vs.map((v) => v.d)).toEqual([1]);
    expect(await a.collectGarbage()).toBe(1);
    expect((await a.core.storage.get('s', 'k'))?.vs).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});
