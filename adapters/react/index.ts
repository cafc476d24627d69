/**
 * React bindings (`concord/react`; react ≥ 18 is an optional peer dependency), built on useSyncExternalStore:
 *
 *   import { useValue, useScan, useStatus, usePresence } from 'concord/react';
 *   const { value, loading } = useValue(space, 'todo/1');   // re-renders when that key changes, only then
 *   const { entries } = useScan(space, 'todo/');             // every live key under the prefix, in key order
 *   const status = useStatus(replica);                       // 'offline' | 'connecting' | 'syncing' | 'synced'
 *   const pending = usePending(replica);                     // local writes no relay or peer acknowledged yet
 *   const members = usePresence(space);                      // who is online in the space
 *
 * Each hook subscribes to exactly what it reads (one key, one prefix, the status or pending event, the space's presence)
 * and returns a snapshot that stays the same object until that changes, so components re-render on real
 * changes only. They work under StrictMode and need no Suspense (a first read shows `loading: true`). A read that
 * failed shows `error` until it is read again: at the replica's next 'synced' status, at a change, or on `retry()`.
 * Rendering starts nothing (no subscription, no presence timer): that waits for React's subscribe, after commit.
 * Writes go through the space as usual (`space.put`, `space.update`): subscribers see them at once.
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { Replica } from '../../lib/replica.js';
import type { SchemaKey, SchemaValue, SpaceSchema } from '../../lib/schema.js';
import type { Space } from '../../lib/space.js';
import type { PresenceMember } from '../../lib/sync/presence-hub.js';
import type { TypedSpace } from '../../lib/typed-space.js';
import type { ReplicaStatus } from '../../lib/types.js';
import { PresenceStore, ScanStore, StoreCache, ValueStore, type ScanSnapshot, type ValueSnapshot } from './stores.js';

export type { ValueSnapshot, ScanSnapshot, ScanEntry } from './stores.js';

const values = new StoreCache<string, ValueStore<unknown>>((space, key, evict) => new ValueStore(space, key, evict));
const scans = new StoreCache<string, ScanStore<unknown>>((space, prefix, evict) => new ScanStore(space, prefix, evict));
const presences = new StoreCache<'presence', PresenceStore>((space, _, evict) => new PresenceStore(space, evict));

/** One key of a space: its value and whole read, re-rendering only when that key changes (locally or remotely). */
export function useValue<S extends SpaceSchema, K extends SchemaKey<S>>(space: TypedSpace<S>, key: K): ValueSnapshot<SchemaValue<S, K>>;
export function useValue<T = unknown>(space: Space, key: string): ValueSnapshot<T>;
export function useValue(space: Space | TypedSpace<SpaceSchema>, key: string): ValueSnapshot<unknown> {
  const store = values.get(space as Space, key);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/** Every live key under a prefix, in key order; re-renders only when a key under the prefix changes. */
export function useScan<S extends SpaceSchema>(space: TypedSpace<S>, prefix?: string): ScanSnapshot<S[keyof S]>;
export function useScan<T = unknown>(space: Space, prefix?: string): ScanSnapshot<T>;
export function useScan(space: Space | TypedSpace<SpaceSchema>, prefix = ''): ScanSnapshot<unknown> {
  const store = scans.get(space as Space, prefix);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/** The replica's sync status; re-renders when it changes. */
export function useStatus(replica: Replica): ReplicaStatus {
  const subscribe = useCallback((onChange: () => void) => replica.on('status', onChange), [replica]);
  const get = useCallback(() => replica.status, [replica]);
  return useSyncExternalStore(subscribe, get, get);
}

/** `replica.pending`: keys holding a local write no relay or peer acknowledged yet; re-renders when it changes. */
export function usePending(replica: Replica): number {
  const subscribe = useCallback((onChange: () => void) => replica.on('pending', onChange), [replica]);
  const get = useCallback(() => replica.pending, [replica]);
  return useSyncExternalStore(subscribe, get, get);
}

/** Who is online in the space (this replica included once it called `space.presence.set`), sorted by id. */
export function usePresence(space: Space | TypedSpace<SpaceSchema>): readonly PresenceMember[] {
  const store = presences.get(space as Space, 'presence');
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
