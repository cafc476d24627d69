/**
 * Tombstone GC without resurrection. A relay that collects tombstones must not let a peer that was away
 * longer bring a deleted key back: for a key it does not hold, a version whose dot is at or below what it
 * acknowledged from that version's writer (its cursor into the writer's log) was seen here and collected —
 * refuse it. The refusal goes back to the peer as a state with no versions whose context covers the refused
 * dots, so the peer drops them too (a join removes a version its context covers and does not hold).
 */
import type { ReplicaCore } from '../core.js';
import type { StoredVersion } from '../dvv.js';
import type { Entry } from './messages.js';

export async function refuseCollected(core: ReplicaCore, space: string, entries: readonly Entry[]): Promise<{ kept: Entry[]; refused: Entry[] }> {
  const kept: Entry[] = [];
  const refused: Entry[] = [];
  for (const [key, state] of entries) {
    if (await core.storage.get(space, key)) {
      kept.push([key, state]);
      continue;
    }
    const vs: StoredVersion[] = [];
    const dropped: Record<string, number> = {};
    for (const v of state.vs) {
      if (v.n <= (await core.acknowledged(v.r, space))) dropped[v.r] = Math.max(dropped[v.r] ?? 0, v.n);
      else vs.push(v);
    }
    if (Object.keys(dropped).length === 0) kept.push([key, state]);
    else {
      refused.push([key, { vs: [], cc: dropped }]);
      if (vs.length > 0) kept.push([key, { vs, cc: state.cc }]);
    }
  }
  return { kept, refused };
}
