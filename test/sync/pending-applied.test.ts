/**
 * The pending-writes map (lib/pending.ts) and records applied before they are durable — two ways its count passed a
 * write no peer held, found by the simulator's held-claims checks (test/sim/claims-check.ts; tabs 83 and mixed 192 with
 * SIM_PENDING=check:held-claims). The map hears of a record once it is durable, and of one applied before that
 * (`applied`), so that an acknowledgement past a key's durable entry does not clear it while a newer record of the key
 * waits for its fsync (the log read for sending skips the key meanwhile: its entry sits at the newer record's seq).
 *
 * - A newer record applied while the key was not counted yet (its own write not durable either, so not heard of) was
 *   not noted: the write then became durable and counted at its seq, an acknowledgement past that seq cleared it.
 * - A key kept so moved the floor to just below its entry's seq — but its own versions may lie lower (the entry is a
 *   join that kept them, or a write beside its own earlier sibling): the floor then passed them, and the key's next
 *   change dropped it from the count (and a reload would never count it).
 */
import { describe, expect, it } from 'vitest';
import type { ReplicaCore, StoredChange } from '../../lib/core.js';
import { PendingWrites } from '../../lib/pending.js';
import type { KeyRecord } from '../../lib/storage.js';

const ME = 'mine000000000000';
const THEM = 'them000000000000';

function map(): { pending: PendingWrites; core: { durableSeq: number } } {
  const core = {
    replicaId: ME,
    durableSeq: 0,
    isClosed: false,
    acks: { isWithheld: () => false },
    storage: { transact: async () => undefined },
    events: { emit: () => {} },
  };
  const pending = new PendingWrites(core as unknown as ReplicaCore, { shared: false, onCount: () => {}, onSpace: () => {} });
  return { pending, core };
}

/** The change event of a record of `key` at `seq` holding these versions (durable now). */
function change(core: { durableSeq: number }, key: string, seq: number, vs: Array<[string, number]>): StoredChange {
  core.durableSeq = Math.max(core.durableSeq, seq);
  const cc: Record<string, number> = {};
  for (const [r, n] of vs) cc[r] = Math.max(cc[r] ?? 0, n);
  const rec = { seq, vs: vs.map(([r, n]) => ({ r, n, t: 1, c: 0, v: new Uint8Array() })), cc } as unknown as KeyRecord;
  return { space: 's', key, rec, prev: undefined, origin: 'local' } as unknown as StoredChange;
}

describe('replica.pending and records applied before they are durable', () => {
  it('a newer record applied while the key was not counted yet keeps it counted past an acknowledgement below it', () => {
    const { pending, core } = map();
    // k written (seq 1), o written (seq 2), k joined with a peer's state (seq 3): all applied, none durable yet.
    pending.applied('s', 'k', 1);
    pending.applied('s', 'o', 2);
    pending.applied('s', 'k', 3);
    // 1 and 2 become durable; a log read now sends o and skips k (its entry is at 3, not durable): the peer acks 2.
    pending.changed(change(core, 'k', 1, [[ME, 1]]));
    pending.changed(change(core, 'o', 2, [[ME, 2]]));
    pending.acked('s', 2, 'peer');
    expect(pending.count, 'k: the peer was sent nothing of it').toBe(1);
    pending.changed(change(core, 'k', 3, [[ME, 1], [THEM, 1]]));
    expect(pending.count).toBe(1);
    pending.acked('s', 3, 'peer');
    expect(pending.count).toBe(0);
  });

  it('a key kept by an acknowledgement keeps the floor below its own versions, not only below its entry', () => {
    const { pending, core } = map();
    // k: our write (1), joined with a peer's (2, durable: counted at 2, our version 1 in it); o (3); a peer's newer
    // state of k joined at 4, applied and not durable yet.
    pending.changed(change(core, 'k', 1, [[ME, 1]]));
    pending.changed(change(core, 'k', 2, [[ME, 1], [THEM, 1]]));
    pending.changed(change(core, 'o', 3, [[ME, 3]]));
    pending.applied('s', 'k', 4);
    // The log read skips k (its entry is at 4): the peer acks 3, holding nothing of k.
    pending.acked('s', 3, 'peer');
    expect(pending.count).toBe(1);
    // The join at 4 is durable: it still holds our version 1, which no peer holds.
    pending.changed(change(core, 'k', 4, [[ME, 1], [THEM, 2]]));
    expect(pending.count, 'k: our version 1 is in no peer').toBe(1);
    pending.acked('s', 4, 'peer');
    expect(pending.count).toBe(0);
  });

  it('an acknowledgement below a key\'s entry but past our version in it does not move the floor past that version', () => {
    const { pending, core } = map();
    // k: our write (1), then a peer's concurrent write joined (2: our version 1 stays in it). A frame read before the
    // join sent the log up to 1 with k in it; one read after it sends nothing of k below 2: either way the peer acks 1
    // while k's entry is at 2 — here the latter, so the peer holds nothing of k.
    pending.changed(change(core, 'k', 1, [[ME, 1]]));
    pending.changed(change(core, 'k', 2, [[ME, 1], [THEM, 1]]));
    pending.acked('s', 1, 'peer');
    expect(pending.count, 'k: its entry (2) is past the acknowledgement').toBe(1);
    // Another concurrent write of the peer's joined: our version 1 is still in k, still in no peer.
    pending.changed(change(core, 'k', 3, [[ME, 1], [THEM, 2]]));
    expect(pending.count, 'k: the floor passed our version 1 and its next change dropped it').toBe(1);
    pending.acked('s', 3, 'peer');
    expect(pending.count).toBe(0);
  });
  // tabs 24 with storage jitter (SIM_JITTER=1): a relay's write of k0 (seq 13) and a join keeping it beside a peer's
  // version (seq 15) completed in the other order, so the map heard 15 first, then 13, and counted k0 back at 13; the log
  // held k0 at 15 only, a peer acknowledging up to 14 held nothing of it, and the count dropped it.
  it('a change heard after a newer one of the same key does not move the key back below its entry', () => {
    const { pending, core } = map();
    pending.applied('s', 'k', 1);
    pending.applied('s', 'o', 2);
    pending.applied('s', 'k', 3);
    // All durable; the join's completion (3) is heard before the write's (1).
    pending.changed(change(core, 'k', 3, [[ME, 1], [THEM, 1]]));
    pending.changed(change(core, 'o', 2, [[ME, 2]]));
    pending.changed(change(core, 'k', 1, [[ME, 1]]));
    expect(pending.count).toBe(2);
    // The log holds o at 2 and k at 3: a peer that read it up to 2 holds nothing of k.
    pending.acked('s', 2, 'peer');
    expect(pending.count, 'k: its entry is at 3').toBe(1);
    pending.acked('s', 3, 'peer');
    expect(pending.count).toBe(0);
  });
});
