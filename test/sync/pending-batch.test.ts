// A commit of several keys tells its changes one by one (core.ts, reidentify.ts loop over them): the 'pending' event
// said the count after the first of them, so a relay that opened under a fresh id and re-issued two big writes in one
// commit said pending 1 while both were held by nobody else (simulator seeds withheld 21249 and 21727). A rise of the
// count is now told once the commit's changes all were.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { StoredVersion } from '../../lib/dvv.js';

const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

describe("the 'pending' event of a commit of several keys", () => {
  it('never says fewer keys than the commit left pending', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    open.push(r);
    r.space('s');
    const told: Array<[number, number]> = [];
    r.on('pending', (n) => told.push([n, r.pending]));
    // One join of two keys holding versions under our id (counted as ours until a peer acknowledges their entries):
    // one commit, two change events.
    const own = (n: number): StoredVersion => ({ r: r.replicaId, n, t: 1_000 + n, c: 0, v: JSON.stringify(n) }) as StoredVersion;
    await r.core.join('s', [
      ['a', { vs: [own(1)], cc: { [r.replicaId]: 1 } }],
      ['b', { vs: [own(2)], cc: { [r.replicaId]: 2 } }],
    ]);
    await new Promise((done) => setTimeout(done, 0));
    expect(r.pending).toBe(2);
    expect(told, 'each event as told, with the count read then').toEqual([[2, 2]]);
  });
});
