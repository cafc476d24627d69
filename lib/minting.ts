/**
 * The replica a local write mints under, while that write computes its content (local-write.ts runs `produce`
 * inside it): what a typed value's helper that tags its own elements with dots reads to name the write's epoch.
 *
 * An add-wins `add(set, replicaId, …)` mints per-set tags. A replica restored from an older copy of its storage
 * mints again the counters its lost branch used; its log dots name a fresh epoch (epoch-points.ts), and so must its
 * tags, or a set whose context saw the lost branch's tag covers the restored one's and drops the add. The helper is
 * called by the app inside `space.update` with the replica id alone, so the epoch comes from here: the epoch the
 * write's own dot names (identity.ts mintEpoch), only for that replica's id, and none when the replica does not tag
 * (nothing changes, byte for byte). Outside a write (a value computed apart and `put`), nothing: untagged.
 *
 * `produce` is synchronous (space.ts `update`: `fn` must be), so one slot, set and restored around it, is the scope.
 */

interface Minter {
  readonly id: string;
  readonly ep: string;
}

let current: Minter | undefined;

/** Runs `fn` as a write of replica `id` whose dot names epoch `ep` (no scope when `ep` is undefined: untagged). */
export function mintingAs<T>(id: string, ep: string | undefined, fn: () => T): T {
  const outer = current;
  current = ep === undefined ? undefined : { id, ep };
  try {
    return fn();
  } finally {
    current = outer;
  }
}

/** The epoch a tag minted now by `replicaId` names: the running write's, when it is that replica's and tags. */
export function mintingEpoch(replicaId: string): string | undefined {
  return current !== undefined && current.id === replicaId ? current.ep : undefined;
}
