/**
 * A relay's bound on the epoch records its clients teach it (docs/design/epochs-build.md, item 3). At protocol 11 a
 * client's hello, its EPOCHS frames and its frames' epoch tables teach up to MAX_REPLICA_RECORDS records of its own
 * epochs; stored, they would be loaded at every open. A client is free to choose its replicaId, so a client reconnecting
 * under fresh ids (an anonymous one binds nothing: principals.ts) could grow the relay's storage and its open time
 * without bound, the way principals.ts keeps owners from growing.
 *
 * So a relay keeps a client's records in memory only (`Epochs.hold`) while it stores nothing that names that client:
 * they judge the session's frames as any records do, and go when its last session ends. They are stored once a state
 * holding a version of that replica, or a context point of it, is about to be joined (`joining`, before the join's
 * transaction: transactions become durable in order, so the records first) — then they stay, as every stored state's
 * records must. A client whose records are known already (stored before, or learned) is not held. What a client can
 * make a relay store is then bounded by what it may write there; what it holds in memory, by its live sessions.
 * Links to our relay or between trusted relays are not held (their records name what they forward).
 */
import type { KeyState } from '../dvv.js';
import type { ReplicaCore } from '../core.js';

export class EpochHolds {
  /** Per session: the ids it holds (its client's; third replicas' its client was believed about, epoch-vouch.ts). */
  private readonly bySession = new Map<object, string[]>();

  constructor(private readonly core: ReplicaCore) {}

  /** At a client's hello, before its records are learned (none are held when some are known: stored or learned). */
  hold(session: object, peer: string): void {
    if (!this.core.epochs.hold(peer)) return;
    const ids = this.bySession.get(session);
    if (ids) ids.push(peer);
    else this.bySession.set(session, [peer]);
  }

  /** A session ended: its hold goes (the hub's removeSession). */
  release(session: object): void {
    const ids = this.bySession.get(session);
    if (ids === undefined) return;
    this.bySession.delete(session);
    for (const r of ids) this.core.epochs.release(r);
  }

  /**
   * States about to be joined: the records of every replica they name are kept, and stored ahead of the join when the
   * link speaks 11 (`store`; below it no state names an epoch, and records learned there wait for a protocol-11 store,
   * as a hello's did before: a default link stores nothing more).
   */
  joining(entries: ReadonlyArray<readonly [string, KeyState]>, store: boolean): void {
    if (this.bySession.size === 0) return;
    const reg = this.core.epochs;
    let kept = false;
    for (const [, state] of entries) {
      for (const v of state.vs) if (reg.keep(v.r)) kept = true;
      for (const r in state.pts ?? {}) if (reg.keep(r)) kept = true;
    }
    if (kept && store) void this.core.saveEpochs().catch(() => {});
  }
}
