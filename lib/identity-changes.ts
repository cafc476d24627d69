/**
 * Changes of a replica's identity, one at a time: a re-identification after a restore (reidentify.ts), shown by a
 * peer's word or by a received state's counters (restore-claims.ts), and a new id after a relay refused ours. Each
 * waits for the one before, and one that finds the identity changed meanwhile (by another instance sharing the
 * storage, or by the change before it) does nothing.
 */
import type { Seen } from './epochs.js';
import { reidentify, renewIdentity, type IdentityOwner } from './reidentify.js';
import { CLAIM_META, type ClaimWatch, readClaim, type RestoreClaim } from './restore-claims.js';

/** What the identity changes reach of the replica core. */
export interface IdentityChangeHost {
  readonly owner: IdentityOwner;
  readonly claims: ClaimWatch;
  /** No other instance has shared the storage since the open (none can change the identity behind our back). */
  isAlone(): boolean;
  isClosed(): boolean;
  /** Adopts the identity the storage holds (another instance may have changed it). */
  refreshIdentity(): Promise<void>;
}

export class IdentityChanges {
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly host: IdentityChangeHost) {}

  /**
   * A received state named counters of ours that no dot of this storage's history can be (restore-claims.ts):
   * re-identify, re-issuing what was written since `claim.point`. Once per open; runs after the join that saw the
   * claim, which stored it.
   */
  actOnClaim(claim: RestoreClaim): Promise<void> {
    const { owner, claims } = this.host;
    claims.stop();
    // Another instance sharing the storage may have re-identified already (the claim then names a retired id). Alone,
    // nothing is read first: the re-identification starts (and stops the sessions) at once.
    const run = async () => {
      if (!this.host.isAlone()) await this.host.refreshIdentity();
      if (owner.identity().id === claim.id) await reidentify(owner, { point: claim.point });
    };
    return this.change(run).catch((e) => {
      if (!this.host.isClosed()) owner.events.emit('error', e);
    });
  }

  /** At open: a claim stored by a join whose re-identification did not run (a crash came first) runs now. */
  async resumeClaim(): Promise<void> {
    const claim = readClaim(await this.host.owner.storage.getMeta(CLAIM_META));
    if (claim && claim.id === this.host.owner.identity().id) await this.actOnClaim(claim);
  }

  /** `peer` holds a dot of ours that our storage lost (epochs.ts lostWrites): re-identify from the point it shows. */
  async reidentify(peer: string, claims: readonly Seen[]): Promise<void> {
    const { owner } = this.host;
    const id = owner.identity().id;
    await this.change(() => (owner.identity().id === id ? reidentify(owner, { peer, claims }) : undefined));
  }

  /** A relay refused our replicaId: a new one, nothing re-issued (reidentify.ts renewIdentity). */
  renewIdentity(): Promise<void> {
    return renewIdentity(this.host.owner);
  }

  private change(run: () => Promise<void> | undefined): Promise<void> {
    const next = this.last.then(() => (this.host.isClosed() ? undefined : run()));
    this.last = next.catch(() => {});
    return next;
  }
}
