// The epoch ancestry a replica knows (lib/epoch-points.ts, issue 10 stage 1): its own history's, and a peer's as its
// hello announces it and its chain frame completes it (epoch-chain.ts). Joins judge dots naming epochs by it; nothing
// stored or sent names one yet.
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { metAt11 } from '../support/epoch-peer.js';
import { synced } from './support.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';

describe('the epoch registry of a replica', () => {
  it('learns its own history whole, and a peer’s epochs from its hello and chain frame (the oldest one’s parent too)', async () => {
    // Every open speaks 11, so b tags from its first open: its chain goes to a peer with its first tagged dot.
    const speaks = [...PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS), EPOCH_DOTS];
    const storage = memoryStorage();
    const first = await openReplica({ storage: await metAt11(storage), speaks });
    await first.space('s').put('k', 1);
    await first.close();
    const b = await openReplica({ storage: await metAt11(storage), speaks });
    await b.space('s').put('k', 2);
    await b.close();
    const b3 = await openReplica({ storage: await metAt11(storage), speaks });
    const history = b3.core.history;
    expect(history).toHaveLength(3);
    const [[e1], [e2, from2], [e3, from3]] = history as [readonly [string, number], readonly [string, number], readonly [string, number]];
    expect(b3.core.epochs.parentOf(b3.replicaId, e1)).toEqual({ parent: '', fork: 0 });
    expect(b3.core.epochs.parentOf(b3.replicaId, e3)).toEqual({ parent: e2, fork: from3 });

    const a = await openReplica({ storage: memoryStorage(), speaks });
    expect(a.core.epochs.knows(b3.replicaId, e3)).toBe(false);
    // Chain frames go only where both speak protocol 11, which is not announced by default.
    const [ta, tb] = pairTransports();
    a.connect(ta);
    b3.connect(tb);
    await synced(a, b3);
    expect(a.core.epochs.parentOf(b3.replicaId, e2)).toEqual({ parent: e1, fork: from2 });
    expect(a.core.epochs.parentOf(b3.replicaId, e3)).toEqual({ parent: e2, fork: from3 });
    // Not in b's hello (its oldest epoch's parent), but in its chain frame (protocol 11).
    expect(a.core.epochs.parentOf(b3.replicaId, e1)).toEqual({ parent: '', fork: 0 });
    expect((await a.space('s').get('k'))?.value).toBe(2);
    await a.close();
    await b3.close();
  });
});
