/**
 * Who may speak for a replica, on a replica that serves others (a relay). A token names a principal (its
 * `sub`: a user); the first principal whose session says hello with a replicaId owns that id here, and a
 * session of another principal claiming it is refused (close 4409: the client takes a new id and comes back).
 * So a session's replicaId is authenticated, and what a replica delivered "itself" (restore detection,
 * epochs.ts) is what it delivered under its own principal: no client can make another replica re-identify.
 *
 * (Forwarding others' versions stays open, as chains of peers need: a forged version under another replica's
 * id can be shown as that replica's — the relay's `delivery` event tells the app who delivered it — but it
 * cannot make that replica lose later writes: a replica mints its dots above any counter of its own a key's
 * context claims, core.ts `write`.)
 */
import type { ReplicaCore } from '../core.js';

export class Principals {
  /** Owners found (misses are not kept: an anonymous client reconnecting under fresh ids must not grow this). */
  private readonly owners = new Map<string, string>();

  constructor(private readonly core: ReplicaCore) {}

  async owner(replicaId: string): Promise<string | undefined> {
    const cached = this.owners.get(replicaId);
    if (cached !== undefined) return cached;
    const stored = await this.core.storage.getMeta<string>('owner:' + replicaId);
    if (stored !== undefined) this.owners.set(replicaId, stored);
    return stored;
  }

  /** Whether a session of `principal` may say hello as `replicaId` (`claim`'s rule), binding nothing (epoch-vouch.ts). */
  async speaksFor(replicaId: string, principal: string): Promise<boolean> {
    const owner = await this.owner(replicaId);
    return principal === '' ? owner === undefined : owner === principal;
  }

  /**
   * Binds `replicaId` to `principal` on first sight; false when another principal owns it. Sessions without a
   * principal (a relay without a secret, tokens without `sub`) are one anonymous principal: nothing is bound
   * for them (binding would let anyone grow the relay's storage by reconnecting under fresh ids), and they may
   * claim any id no named principal owns.
   */
  async claim(replicaId: string, principal: string): Promise<boolean> {
    if (principal === '') return (await this.owner(replicaId)) === undefined;
    const owner = await this.owner(replicaId);
    if (owner !== undefined) return owner === principal;
    this.owners.set(replicaId, principal);
    await this.core.storage.transact((tx) => tx.setMeta('owner:' + replicaId, principal));
    return true;
  }
}
