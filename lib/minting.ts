/**
 * The replica a local write mints under, while that write computes its content (local-write.ts runs `produce`
 * inside it): what a typed value's helper that tags its own elements with dots reads to mint them.
 *
 * An add-wins `add(set, replicaId, …)` mints per-set tags, and two things of the write decide them:
 *
 * - **The floor**: the replica's log seq before this write (and above any counter of ours the key's context claims). A
 *   tag's counter goes above it, and the write's own dot goes above the tags it minted (local-write.ts), so every tag a
 *   replica mints is above every tag it minted before, in any key, whatever the set holds. A set's own context is not
 *   enough: a delete of the key empties it, and the first add after the delete would mint the tag the first add before
 *   it had — a peer away at the delete still holds the old set, and the join of the two keeps one item per tag.
 * - **The epoch**: a replica restored from an older copy of its storage mints again the counters (and seqs) its lost
 *   branch used; its log dots name a fresh epoch (epoch-points.ts), and so must its tags, or a set whose context saw
 *   the lost branch's tag covers the restored one's and drops the add. The epoch the write's own dot names (identity.ts
 *   mintEpoch), and none when the replica does not tag (nothing of the encoding changes).
 *
 * The helper is called by the app inside `space.update` with the replica id alone, so both come from here, and only for
 * that replica's id. Outside a write (a value computed apart and `put`), neither: tags go above the set's context only.
 *
 * `produce` is synchronous (space.ts `update`: `fn` must be), so one slot, set and restored around it, is the scope.
 */

interface Minter {
  readonly id: string;
  readonly ep: string | undefined;
  readonly floor: number;
  /** The replica's own delete stands among the key's versions: it has not written the key since (see `mintingAfterOwnDelete`). */
  readonly afterOwnDelete: boolean;
  /** The highest counter minted in this scope (the floor while none is). */
  top: number;
}

let current: Minter | undefined;

/**
 * Runs `fn` as a write of replica `id` whose dot names epoch `ep` (undefined: untagged) above log seq `floor`; returns
 * what `fn` returned, and the highest counter a helper minted in it (`floor` when none did).
 */
export function mintingWrite<T>(id: string, ep: string | undefined, floor: number, fn: () => T, afterOwnDelete = false): [T, number] {
  const outer = current;
  const scope: Minter = { id, ep, floor, afterOwnDelete, top: floor };
  current = scope;
  try {
    return [fn(), scope.top];
  } finally {
    current = outer;
  }
}

/** `mintingWrite` with no floor, for its value alone. */
export function mintingAs<T>(id: string, ep: string | undefined, fn: () => T): T {
  return mintingWrite(id, ep, 0, fn)[0];
}

/** The epoch a tag minted now by `replicaId` names: the running write's, when it is that replica's and tags. */
export function mintingEpoch(replicaId: string): string | undefined {
  return current !== undefined && current.id === replicaId ? current.ep : undefined;
}

/** The counter a tag minted now by `replicaId` goes above (besides its set's context): the running write's floor. */
export function mintingFloor(replicaId: string): number {
  return current !== undefined && current.id === replicaId ? current.floor : 0;
}

/**
 * Whether the running write is `replicaId`'s first to the key since its own delete of it, which still stands beside a
 * peer's write concurrent with it. The value the write reads is then that peer's, and what it holds of this replica is
 * from before the delete — a third peer's concurrent copy may hold more of it: a helper continuing its per-replica
 * entries (a counter's count) starts a new one instead (merges/counter.ts).
 */
export function mintingAfterOwnDelete(replicaId: string): boolean {
  return current !== undefined && current.id === replicaId && current.afterOwnDelete;
}

/** A helper minted counters of `replicaId` up to `n`: the running write's dot goes at or above it. */
export function noteMinted(replicaId: string, n: number): void {
  if (current !== undefined && current.id === replicaId && n > current.top) current.top = n;
}
